import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AuditLog, createAuditLog } from "../../src/audit/audit-log.js";
import { checkpointData, eventHash, type HashedFields } from "../../src/audit/chain.js";
import { openAuditExport } from "../../src/audit/export.js";
import { type LocalKeyring, openKeyringFile } from "../../src/crypto/local-keyring.js";
import { VaultTransit } from "../../src/crypto/vault-transit.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import type { Store } from "../../src/store/store.js";
import { sampleAuditEvent } from "../support/audit-events.js";
import { brokerClients } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth } from "../support/test-berth.js";
import { dropTestStore, openTestStore, withRawStore } from "../support/test-store.js";
import { startVaultDouble } from "../support/vault-transit-double.js";

/**
 * The keyed audit chain against a real store (SQLite, or PostgreSQL in the postgres project) and keyring: every way of tampering the issue
 * names is caught by Verify — an edit, a reorder, a deletion in the middle, the newest events
 * truncated back before the last checkpoint, and a whole chain recomputed with plain SHA-256 by
 * someone without the key — and a checkpoint file that was altered is reported.
 */
let dir: string;
let store: Store;
let keys: LocalKeyring;
let audit: AuditLog;
let checkpointFile: string;
/** The log's clock when set (events 1..5 are appended in 2000, so retention can cut them honestly); else now. */
let clockAt: Date | undefined;

const event = sampleAuditEvent;

/** Raw SQL on the store, as someone with write access to it (not through Berth). */
function sql(statement: string, ...params: unknown[]): Promise<number> {
  return withRawStore(dir, (raw) => raw.run(statement, ...params));
}

async function freshLog(): Promise<void> {
  await audit?.close();
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (dir) await dropTestStore(dir);
  dir = await mkdtemp(join(tmpdir(), "berth-chain-"));
  store = await openTestStore(dir);
  keys = await openKeyringFile(dir);
  checkpointFile = join(dir, "audit-checkpoints.jsonl");
  // Checkpoints after every 4 events; no timer (the test writes them when it needs one).
  audit = createAuditLog(store.db, {
    keys,
    clock: () => clockAt ?? new Date(),
    checkpoints: { file: checkpointFile, everyEvents: 4, intervalMs: 0 },
  });
  for (let i = 1; i <= 10; i++) {
    clockAt = i <= 5 ? new Date(Date.UTC(2000, 0, i)) : undefined;
    await audit.append(event(i));
  }
}

beforeEach(freshLog);
afterAll(async () => {
  await audit?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
  await dropTestStore(dir);
});

