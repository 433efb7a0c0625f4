import net, { createServer, type Socket, connect as tcpConnect } from "node:net";
import { performance } from "node:perf_hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");

/**
 * A loopback listener that records every connection it accepts and, when given an upstream,
 * relays it there: in front of the real PostgreSQL it shows whether Berth ever reached it.
 */
async function acceptRecorder(upstream?: { host: string; port: number }) {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    accepted++;
    sockets.add(client);
    client.on("error", () => {});
    client.on("close", () => sockets.delete(client));
    if (!upstream) return;
    const up = tcpConnect(upstream);
    sockets.add(up);
    up.on("error", () => client.destroy());
    up.on("close", () => client.destroy());
    client.on("close", () => up.destroy());
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const pgSpec = (server: string, port: number) => ({
  name: `tp-${Math.random().toString(36).slice(2)}`,
  type: "postgresql",
  server,
  port,
  database: LOCAL.postgres.database,
  username: LOCAL.postgres.user,
  password: "unused-with-trust",
  sslMode: "disable",
});

type Stage = { stage: string; outcome: string; reason?: string; message?: string; remedy?: string };
const stagesOf = (body: { details?: { stages?: Stage[] } }) => body.details?.stages ?? [];

/** A failed check names the dns stage, target_denied and the variables; nothing further ran. */
function expectDeniedAtDns(r: { status: number; text: string; body: { details?: { stages?: Stage[] } } }) {
  expect(r.status, r.text).toBe(422);
  const stages = stagesOf(r.body);
  const dns = stages.find((s) => s.stage === "dns");
  expect(dns).toMatchObject({ outcome: "failed", reason: "target_denied" });
  expect(dns?.remedy).toMatch(/BERTH_ALLOWED_TARGETS or BERTH_DENIED_TARGETS/);
  // Nothing after dns ran (validate's config and credentials stages come before it).
  for (const s of stages.slice(stages.indexOf(dns!) + 1)) expect(s.outcome).toBe("skipped");
  return dns!;
}

/** Execute on a saved connection; the typed error it ends in. */
async function executeError(b: TestBerth, id: string): Promise<ConnectError> {
  const c = brokerClients(b.url, b.adminToken);
  const err = await collect(
    c.broker.execute({ target: { case: "connectionId", value: id }, statement: stmt("SELECT 1") }, c.call),
  ).then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err, "Execute should have been refused").toBeDefined();
  return err!;
}

function expectTargetDenied(err: ConnectError) {
  expect(err.code, err.message).toBe(Code.Unavailable);
  expect(err.findDetails(ErrorInfoSchema)[0]?.metadata.reason).toBe("target_denied");
}

async function save(b: TestBerth, spec: Record<string, unknown>): Promise<string> {
  const created = await b.api("/api/connections", { body: spec });
  expect(created.status, created.text).toBe(201);
  return created.body.id;
}

/** Timings, ids and timestamps vary from call to call; nothing else may. */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (/^(requestId|request_id|durationMs|totalMs|checkedAt)$/.test(k)) continue;
      out[k] = comparable(v);
    }
    return out;
  }
  return value;
}

