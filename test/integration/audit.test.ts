import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Berth, startBerth } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { ADMIN_PASSWORD } from "../support/test-berth.js";
import { dropTestStore, testStoreEnv, withRawStore } from "../support/test-store.js";

const CANARY = "CANARY-audit-pw-51d7e0";
let dataDir: string;
let berth: Berth;
let token = "";

async function start(): Promise<void> {
  const config = loadConfig({
    BERTH_PORT: "0",
    BERTH_DATA_DIR: dataDir,
    BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
    BERTH_LOG_LEVEL: "silent",
    ...(await testStoreEnv(dataDir)),
  });
  berth = await startBerth(config, { logDestination: new Writable({ write: (_c, _e, cb) => cb() }) });
  token = (
    await api("/api/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD }, token: null })
  ).body.token;
}

async function api(
  path: string,
  init: { method?: string; body?: unknown; token?: string | null; requestId?: string } = {},
) {
  const t = init.token === undefined ? token : init.token;
  const res = await fetch(berth.url + path, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      "content-type": "application/json",
      ...(t ? { authorization: `Bearer ${t}` } : {}),
      ...(init.requestId ? { "x-request-id": init.requestId } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

/** Raw SQL on the store, beside Berth. */
function sql(statement: string, ...params: unknown[]): Promise<number> {
  return withRawStore(dataDir, (raw) => raw.run(statement, ...params));
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "berth-audit-"));
  await start();
});
afterAll(async () => {
  await berth?.close();
  await rm(dataDir, { recursive: true, force: true });
  await dropTestStore(dataDir);
});

describe("the audit log", () => {
  it("records sign-ins, changes and denials, one event per denied call, with no secret", async () => {
    await api("/api/auth/login", { body: { username: "admin", password: "wrong-password" }, token: null });
    const created = await api("/api/connections", {
      body: {
        name: "audited",
        type: "postgresql",
        server: "127.0.0.1",
        port: 1,
        database: "d",
        username: "u",
        password: CANARY,
      },
    });
    const id = created.body.id as string;
    await api(`/api/connections/${id}/test`, { body: { timeoutMs: 500 } });
    const member = await api("/api/users", { body: { username: "mallory", password: "mallory-password" } });
    const mtoken = (
      await api("/api/auth/login", {
        body: { username: "mallory", password: "mallory-password" },
        token: null,
      })
    ).body.token;
    const denied = await api(`/api/connections/${id}`, { token: mtoken, requestId: "denied-call-1" });
    expect(denied.status).toBe(404);

    const events = (await api("/api/audit?pageSize=1000")).body.events as Record<string, string>[];
    const actions = events.map((e) => `${e.action}:${e.outcome}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        "berth.v1.AuthService/Login:denied",
        "berth.v1.AuthService/Login:ok",
        "berth.v1.ConnectionService/CreateConnection:ok",
        "berth.v1.ConnectionService/TestConnection:failed",
        "berth.v1.UserService/CreateUser:ok",
      ]),
    );
    const create = events.find((e) => e.action === "berth.v1.ConnectionService/CreateConnection")!;
    expect(create).toMatchObject({ target: id, actorName: "admin", transport: "rest" });
    const forDenied = events.filter((e) => e.requestId === "denied-call-1");
    expect(forDenied).toHaveLength(1);
    expect(forDenied[0]).toMatchObject({ outcome: "denied", actorId: member.body.id, target: id });
    expect(JSON.stringify(events)).not.toContain(CANARY);
    // Members may not read it.
    expect((await api("/api/audit", { token: mtoken })).status).toBe(403);
  });

  it("verifies, survives a restart, and names the first broken link after tampering", async () => {
    expect((await api("/api/audit/verify", { body: {} })).body).toMatchObject({
      ok: true,
      firstBrokenSeq: null,
    });
    await berth.close();
    await start();
    await api("/api/auth/me");
    const after = await api("/api/audit/verify", { body: {} });
    expect(after.body.ok).toBe(true);
    expect(after.body.checked).toBeGreaterThan(5);

    // Edit one event: its own hash no longer matches.
    const victim = 3;
    await sql("update audit_events set reason = 'nothing to see' where seq = ?", victim);
    const v = (await api("/api/audit/verify", { body: {} })).body;
    expect(v).toMatchObject({ ok: false, firstBrokenSeq: victim });
    expect(v.problem).toMatch(/edited/);
  });

  it("names a deleted or reordered event", async () => {
    // A fresh chain for each case: drop everything and let new events accrue.
    await sql("delete from audit_events");
    for (let i = 0; i < 5; i++) await api("/api/auth/me");
    const seqs = (await api("/api/audit?pageSize=1000")).body.events.map(
      (e: { seq: number }) => e.seq,
    ) as number[];
    await sql("delete from audit_events where seq = ?", seqs[2]);
    let v = (await api("/api/audit/verify", { body: {} })).body;
    expect(v).toMatchObject({ ok: false, firstBrokenSeq: seqs[3] });
    expect(v.problem).toMatch(/removed or reordered/);

    await sql("delete from audit_events");
    for (let i = 0; i < 5; i++) await api("/api/auth/me");
    const rows = (await api("/api/audit?pageSize=1000")).body.events.map(
      (e: { seq: number }) => e.seq,
    ) as number[];
    // Swap the places of two events (their sequence numbers).
    await sql("update audit_events set seq = -1 where seq = ?", rows[1]);
    await sql("update audit_events set seq = ? where seq = ?", rows[1], rows[2]);
    await sql("update audit_events set seq = ? where seq = -1", rows[2]);
    v = (await api("/api/audit/verify", { body: {} })).body;
    expect(v).toMatchObject({ ok: false, firstBrokenSeq: rows[1] });
  });

  it("fails the call when its event cannot be written", async () => {
    await sql("alter table audit_events rename to audit_events_gone");
    try {
      const r = await api("/api/auth/me");
      expect(r.status).toBe(500);
      expect(r.body.error).toBe("internal");
    } finally {
      await sql("alter table audit_events_gone rename to audit_events");
    }
  });
});
