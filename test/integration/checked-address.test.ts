import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { defaultTargetRules } from "../../src/config/target-rules.js";
import { Credentials } from "../../src/connections/settings.js";
import { guardDriver } from "../../src/connections/target-guard.js";
import { createTargetPolicy, TargetDeniedError } from "../../src/connections/target-policy.js";
import { PLAIN } from "../../src/connections/tls-plan.js";
import type { ConnectParams, Driver, DriverSession, QueryChunk } from "../../src/drivers/driver.js";
import { mysqlDriver } from "../../src/engines/mysql/driver.js";
import { postgresDriver } from "../../src/engines/postgresql/driver.js";
import { LOCAL, serviceAvailable } from "../support/services.js";

const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");

// A name no resolver answers: a driver that looked it up instead of using the address would fail.
const UNRESOLVABLE = "berth-checked-address.invalid";
const OPTIONS = { maxRows: 0, batchBytes: 65536 };

const paramsFor = (engine: "postgres" | "mariadb", host: string, address?: string): ConnectParams => ({
  host,
  ...(address ? { address } : {}),
  port: LOCAL[engine].port,
  database: LOCAL[engine].database,
  credentials: new Credentials(LOCAL[engine].user, "", undefined),
  tls: PLAIN,
  connectTimeoutMs: 4000,
  engineOptions: {
    instanceName: "",
    oracleSid: "",
    strictEncryption: false,
    allowCleartextPassword: false,
    frontDoorPoolMode: "transaction",
    maxReplicaLagMs: 0,
  },
});

async function drain(chunks: AsyncIterable<QueryChunk>): Promise<void> {
  for await (const _ of chunks);
}

/**
 * The driver side of "resolve once, check, connect to the checked address": given an address, a
 * driver opens its sockets there — the session's and the cancel request's — and never looks the
 * name up again (which is what a DNS-rebinding attacker would answer differently).
 */
describe.each([
  {
    engine: "postgres" as const,
    driver: postgresDriver,
    available: hasPostgres,
    sleep: "SELECT pg_sleep(20)",
    running: async () => {
      const c = new pg.Client({ ...LOCAL.postgres });
      await c.connect();
      try {
        const r = await c.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)' AND state = 'active'",
        );
        return r.rows[0].n as number;
      } finally {
        await c.end();
      }
    },
  },
  {
    engine: "mariadb" as const,
    driver: mysqlDriver,
    available: hasMariadb,
    sleep: "SELECT SLEEP(20)",
    running: async () => {
      const c = await mysql.createConnection({ ...LOCAL.mariadb });
      try {
        const [rows] = await c.query(
          "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE info = 'SELECT SLEEP(20)'",
        );
        return Number((rows as { n: number }[])[0]!.n);
      } finally {
        await c.end();
      }
    },
  },
])("$engine driver given a checked address", ({ engine, driver, available, sleep, running }) => {
  let session: DriverSession | undefined;
  beforeAll(async () => {
    if (available) session = await driver.connect(paramsFor(engine, UNRESOLVABLE, "127.0.0.1"));
  });
  afterAll(async () => {
    await session?.close();
  });

  it.skipIf(!available)("connects to the address, not to the name", async () => {
    expect(await session!.serverVersion()).not.toBe("");
    // Control: by name alone, the same parameters do not get anywhere.
    const byName = await driver.connect(paramsFor(engine, UNRESOLVABLE)).then(
      (s) => s.close().then(() => "connected"),
      (e: unknown) => driver.describeError(e).reason,
    );
    expect(byName).toBe("host_not_found");
  });

  it.skipIf(!available)("sends the cancel request to the same address", async () => {
    const started = performance.now();
    const statement = drain(session!.query(sleep, [], OPTIONS)).then(
      () => "finished",
      (e: unknown) => driver.describeError(e).reason,
    );
    await vi.waitFor(async () => expect(await running()).toBe(1), { timeout: 5_000, interval: 50 });
    await session!.cancel();
    const outcome = await statement;
    // MariaDB's SLEEP returns early when killed; PostgreSQL reports the cancel.
    expect(["cancelled", "finished"]).toContain(outcome);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe.skipIf(!hasPostgres)("a guarded driver resolves once and connects to what it checked", () => {
  it("asks the resolver once per session and connects to its answer", async () => {
    const asked: string[] = [];
    // A resolver that would answer a metadata address the second time: a rebinding attack.
    const answers = [["127.0.0.1"], ["169.254.169.254"]];
    const policy = createTargetPolicy(defaultTargetRules(), async (name) => {
      asked.push(name);
      return answers[asked.length - 1] ?? ["169.254.169.254"];
    });
    const seen: ConnectParams[] = [];
    const recording: Driver = {
      ...postgresDriver,
      connect: (p) => {
        seen.push(p);
        return postgresDriver.connect(p);
      },
    };
    const guarded = guardDriver(recording, policy);
    const s = await guarded.connect(paramsFor("postgres", "rebinding.example"));
    await s.serverVersion();
    await s.close();
    expect(asked).toEqual(["rebinding.example"]);
    expect(seen.map((p) => [p.host, p.address])).toEqual([["rebinding.example", "127.0.0.1"]]);
    // The next session asks again, gets the metadata address, and is refused before connecting.
    const refused = await guarded.connect(paramsFor("postgres", "rebinding.example")).catch((e) => e);
    expect(refused).toBeInstanceOf(TargetDeniedError);
    expect(guarded.describeError(refused)).toMatchObject({ reason: "target_denied" });
    expect(seen).toHaveLength(1);
  });

  it("re-checks an address a caller already resolved", async () => {
    const guarded = guardDriver(postgresDriver, createTargetPolicy());
    const err = await guarded
      .connect({ ...paramsFor("postgres", "looks-fine.example"), address: "169.254.169.254" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TargetDeniedError);
  });
});