describe("the keyed audit chain", () => {
  it("verifies an untouched chain, names the key version, and checkpoints every N events", async () => {
    const r = await audit.verify();
    expect(r).toMatchObject({ ok: true, checked: 10, unsigned: 0, checkpointsChecked: 2 });
    expect(r.signedBy).toEqual([{ provider: "local", version: 1, events: 10, firstSeq: 1, lastSeq: 10 }]);
    const lines = (await readFile(checkpointFile, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual([4, 8]);
    expect(lines[0]).toMatchObject({ keyVersion: 1, mac: expect.stringMatching(/^berth:v1:/) });
  });

  it("stays one chain when several writers share the store (as instances in shared mode do)", async () => {
    // A second and third log on the same store: each appends after the head it reads, races the
    // others for the next seq, and re-reads the head when it loses.
    const others = [createAuditLog(store.db, { keys }), createAuditLog(store.db, { keys })];
    await Promise.all(
      [audit, ...others].flatMap((log, w) =>
        Array.from({ length: 40 }, (_, i) => log.append({ ...event(100 + i), actorId: `writer-${w}` })),
      ),
    );
    const r = await audit.verify();
    expect(r).toMatchObject({ ok: true, checked: 130 });
    const rows = await store.db
      .selectFrom("audit_events")
      .select(["seq", "actor_id"])
      .orderBy("seq")
      .execute();
    expect(rows.map((x) => x.seq)).toEqual(Array.from({ length: 130 }, (_, i) => i + 1));
    for (const w of [0, 1, 2]) expect(rows.filter((x) => x.actor_id === `writer-${w}`)).toHaveLength(40);
    await Promise.all(others.map((o) => o.close()));
  });

  it("detects an edited event", async () => {
    await sql("update audit_events set outcome = 'denied' where seq = 6");
    expect(await audit.verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: 6,
      problem: expect.stringMatching(/edited/),
    });
  });

  it("detects two events reordered", async () => {
    await sql("update audit_events set seq = -1 where seq = 3");
    await sql("update audit_events set seq = 3 where seq = 4");
    await sql("update audit_events set seq = 4 where seq = -1");
    expect(await audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3 });
  });

  it("detects an event deleted in the middle", async () => {
    await sql("delete from audit_events where seq = 5");
    expect(await audit.verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: 6,
      problem: expect.stringMatching(/removed or reordered/),
    });
  });

  it("detects the newest events truncated back before the last checkpoint", async () => {
    // Events 9 and 10 follow the checkpoint at 8; removing 7..10 leaves a chain that is whole in itself.
    await sql("delete from audit_events where seq >= 7");
    const r = await audit.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 7 });
    expect(r.problem).toMatch(/seq 8.*past the chain's end at seq 6: the newest events were removed/);
  });

  it("detects a chain recomputed with plain SHA-256 by someone without the key", async () => {
    await sql("update audit_events set reason = 'nothing happened' where seq = 2");
    await recomputePlainChain({ stripMacs: false });
    expect(await audit.verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: 2,
      problem: expect.stringMatching(/MAC does not match/),
    });
    // Stripping every MAC as well makes the chain look like one from before keyed links: the
    // checkpoints (signed, outside the store) no longer match it.
    await recomputePlainChain({ stripMacs: true });
    const r = await audit.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 4 });
    expect(r.problem).toMatch(/checkpoint line 1 \(seq 4\) does not match the chain's hash/);
  });

  it("reports a checkpoint file that does not match", async () => {
    const text = await readFile(checkpointFile, "utf8");
    const [first, second] = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // A forged head (the MAC no longer covers it).
    await writeFile(
      checkpointFile,
      `${JSON.stringify({ ...first, head: "f".repeat(64) })}\n${JSON.stringify(second)}\n`,
    );
    let r = await audit.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 4 });
    expect(r.problem).toMatch(/checkpoint line 1 \(seq 4\) does not carry a valid MAC/);
    // A line that is not a checkpoint at all.
    await writeFile(checkpointFile, `${text}garbage\n`);
    r = await audit.verify();
    expect(r).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/checkpoint line 3 is not a checkpoint/),
    });
  });

  it("verifies events signed before and after a key rotation, and names both versions", async () => {
    await keys.rotate();
    for (let i = 11; i <= 13; i++) await audit.append(event(i));
    const r = await audit.verify();
    expect(r).toMatchObject({ ok: true, checked: 13 });
    expect(r.signedBy).toEqual([
      { provider: "local", version: 1, events: 10, firstSeq: 1, lastSeq: 10 },
      { provider: "local", version: 2, events: 3, firstSeq: 11, lastSeq: 13 },
    ]);
    // Reopened from the keyring file (as after a restart): the same.
    const reopened = createAuditLog(store.db, {
      keys: await openKeyringFile(dir),
      checkpoints: { file: checkpointFile, everyEvents: 4, intervalMs: 0 },
    });
    expect(await reopened.verify()).toMatchObject({ ok: true, checked: 13 });
  });

  it("keeps verifying from the retention anchor after old events are pruned", async () => {
    expect(await audit.prune("2001-01-01T00:00:00.000Z")).toBe(5);
    // The checkpoint at 8, and the retention cut's own line at 5 (the anchor).
    expect(await audit.verify()).toMatchObject({ ok: true, checked: 5, checkpointsChecked: 2 });
    // Moving the anchor (to hide more of the head) breaks its MAC.
    await sql("update audit_anchor set seq = 6");
    expect(await audit.verify()).toMatchObject({ ok: false, problem: expect.stringMatching(/anchor/) });
  });

  it("signs the published head with the audit key", async () => {
    const h = await audit.head();
    expect(h).toMatchObject({ seq: 10, keyVersion: 1 });
    expect(await keys.verifyMac(checkpointData(h.seq, h.head, h.time), h.mac)).toBe(true);
    expect(await keys.verifyMac(checkpointData(h.seq - 1, h.head, h.time), h.mac)).toBe(false);
  });

  it("copies every event to a JSON-lines export", async () => {
    const file = join(dir, "export.jsonl");
    const exported = openAuditExport(`file:${file}`, (err) => {
      throw err;
    })!;
    const log = createAuditLog(store.db, { keys, export: exported });
    await log.append(event(11));
    await log.append(event(12));
    await log.close();
    const lines = (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toMatchObject([
      {
        type: "berth.audit",
        seq: 11,
        actorId: "user-11",
        keyVersion: 1,
        mac: expect.stringMatching(/^berth:v1:/),
      },
      { seq: 12, requestId: "req-12" },
    ]);
  });
});