describe.skipIf(!hasPostgres)("BERTH_DENIED_TARGETS against the real PostgreSQL on 127.0.0.1", () => {
  let pgFront: Awaited<ReturnType<typeof acceptRecorder>>;
  let open: TestBerth;
  let denying: TestBerth;

  beforeAll(async () => {
    pgFront = await acceptRecorder({ host: LOCAL.postgres.host, port: LOCAL.postgres.port });
    [open, denying] = await Promise.all([
      startTestBerth(),
      startTestBerth({ BERTH_DENIED_TARGETS: "127.0.0.0/8", BERTH_HEALTH_INTERVAL_MS: "500" }),
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([open?.close(), denying?.close()]);
    await pgFront?.close();
  });

  it("without the rule, the same target is reached: the recorder sees Berth's connections", async () => {
    const before = pgFront.accepted;
    const r = await open.api("/api/connections/test", { body: pgSpec("127.0.0.1", pgFront.port) });
    expect(r.status, r.text).toBe(200);
    const id = await save(open, pgSpec("localhost", pgFront.port));
    const c = brokerClients(open.url, open.adminToken);
    const rows = await collect(
      c.broker.execute({ target: { case: "connectionId", value: id }, statement: stmt("SELECT 1") }, c.call),
    );
    expect(rows.rows).toHaveLength(1);
    expect(pgFront.accepted).toBeGreaterThan(before);
  });

  it("refuses the test, validate, Execute and health checks, and PostgreSQL never sees a connection", async () => {
    const before = pgFront.accepted;
    const unsaved = await denying.api("/api/connections/test", { body: pgSpec("127.0.0.1", pgFront.port) });
    expect(expectDeniedAtDns(unsaved).message).toBe(
      "Berth may not connect to 127.0.0.1: BERTH_DENIED_TARGETS denies it",
    );

    const id = await save(denying, pgSpec("127.0.0.1", pgFront.port));
    expectDeniedAtDns(await denying.api(`/api/connections/${id}/test`, { body: {} }));
    // Refused by policy, not unreachable: retrying will not help.
    expect((await denying.api(`/api/connections/${id}/status`)).body.status).toBe("failed");
    expectDeniedAtDns(await denying.api(`/api/connections/${id}/validate`, { body: {} }));
    expectTargetDenied(await executeError(denying, id));
    // The pool's health checks are held to the policy too, and say why the host is not used.
    await vi.waitFor(
      async () => {
        const status = await denying.api(`/api/connections/${id}/status`);
        expect(status.body.hosts[0]).toMatchObject({ status: "failed", lastErrorReason: "target_denied" });
      },
      { timeout: 5_000, interval: 100 },
    );
    expectTargetDenied(await executeError(denying, id));
    expect(pgFront.accepted).toBe(before);
  });

  it("refuses a name that resolves to a denied address (localhost), for the test and the pool", async () => {
    const before = pgFront.accepted;
    const r = await denying.api("/api/connections/test", { body: pgSpec("localhost", pgFront.port) });
    expect(expectDeniedAtDns(r).message).toBe(
      "Berth may not connect to localhost (127.0.0.1): BERTH_DENIED_TARGETS denies it",
    );
    const id = await save(denying, pgSpec("localhost", pgFront.port));
    expectTargetDenied(await executeError(denying, id));
    expect(pgFront.accepted).toBe(before);
  });

  it("answers a denied open port and a denied closed port identically, without touching either", async () => {
    const listener = await acceptRecorder();
    const spec = pgSpec("127.0.0.1", listener.port);
    const ask = async () => {
      const t0 = performance.now();
      const r = await denying.api("/api/connections/test", { body: { ...spec, timeoutMs: 10_000 } });
      return { ...r, ms: performance.now() - t0 };
    };
    const whileOpen = await ask();
    await listener.close();
    const whileClosed = await ask();
    expect(listener.accepted).toBe(0);
    expect(whileOpen.status).toBe(422);
    expect(whileClosed.status).toBe(whileOpen.status);
    expect(comparable(whileClosed.body)).toEqual(comparable(whileOpen.body));
    // Neither waits on the network: both answer long before any connect timeout could matter.
    expect(Math.abs(whileOpen.ms - whileClosed.ms)).toBeLessThan(1_000);
  });
});

describe.skipIf(!hasPostgres)("a replica the policy denies", () => {
  let primaryFront: Awaited<ReturnType<typeof acceptRecorder>>;
  let replicaFront: Awaited<ReturnType<typeof acceptRecorder>>;
  let b: TestBerth;
  beforeAll(async () => {
    const pgAddress = { host: LOCAL.postgres.host, port: LOCAL.postgres.port };
    [primaryFront, replicaFront] = await Promise.all([acceptRecorder(pgAddress), acceptRecorder(pgAddress)]);
    // The replica is named by a host name the policy denies; the primary by an allowed address.
    b = await startTestBerth({ BERTH_DENIED_TARGETS: "localhost", BERTH_HEALTH_INTERVAL_MS: "500" });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await primaryFront?.close();
    await replicaFront?.close();
  });

  it("is never connected to: reads are served elsewhere and its status says target_denied", async () => {
    const id = await save(b, {
      ...pgSpec("127.0.0.1", primaryFront.port),
      replicas: [{ server: "localhost", port: replicaFront.port }],
    });
    const c = brokerClients(b.url, b.adminToken);
    for (let i = 0; i < 3; i++) {
      const r = await collect(
        c.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1"), intent: Intent.READ },
          c.call,
        ),
      );
      expect(r.rows).toHaveLength(1);
    }
    await vi.waitFor(
      async () => {
        const status = await b.api(`/api/connections/${id}/status`);
        const replica = status.body.hosts.find((h: { role: string }) => h.role === "replica");
        expect(replica).toMatchObject({
          server: "localhost",
          status: "failed",
          lastErrorReason: "target_denied",
        });
      },
      { timeout: 5_000, interval: 100 },
    );
    expect(primaryFront.accepted).toBeGreaterThan(0);
    expect(replicaFront.accepted).toBe(0);
  });
});

describe.skipIf(!hasPostgres)("BERTH_ALLOWED_TARGETS that does not list the target", () => {
  let pgFront: Awaited<ReturnType<typeof acceptRecorder>>;
  let b: TestBerth;
  beforeAll(async () => {
    pgFront = await acceptRecorder({ host: LOCAL.postgres.host, port: LOCAL.postgres.port });
    b = await startTestBerth({ BERTH_ALLOWED_TARGETS: "10.0.0.0/8,*.db.internal" });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await pgFront?.close();
  });

  it("refuses the test and Execute; the database is never reached", async () => {
    const r = await b.api("/api/connections/test", { body: pgSpec("127.0.0.1", pgFront.port) });
    expect(expectDeniedAtDns(r).message).toBe(
      "Berth may not connect to 127.0.0.1: BERTH_ALLOWED_TARGETS does not list it",
    );
    const id = await save(b, pgSpec("127.0.0.1", pgFront.port));
    expectTargetDenied(await executeError(b, id));
    expect(pgFront.accepted).toBe(0);
  });
});

describe("the default denial of link-local and cloud metadata addresses", () => {
  let b: TestBerth;
  beforeAll(async () => {
    b = await startTestBerth();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
  });

  /** Every socket connect Berth's process starts while `run` runs, by its destination. */
  async function connectsDuring<T>(run: () => Promise<T>): Promise<{ result: T; destinations: string[] }> {
    const spy = vi.spyOn(net.Socket.prototype, "connect");
    try {
      const result = await run();
      return { result, destinations: spy.mock.calls.map((args) => JSON.stringify(args)) };
    } finally {
      spy.mockRestore();
    }
  }

  it.each([
    ["169.254.169.254", "Berth may not connect to 169.254.169.254"],
    ["::ffff:169.254.169.254", "Berth may not connect to ::ffff:169.254.169.254"],
    ["fd00:ec2::254", "Berth may not connect to fd00:ec2::254"],
    ["100.100.100.200", "Berth may not connect to 100.100.100.200"],
    ["metadata.google.internal", "Berth may not connect to metadata.google.internal"],
  ])("refuses %s at once, before any packet is sent", async (server, message) => {
    const t0 = performance.now();
    const { result: r, destinations } = await connectsDuring(() =>
      b.api("/api/connections/test", { body: { ...pgSpec(server, 80), timeoutMs: 30_000 } }),
    );
    const ms = performance.now() - t0;
    expect(expectDeniedAtDns(r).message).toBe(
      `${message}: link-local and cloud metadata addresses are denied by default`,
    );
    // A 30 s bound, answered at once and not as a timeout: nothing waited on the network.
    expect(ms).toBeLessThan(2_000);
    // The only sockets opened were the test's own call to Berth.
    expect(destinations.filter((d) => !d.includes(String(new URL(b.url).port)))).toEqual([]);
  });

  it("refuses Execute on a saved connection to the metadata address the same way", async () => {
    const id = await save(b, pgSpec("169.254.169.254", 80));
    const t0 = performance.now();
    const { result: err, destinations } = await connectsDuring(() => executeError(b, id));
    expectTargetDenied(err);
    expect(err.message).toMatch(/link-local and cloud metadata addresses are denied by default/);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(destinations.filter((d) => d.includes("169.254"))).toEqual([]);
  });
});
