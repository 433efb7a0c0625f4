import { rm } from "node:fs/promises";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createUser,
  type FrontDoorClientOptions,
  failureFrom,
  failureOf,
  firstAuthRequest,
  frontDoorClient,
  type PgFailure,
  startupMessage,
} from "../support/frontdoor-pg.js";
import { authCode, passwordMessage, RawPgSocket } from "../support/frontdoor-raw.js";
import { serviceAvailable } from "../support/services.js";
import { findValues, storeFiles } from "../support/store-bytes.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  freePort,
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";
import { until } from "../support/waits.js";

/**
 * Canaries at the PostgreSQL front door (issue 12, "Done when": no password, token or database
 * credential in logs, audit, errors or the store). Every secret that crosses the new port, or that
 * Berth uses behind it, is a distinctive value; after sign-ins that succeed and fail (SCRAM and
 * cleartext), errors and revocations, none may appear in Berth's logs, the audit log, anything a
 * client received, or any byte of the data directory. The SCRAM verifiers Berth keeps are derived
 * values, not the secrets, and may be stored.
 */
const hasPostgres = await serviceAvailable("postgres");
const hasBinaries = postgresBinDir() !== undefined;
const METRICS_TOKEN = "metrics-token-frontdoor-canaries";

const C = {
  /** The database role's password: the connection's stored credential. */
  dbPassword: "CANARY-dbpw-5e8c1a7d",
  /** A connection whose stored password the database refuses. */
  dbWrong: "CANARY-dbwrong-2b9f4e61",
  /** A connection to a port where no database listens. */
  dbDown: "CANARY-dbdown-8c27f5a0",
  userPassword: "CANARY-userpw-93d0c2ab",
  /** Set over REST while the user is connected (which signs the user out). */
  userNewPassword: "CANARY-userpw2-7a41e0f3",
  legacyPassword: "CANARY-legacypw-0c6b9d25",
  lockedPassword: "CANARY-lockedpw-f19e3b72",
  wrongScram: "CANARY-wrongscram-6f1e8b34",
  wrongClear: "CANARY-wrongclear-48ad0e97",
  wrongUnknown: "CANARY-wrongunknown-d35b7c10",
  wrongLocked: "CANARY-wronglocked-9a0c6e15",
  /** A password sent in clear where SCRAM was asked (a broken or naive client). */
  misplaced: "CANARY-misplaced-a1f09c3e",
};
/** Service tokens are canaries too: their random part, less the last four characters a forged copy changes. */
const tokenCanaries: string[] = [];
const canaries = () => [...Object.values(C), ...tokenCanaries];

let t: TestBerth;
let closed = false;
let cluster: ThrowawayPostgres;
let fdId = "";
let userId = "";
let svc = { token: "", id: "" };
let clearSvc = { token: "", id: "" };

/** Everything any front-door client received, byte for byte, and every error it was told. */
const received: Buffer[] = [];
const failures: PgFailure[] = [];
/** REST answers read after the sign-ins (not the one-time token creation answers). */
const restTexts: string[] = [];