/** What an attacker with the store but not the key can do: re-hash every link from the start. */
function recomputePlainChain(options: { stripMacs: boolean }): Promise<void> {
  return withRawStore(dir, async (raw) => {
    const rows = await raw.all<HashedFields & { seq: number }>("select * from audit_events order by seq");
    let prev = "0".repeat(64);
    for (const row of rows) {
      const hash = eventHash(prev, row);
      await raw.run("update audit_events set prev_hash = ?, hash = ? where seq = ?", prev, hash, row.seq);
      if (options.stripMacs)
        await raw.run("update audit_events set mac = '', key_version = 0 where seq = ?", row.seq);
      prev = hash;
    }
  });
}

/** A trigger that refuses lease.open events, as a full or broken store would. */
const NO_LEASES = {
  sqlite: {
    create:
      "create trigger no_leases before insert on audit_events when new.action = 'lease.open' begin select raise(abort, 'audit store full'); end",
    drop: "drop trigger no_leases",
  },
  postgres: {
    create: `create function no_leases() returns trigger language plpgsql as $$ begin
         if new.action = 'lease.open' then raise exception 'audit store full'; end if; return new; end $$;
       create trigger no_leases before insert on audit_events for each row execute function no_leases()`,
    drop: "drop trigger no_leases on audit_events; drop function no_leases()",
  },
} as const;

describe("audit MACs through Vault transit (the transit double)", () => {
  it("MACs with the latest version, verifies across a rotation, and rejects a forged MAC", async () => {
    const vault = await startVaultDouble();
    try {
      vault.createKey("berth");
      const transit = new VaultTransit({
        address: vault.url,
        token: vault.token,
        mount: "transit",
        keyName: "berth",
        timeoutMs: 1_000,
        retries: 0,
      });
      const data = Buffer.from("berth audit event|1|abc");
      const v1 = await transit.mac(data);
      expect(v1).toMatch(/^vault:v1:/);
      await transit.rotate();
      const v2 = await transit.mac(data);
      expect(v2).toMatch(/^vault:v2:/);
      expect(await transit.verifyMac(data, v1)).toBe(true);
      expect(await transit.verifyMac(data, v2)).toBe(true);
      expect(await transit.verifyMac(Buffer.from("berth audit event|2|abc"), v2)).toBe(false);
      expect(await transit.verifyMac(data, "vault:v2:AAAA")).toBe(false);
      expect(vault.requests.map((r) => r.path)).toContain("/v1/transit/hmac/berth");
      expect(vault.requests.map((r) => r.path)).toContain("/v1/transit/verify/berth");
    } finally {
      await vault.close();
    }
  });
});

const hasPostgres = await serviceAvailable("postgres");

