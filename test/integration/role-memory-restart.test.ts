import { ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { loadRoleMemory, saveRoleMemory } from "../../src/store/role-memory-repository.js";
import { brokerClients, collect, plain, stmt } from "../support/broker-client.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { openTestStore, withRawStore } from "../support/test-store.js";
import {
  postgresBinDir,
  replayedUpTo,
  startThrowawayPostgres,
  startThrowawayReplica,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";
import { until } from "../support/waits.js";

const hasPostgres = postgresBinDir() !== undefined;
const PASSWORD = "role-memory-restart-pw";
const ENV = { BERTH_HEALTH_INTERVAL_MS: "500" };

function reasonOf(err: unknown): string {
  const e = ConnectError.from(err);
  return e.findDetails(ErrorInfoSchema)[0]?.metadata.reason ?? e.message;
}

/**
 * The highest timeline Berth saw is in the store: a Berth restarted while the new primary is down
 * still fences the old primary that takes writes on its older timeline (in memory only, it would
 * send it writes: it is the only writable host it sees).
 */
describe.skipIf(!hasPostgres)("role memory across a Berth restart", () => {
  let old: ThrowawayPostgres;
  let promoted: ThrowawayPostgres;
  let b: TestBerth | undefined;

  beforeAll(async () => {
    old = await startThrowawayPostgres({ password: PASSWORD, conf: ["wal_keep_size='64MB'"] });
    promoted = await startThrowawayReplica(old);
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await promoted?.destroy();
    await old?.destroy();
  });

  const clientOf = (berth: TestBerth, id: string) => {
    const c = brokerClients(berth.url, berth.adminToken);
    return async (sql: string) => {
      const r = await collect(
        c.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt(sql), intent: Intent.WRITE },
          c.call,
        ),
      );
      return r.rows[0] ? Number(plain(r.rows[0].values[0])) : undefined;
    };
  };
  const hostOf = async (berth: TestBerth, id: string, port: number) =>
    (
      (await berth.api(`/api/connections/${id}/status`)).body.hosts as {
        port: number;
        fenced: boolean;
        timeline: number;
      }[]
    ).find((h) => h.port === port);

  it("a restarted Berth fences an old primary on a lower timeline while the new one is down", async () => {
    b = await startTestBerth(ENV);
    const created = await b.api("/api/connections", {
      body: {
        name: "restart-roles",
        type: "postgresql",
        server: "127.0.0.1",
        port: old.port,
        database: "postgres",
        username: "postgres",
        password: PASSWORD,
        // (TLS when offered: the throwaway servers offer none. Made weaker below, an endpoint change.)
        sslMode: "prefer",
        acquireTimeoutMs: 3000,
        replicas: [{ server: "127.0.0.1", port: promoted.port }],
      },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    let write = clientOf(b, id);
    await write("CREATE TABLE w (n int)");
    expect(await write("INSERT INTO w VALUES (1) RETURNING inet_server_port()")).toBe(old.port);

    // A split brain: the replica is promoted (timeline 2) while the old primary runs on (timeline 1).
    await replayedUpTo(old, promoted);
    await promoted.promote();
    const first = b;
    await until("the old primary is fenced", async () => (await hostOf(first, id, old.port))?.fenced);
    expect(await write("INSERT INTO w VALUES (2) RETURNING inet_server_port()")).toBe(promoted.port);
    await until("the highest timeline is in the store", () =>
      withRawStore(first.dataDir, (raw) =>
        raw.get<{ max_timeline: number }>(
          "SELECT max_timeline FROM connection_roles WHERE connection_id = ?",
          id,
        ),
      ).then((r) => Number(r?.max_timeline) === 2),
    );

    // Berth restarts while the new primary is down: the old one is the only host taking writes.
    await promoted.stop("immediate");
    const dataDir = b.dataDir;
    await b.close(true);
    b = await startTestBerth(ENV, { dataDir });
    write = clientOf(b, id);
    const refused = await write("INSERT INTO w VALUES (3) RETURNING inet_server_port()").catch(reasonOf);
    expect(refused).toBe("no_primary");
    expect(await hostOf(b, id, old.port)).toMatchObject({ fenced: true, timeline: 1 });
    expect(await old.sql("SELECT count(*) FROM w WHERE n = 3")).toBe("0");

    // The new primary back: writes go to it.
    await promoted.start();
    await until("writes go to the new primary", async () => {
      const port = await write("INSERT INTO w VALUES (4) RETURNING inet_server_port()").catch(
        () => undefined,
      );
      return port === promoted.port;
    });
    expect(await old.sql("SELECT count(*) FROM w WHERE n IN (3, 4)")).toBe("0");

    // The new primary down again: the old one is fenced by memory. An admin's reset forgets it (as
    // after rebuilding a cluster): the one writable host takes writes again, and the store's row goes.
    await promoted.stop("immediate");
    const after = b;
    await until("the old primary is fenced again", async () => (await hostOf(after, id, old.port))?.fenced);
    // (Until the checks see the new primary gone, a write may still be refused by it instead.)
    await until("writes are refused for want of a primary", async () => {
      const answer = await write("INSERT INTO w VALUES (5) RETURNING inet_server_port()").catch(reasonOf);
      expect(answer).not.toBe(old.port);
      return answer === "no_primary";
    });
    // A plain reset (the reflex while things look broken) keeps it: still no primary.
    const plain = await b.api(`/api/connections/${id}/reset`, { body: {} });
    expect(plain.status, plain.text).toBe(200);
    expect(await write("INSERT INTO w VALUES (5) RETURNING inet_server_port()").catch(reasonOf)).toBe(
      "no_primary",
    );
    const reset = await b.api(`/api/connections/${id}/reset`, { body: { forgetRoles: true } });
    expect(reset.status, reset.text).toBe(200);
    await until("writes go to the old primary after the reset", async () => {
      const port = await write("INSERT INTO w VALUES (6) RETURNING inet_server_port()").catch(
        () => undefined,
      );
      return port === old.port;
    });
    const stored = await withRawStore(b.dataDir, (raw) =>
      raw.get<{ max_timeline: number }>(
        "SELECT max_timeline FROM connection_roles WHERE connection_id = ?",
        id,
      ),
    );
    expect(Number(stored?.max_timeline ?? 1)).toBe(1);

    // Memory of timeline 2 again (the new primary back, then down): an endpoint change (credentials
    // given) forgets it, so the one writable host takes writes.
    await promoted.start();
    await until(
      "the promoted host is seen again",
      async () => (await hostOf(after, id, promoted.port))?.timeline === 2,
    );
    await promoted.stop("immediate");
    await until(
      "the old primary is fenced once more",
      async () => (await hostOf(after, id, old.port))?.fenced,
    );
    const current = (await b.api(`/api/connections/${id}`)).body;
    const moved = await b.api(`/api/connections/${id}`, {
      method: "PUT",
      body: {
        name: "restart-roles",
        type: "postgresql",
        server: "127.0.0.1",
        port: old.port,
        database: "postgres",
        username: "postgres",
        password: PASSWORD,
        // Same hosts, a weaker TLS mode: an endpoint change all the same (how credentials go).
        sslMode: "disable",
        acquireTimeoutMs: 3000,
        replicas: [{ server: "127.0.0.1", port: promoted.port }],
        version: current.version,
      },
    });
    expect(moved.status, moved.text).toBe(200);
    await until("writes go to the one writable host", async () => {
      const port = await write("INSERT INTO w VALUES (7) RETURNING inet_server_port()").catch(
        () => undefined,
      );
      return port === old.port;
    });
  }, 90_000);

  it("stores: the highest timeline never goes down, a bad host map reads as empty, rows go with the connection", async () => {
    let berth = b!;
    b = undefined;
    const { body } = await berth.api("/api/connections");
    const id = (body.connections ?? body.items ?? body)[0].id as string;
    // The store on its own (a SQLite store has one user at a time).
    const dataDir = berth.dataDir;
    await berth.close(true);
    const store = await openTestStore(dataDir);
    try {
      await saveRoleMemory(store.db, id, { maxTimeline: 7, writableSince: { "h:1": 3 } });
      await saveRoleMemory(store.db, id, { maxTimeline: 5, writableSince: { "h:1": 4 } });
      expect(await loadRoleMemory(store.db, id)).toEqual({ maxTimeline: 7, writableSince: { "h:1": 4 } });
      await withRawStore(berth.dataDir, (raw) =>
        raw.run(
          "UPDATE connection_roles SET writable_since = ? WHERE connection_id = ?",
          '{"h:1":"x","h:2":-1',
          id,
        ),
      );
      expect(await loadRoleMemory(store.db, id)).toEqual({ maxTimeline: 7, writableSince: {} });
      await withRawStore(berth.dataDir, (raw) =>
        raw.run(
          "UPDATE connection_roles SET writable_since = ? WHERE connection_id = ?",
          '{"h:1":"x","h:2":2}',
          id,
        ),
      );
      expect(await loadRoleMemory(store.db, id)).toEqual({ maxTimeline: 7, writableSince: { "h:2": 2 } });
    } finally {
      await store.close();
    }
    b = berth = await startTestBerth(ENV, { dataDir });
    expect((await berth.api(`/api/connections/${id}`, { method: "DELETE" })).status).toBeLessThan(300);
    const left = await withRawStore(berth.dataDir, (raw) =>
      raw.get("SELECT connection_id FROM connection_roles WHERE connection_id = ?", id),
    );
    expect(left).toBeUndefined();
  });
});