beforeAll(async () => {
  if (!hasPostgres || !hasBinaries) return;
  cluster = await startThrowawayPostgres({ password: "canary-suite-superuser-pw" });
  await cluster.sql(`CREATE ROLE fd_canary_role LOGIN PASSWORD '${C.dbPassword}'`);
  t = await startTestBerth({
    BERTH_PG_PORT: "0",
    BERTH_LOG_LEVEL: "trace",
    BERTH_LOGIN_FAILURE_LIMIT: "3",
    BERTH_LOGIN_FAILURE_DELAY_MS: "0",
    BERTH_CONNECT_TIMEOUT_MS: "1000",
    BERTH_METRICS_TOKEN: METRICS_TOKEN,
  });
  const connection = async (name: string, password: string, port = cluster.port) => {
    const r = await t.api("/api/connections", {
      body: {
        name,
        type: "postgresql",
        server: cluster.host,
        port,
        database: "postgres",
        username: "fd_canary_role",
        password,
        maxPoolSize: 2,
        acquireTimeoutMs: 2000,
      },
    });
    expect(r.status, r.text).toBe(201);
    return r.body.id as string;
  };
  fdId = await connection("fd-canary", C.dbPassword);
  const wrongId = await connection("fd-canary-wrong", C.dbWrong);
  const downId = await connection("fd-canary-down", C.dbDown, await freePort());
  userId = await createUser(t, "canary-user", C.userPassword, { [fdId]: "user" });
  await createUser(t, "canary-legacy", C.legacyPassword, {
    [fdId]: "user",
    [wrongId]: "user",
    [downId]: "user",
  });
  await createUser(t, "canary-locked", C.lockedPassword, { [fdId]: "user" });
  const token = async (name: string) => {
    const r = await t.api("/api/tokens", { body: { name, connectionIds: [fdId], accessLevel: "user" } });
    expect(r.status).toBe(201);
    tokenCanaries.push((r.body.token as string).slice("berth_t_".length, -4));
    return { token: r.body.token as string, id: r.body.serviceToken.id as string };
  };
  svc = await token("canary-svc");
  clearSvc = await token("canary-svc-clear");
}, 120_000);
afterAll(async () => {
  if (!closed) await t?.close();
  await cluster?.destroy();
});

/** A front-door client whose every received byte is kept, and whose errors are too. */
function client(o: FrontDoorClientOptions) {
  const c = frontDoorClient(t, o);
  const stream = (c as unknown as { connection: { stream: NodeJS.ReadableStream } }).connection.stream;
  stream.on("data", (d: Buffer) => received.push(Buffer.from(d)));
  return c;
}

async function signedIn(o: FrontDoorClientOptions) {
  const c = client(o);
  await c.connect();
  return c;
}

async function refused(o: FrontDoorClientOptions): Promise<PgFailure> {
  const c = client(o);
  const f = await failureFrom(c.connect());
  failures.push(f);
  await c.end().catch(() => {});
  return f;
}

function dropVerifier(table: "users" | "service_tokens", column: "username" | "name", name: string): void {
  const db = new SQLite(join(t.dataDir, "berth.sqlite"));
  db.prepare(`update ${table} set scram_verifier = null where ${column} = ?`).run(name);
  db.close();
}

const ready = hasPostgres && hasBinaries;