describe.runIf(hasPostgres)("a Berth with checkpoints, and audit writes that fail", () => {
  let b: Awaited<ReturnType<typeof startTestBerth>>;
  let client: ReturnType<typeof brokerClients>;
  let id = "";
  beforeAll(async () => {
    b = await startTestBerth({ BERTH_AUDIT_CHECKPOINT_EVERY: "1" });
    client = brokerClients(b.url, b.adminToken);
    const { connection } = await client.connections.createConnection(
      {
        spec: {
          name: "audited",
          type: Engine.POSTGRESQL,
          server: "127.0.0.1",
          port: LOCAL.postgres.port,
          database: "test",
          username: "postgres",
          password: "",
        },
      },
      client.call,
    );
    id = connection!.id;
  });
  afterAll(async () => {
    await b?.close();
  });

  it("publishes a signed head, checkpoints to the file, and verifies", async () => {
    const head = (await b.api("/api/audit/head")).body;
    expect(head).toMatchObject({
      seq: expect.any(Number),
      keyVersion: 1,
      mac: expect.stringMatching(/^berth:v1:/),
    });
    const lines = (await readFile(join(b.dataDir, "audit-checkpoints.jsonl"), "utf8")).trim().split("\n");
    expect(JSON.parse(lines.at(-1)!).seq).toBeGreaterThan(0);
    const v = (await b.api("/api/audit/verify", { body: {} })).body;
    expect(v).toMatchObject({ ok: true, unsigned: 0, signedBy: [{ provider: "local", version: 1 }] });
    expect(v.checkpointsChecked).toBeGreaterThan(0);
  });

  it("fails a lease open whose audit event cannot be written, and frees its session", async () => {
    const inUse = () => b.berth.dataPlane.pools.all().reduce((n, p) => n + p.stats().inUse, 0);
    // A lease opens and is released (the pool is warm); then lease.open events cannot be written.
    const { lease } = await client.broker.acquireLease({ connectionId: id }, client.call);
    await client.broker.releaseLease({ leaseId: lease!.id }, client.call);
    await withRawStore(b.dataDir, (raw) => raw.run(NO_LEASES[raw.dialect].create));
    try {
      const err = await client.broker
        .acquireLease({ connectionId: id }, client.call)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Internal);
      expect(b.berth.dataPlane.leases.active).toBe(0);
      expect(inUse()).toBe(0);
    } finally {
      await withRawStore(b.dataDir, (raw) => raw.run(NO_LEASES[raw.dialect].drop));
    }
    // Once audit writes work again, so do leases.
    const { lease: again } = await client.broker.acquireLease({ connectionId: id }, client.call);
    await client.broker.releaseLease({ leaseId: again!.id }, client.call);
  });

  it("publishes the retention anchor with the head, and Verify names it", async () => {
    expect((await b.api("/api/audit/head")).body).toMatchObject({ anchor: null });
    expect((await b.api("/api/audit/verify", { body: {} })).body).toMatchObject({
      anchor: null,
      anchorProof: null,
    });
    // An anchor written into the store by hand (history deleted outside Berth): a monitor polling the
    // head sees the anchor move; Verify names it and finds no proof for it.
    const first = await withRawStore(b.dataDir, (raw) =>
      raw.get<{ seq: number; hash: string; mac: string }>(
        "select seq, hash, mac from audit_events order by seq limit 1",
      ),
    );
    await withRawStore(b.dataDir, async (raw) => {
      await raw.run("delete from audit_events where seq <= ?", first!.seq);
      await raw.run(
        "insert into audit_anchor (id, seq, hash, at, mac) values (1, ?, ?, ?, ?)",
        first!.seq,
        first!.hash,
        "2026-01-01T00:00:00.000Z",
        first!.mac,
      );
    });
    const anchor = { seq: first!.seq, hash: first!.hash, time: "2026-01-01T00:00:00.000Z", mac: first!.mac };
    expect((await b.api("/api/audit/head")).body).toMatchObject({ anchor });
    expect((await b.api("/api/audit/verify", { body: {} })).body).toMatchObject({
      ok: false,
      anchor,
      anchorProof: null,
      problem: expect.stringMatching(/retention anchor .* is not proven by a checkpoint/),
    });
  });
});