describe.skipIf(!ready)("sign-ins through the front door, with canary secrets", () => {
  it("SCRAM: a user and a service token sign in (Berth signs in to the database with the canary role password); wrong secrets are refused", async () => {
    const u = await signedIn({ user: "canary-user", password: C.userPassword, database: "fd-canary" });
    expect((await u.query("SELECT current_user AS who")).rows).toEqual([{ who: "fd_canary_role" }]);
    await u.end();
    const s = await signedIn({ user: "canary-svc", password: svc.token, database: "fd-canary" });
    expect((await s.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await s.end();
    expect((await refused({ user: "canary-user", password: C.wrongScram, database: "fd-canary" })).code).toBe(
      "28P01",
    );
    const forged = `${svc.token.slice(0, -4)}AAAA`;
    expect((await refused({ user: "canary-svc", password: forged, database: "fd-canary" })).code).toBe(
      "28P01",
    );
    expect(
      (await refused({ user: "canary-nobody", password: C.wrongUnknown, database: "fd-canary" })).code,
    ).toBe("28P01");
  });

  it("cleartext (no verifier yet, on loopback): a user's and a token's wrong and right secrets travel in clear", async () => {
    dropVerifier("users", "username", "canary-legacy");
    dropVerifier("service_tokens", "name", "canary-svc-clear");
    const port = t.berth.pgPort!;
    expect(
      await firstAuthRequest("127.0.0.1", port, { user: "canary-legacy", database: "fd-canary" }),
    ).toEqual({
      type: "R",
      code: 3,
    });
    expect(
      await firstAuthRequest("127.0.0.1", port, { user: "canary-svc-clear", database: "fd-canary" }),
    ).toEqual({
      type: "R",
      code: 3,
    });
    expect(
      (await refused({ user: "canary-legacy", password: C.wrongClear, database: "fd-canary" })).code,
    ).toBe("28P01");
    const forged = `${clearSvc.token.slice(0, -4)}AAAA`;
    expect((await refused({ user: "canary-svc-clear", password: forged, database: "fd-canary" })).code).toBe(
      "28P01",
    );
    const l = await signedIn({ user: "canary-legacy", password: C.legacyPassword, database: "fd-canary" });
    await l.query("SELECT 1");
    await l.end();
    const s = await signedIn({ user: "canary-svc-clear", password: clearSvc.token, database: "fd-canary" });
    await s.query("SELECT 1");
    await s.end();
    // The cleartext sign-ins made the verifiers (stored: derived values, not the secrets).
    await until(
      "verifiers to be made",
      async () =>
        (await firstAuthRequest("127.0.0.1", port, { user: "canary-legacy", database: "fd-canary" })).code ===
          10 &&
        (await firstAuthRequest("127.0.0.1", port, { user: "canary-svc-clear", database: "fd-canary" }))
          .code === 10,
    );
  });

  it("a password sent in clear where SCRAM was asked is refused without being echoed", async () => {
    const s = await RawPgSocket.open(t.berth.pgPort!);
    s.send(startupMessage({ user: "canary-user", database: "fd-canary" }));
    await s.waitFor("the SASL request", (r) => authCode(r) !== undefined);
    expect(authCode(s.received)).toBe(10);
    s.send(passwordMessage(C.misplaced));
    await s.closedWithin();
    received.push(s.received);
    expect(s.error()?.get("S")).toBe("FATAL");
    expect(s.error()?.get("M")).not.toContain(C.misplaced);
  });

  it("the sign-in throttle: wrong passwords, then the right one while locked", async () => {
    for (let i = 0; i < 3; i++)
      expect(
        (await refused({ user: "canary-locked", password: `${C.wrongLocked}-${i}`, database: "fd-canary" }))
          .code,
      ).toBe("28P01");
    expect(
      (await refused({ user: "canary-locked", password: C.lockedPassword, database: "fd-canary" })).code,
    ).toBe("28000");
  });
});

describe.skipIf(!ready)("errors behind the front door", () => {
  it("the database refuses the stored password; the database is down; an unknown connection", async () => {
    const legacy = { user: "canary-legacy", password: C.legacyPassword };
    const wrong = await refused({ ...legacy, database: "fd-canary-wrong" });
    expect(wrong.severity).toBe("FATAL");
    const down = await refused({ ...legacy, database: "fd-canary-down" });
    expect(down.severity).toBe("FATAL");
    expect((await refused({ ...legacy, database: "fd-canary-nowhere" })).code).toBe("3D000");
  });

  it("a failing statement, and a backend terminated mid-transaction (08006 with the server's text)", async () => {
    const c = await signedIn({ user: "canary-legacy", password: C.legacyPassword, database: "fd-canary" });
    failures.push(await failureFrom(c.query("SELECT * FROM no_such_table_here")));
    await c.query("BEGIN");
    const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    await cluster.sql(`SELECT pg_terminate_backend(${pid})`);
    const lost = await failureFrom(c.query("SELECT 1"));
    failures.push(lost);
    expect(lost.code).toBe("08006");
    await c.query("ROLLBACK").catch((err) => failures.push(failureOf(err)));
    expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await c.end();
    failures.push(...c.errors);
  });
});

describe.skipIf(!ready)("revocation at the front door", () => {
  it("a password changed over REST and a token revoked end their open clients with 57P01", async () => {
    const u = await signedIn({ user: "canary-user", password: C.userPassword, database: "fd-canary" });
    const s = await signedIn({ user: "canary-svc", password: svc.token, database: "fd-canary" });
    await u.query("SELECT 1");
    await s.query("BEGIN");
    const ended = (c: typeof u) => new Promise<void>((resolve) => c.once("end", () => resolve()));
    const both = Promise.all([ended(u), ended(s)]);
    const changed = await t.api(`/api/users/${userId}`, {
      method: "PATCH",
      body: { password: C.userNewPassword },
    });
    expect(changed.status).toBe(200);
    restTexts.push(changed.text);
    const revoked = await t.api(`/api/tokens/${svc.id}`, { method: "DELETE" });
    expect(revoked.status).toBeLessThan(300);
    restTexts.push(revoked.text);
    await both;
    failures.push(...u.errors, ...s.errors);
    expect(u.errors.map((e) => e.code)).toContain("57P01");
    expect(s.errors.map((e) => e.code)).toContain("57P01");
    expect(
      (await refused({ user: "canary-user", password: C.userPassword, database: "fd-canary" })).code,
    ).toBe("28P01");
    expect((await refused({ user: "canary-svc", password: svc.token, database: "fd-canary" })).code).toBe(
      "28P01",
    );
    const again = await signedIn({ user: "canary-user", password: C.userNewPassword, database: "fd-canary" });
    await again.end();
  });
});

describe.skipIf(!ready)("no canary anywhere", () => {
  it("not in Berth's logs, the audit log, REST answers, /metrics, or anything a client received", async () => {
    await until("the front door's events to be audited", async () => {
      const events = (await t.api("/api/audit?pageSize=1000")).body.events as Record<string, string>[];
      return (
        events.some((e) => e.action === "frontdoor.denied" && e.reason === "sign_in_locked") &&
        events.filter((e) => e.action === "frontdoor.close").length >= 8
      );
    });
    for (const path of [
      "/api/audit?pageSize=1000",
      "/api/users",
      "/api/tokens",
      "/api/connections",
      `/api/connections/${fdId}`,
      `/api/connections/${fdId}/status`,
    ])
      restTexts.push((await t.api(path)).text);
    const metrics = await fetch(`${t.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(metrics.status).toBe(200);
    restTexts.push(await metrics.text());

    expect(received.length).toBeGreaterThan(20);
    expect(failures.length).toBeGreaterThan(10);
    expect(t.logs.length).toBeGreaterThan(10);
    const sources = [
      { name: "logs", bytes: Buffer.from(t.logs.join("\n")) },
      { name: "REST and audit", bytes: Buffer.from(restTexts.join("\n")) },
      { name: "client bytes", bytes: Buffer.concat(received) },
      { name: "client errors", bytes: Buffer.from(JSON.stringify(failures)) },
    ];
    expect(findValues(sources, canaries())).toEqual([]);
    // The scan finds a canary where there is one (the suite's own control).
    expect(
      findValues([{ name: "control", bytes: Buffer.from(`x${C.dbPassword}y`) }], canaries()),
    ).not.toEqual([]);
  });

  it("not in any byte of the data directory (SQLite, -wal, -shm, keyring), live and after shutdown", async () => {
    const live = await storeFiles(t.dataDir);
    expect(live.map((f) => f.name)).toEqual(expect.arrayContaining(["berth.sqlite"]));
    expect(findValues(live, canaries())).toEqual([]);
    await t.close(true);
    closed = true;
    const after = await storeFiles(t.dataDir);
    expect(findValues(after, canaries())).toEqual([]);
    // Stored all the same: the verifiers the cleartext sign-ins made.
    const db = new SQLite(join(t.dataDir, "berth.sqlite"), { readonly: true });
    const legacy = db.prepare("select scram_verifier from users where username = 'canary-legacy'").get() as {
      scram_verifier: string | null;
    };
    db.close();
    expect(legacy.scram_verifier).toMatch(/^SCRAM-SHA-256\$/);
    await rm(t.dataDir, { recursive: true, force: true });
  });
});
