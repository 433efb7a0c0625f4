import { join } from "node:path";
import SQLite from "better-sqlite3";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPgConnection,
  createUser,
  failureFrom,
  frontDoorClient,
  startupMessage,
} from "../support/frontdoor-pg.js";
import {
  authCode,
  cancelRequest,
  errorFields,
  frontendMessage,
  GSSENC_REQUEST_CODE,
  parseMessages,
  passwordMessage,
  RawPgSocket,
  SSL_REQUEST_CODE,
  saslInitialResponse,
  untypedPacket,
} from "../support/frontdoor-raw.js";
import { runningWithMarker } from "../support/pg-activity.js";
import { serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * The front door attacked by a stranger (issue 12, "Done when"): input that could hang or crash
 * it, before and after sign-in. Each gets a FATAL (08P01 or the like) or a closed socket, within a
 * bound; and the same Berth serves a normal client afterwards.
 */
const hasPostgres = await serviceAvailable("postgres");
const STARTUP_TIMEOUT_MS = 1_000;

let t: TestBerth;
let fdId = "";
const port = () => t.berth.pgPort!;
const inUse = () => t.berth.dataPlane.pools.poolsOf(fdId).reduce((n, p) => n + p.stats().inUse, 0);

beforeAll(async () => {
  if (!hasPostgres) return;
  t = await startTestBerth({
    BERTH_PG_PORT: "0",
    BERTH_HEADERS_TIMEOUT_MS: String(STARTUP_TIMEOUT_MS),
    BERTH_LOGIN_FAILURE_DELAY_MS: "0",
  });
  fdId = await createPgConnection(t, "fd", { maxPoolSize: 2, acquireTimeoutMs: 3000 });
  await createUser(t, "legacy", "legacy-password-0001", { [fdId]: "user" });
  await createUser(t, "gone", "gone-password-00001", { [fdId]: "user" });
}, 60_000);
afterAll(async () => t?.close());

/** The same Berth still signs a normal client in and answers it. */
async function stillServes(): Promise<void> {
  const c = frontDoorClient(t, { database: "fd" });
  await c.connect();
  expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  await c.end();
}

/**
 * Sends `bytes` on a fresh socket; the server must answer FATAL `code` and close, well before the
 * startup timeout. A one-byte answer to an SSLRequest (N) before the error is passed over.
 */
async function fatalFor(bytes: Buffer, code: string): Promise<Map<string, string>> {
  const s = await RawPgSocket.open(port());
  s.send(bytes);
  await s.closedWithin(STARTUP_TIMEOUT_MS - 200);
  const e = s.error(s.received[0] === 0x4e ? 1 : 0);
  expect(e, `no ErrorResponse in ${JSON.stringify(s.received.toString("latin1"))}`).toBeDefined();
  expect(e!.get("S")).toBe("FATAL");
  expect(e!.get("C")).toBe(code);
  return e!;
}

/** A raw socket that sent the StartupMessage and was asked for authentication (the code asked). */
async function askedToAuthenticate(user: string): Promise<{ s: RawPgSocket; code: number }> {
  const s = await RawPgSocket.open(port());
  s.send(startupMessage({ user, database: "fd" }));
  await s.waitFor("an authentication request", (r) => authCode(r) !== undefined);
  return { s, code: authCode(s.received)! };
}

function dropVerifier(username: string): void {
  const db = new SQLite(join(t.dataDir, "berth.sqlite"));
  db.prepare("update users set scram_verifier = null where username = ?").run(username);
  db.close();
}

describe.skipIf(!hasPostgres)("a stranger before sign-in", () => {
  it("a socket that sends nothing is closed after BERTH_HEADERS_TIMEOUT_MS; one that trickles bytes too", async () => {
    const silent = await RawPgSocket.open(port());
    // A startup packet a byte at a time, one every 200 ms: the deadline is for the whole startup.
    const trickler = await RawPgSocket.open(port());
    const packet = startupMessage({ user: "admin", database: "fd" });
    let i = 0;
    const drip = setInterval(() => trickler.send(packet.subarray(i, ++i)), 200);
    try {
      await silent.closedWithin(STARTUP_TIMEOUT_MS + 2_000);
      await trickler.closedWithin(STARTUP_TIMEOUT_MS + 2_000);
    } finally {
      clearInterval(drip);
    }
    expect(silent.openFor).toBeGreaterThanOrEqual(STARTUP_TIMEOUT_MS - 50);
    expect(trickler.openFor).toBeGreaterThanOrEqual(STARTUP_TIMEOUT_MS - 50);
    expect(trickler.received.length).toBe(0);
    await stillServes();
  });

  it.each([
    ["a length of 0x7fffffff", untypedPacket(196608, Buffer.alloc(0), 0x7fffffff)],
    ["a negative length", untypedPacket(196608, Buffer.alloc(0), -8)],
    ["a length of 0", Buffer.alloc(8)],
    ["a length of 7 (< 8)", untypedPacket(196608, Buffer.alloc(0), 7)],
    ["an HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: berth\r\n\r\n")],
    ["a TLS ClientHello without SSLRequest", Buffer.from("160301020001", "hex")],
  ])("a startup packet with %s → FATAL 08P01 at once", async (_what, bytes) => {
    const e = await fatalFor(bytes, "08P01");
    expect(e.get("M")).toMatch(/invalid startup/);
    await stillServes();
  });

  it("garbage with a plausible length → FATAL 0A000 naming the protocol it speaks", async () => {
    const e = await fatalFor(untypedPacket(0xdeadbeef | 0, Buffer.alloc(92, 0x41)), "0A000");
    expect(e.get("M")).toMatch(/protocol 3\.0/);
    await stillServes();
  });

  it("a StartupMessage without its terminating NUL, or with a name that has no value → FATAL 08P01", async () => {
    const noFinalNul = untypedPacket(196608, Buffer.from("user\0admin\0database\0fd\0"));
    expect((await fatalFor(noFinalNul, "08P01")).get("M")).toMatch(/malformed startup packet/);
    const noValue = untypedPacket(196608, Buffer.from("user\0admin\0database"));
    expect((await fatalFor(noValue, "08P01")).get("M")).toMatch(/malformed startup packet/);
    await stillServes();
  });

  it("protocol 2.0 → FATAL 0A000: Berth speaks 3.0", async () => {
    const v2 = untypedPacket(0x00020000, Buffer.from("user\0admin\0\0"));
    expect((await fatalFor(v2, "0A000")).get("M")).toMatch(/unsupported frontend protocol 2\.0.*3\.0/);
    await stillServes();
  });

  it("SSLRequest repeated → N each time, then FATAL 08P01 (no endless loop)", async () => {
    const s = await RawPgSocket.open(port());
    for (let n = 1; n <= 10 && !s.closed; n++) {
      s.send(untypedPacket(SSL_REQUEST_CODE));
      await s.waitFor("an answer to the SSLRequest", (r, closed) => closed || r.length >= n);
    }
    await s.closedWithin(STARTUP_TIMEOUT_MS - 200);
    const answers = s.received.toString("latin1").match(/^N+/)?.[0] ?? "";
    expect(answers.length).toBeGreaterThanOrEqual(1);
    expect(answers.length).toBeLessThanOrEqual(3);
    expect(s.error(answers.length)?.get("C")).toBe("08P01");
    await stillServes();
  });

  it("an SSLRequest with bytes after it in the same write → FATAL 08P01, as PostgreSQL answers (not a wait for the timeout)", async () => {
    // Bytes sent before the answer to an SSLRequest were never protected by TLS (CVE-2021-23214):
    // PostgreSQL refuses them with "received unencrypted data after SSL request".
    const e = await fatalFor(
      Buffer.concat([untypedPacket(SSL_REQUEST_CODE), startupMessage({ user: "admin", database: "fd" })]),
      "08P01",
    );
    expect(e.get("M")).toMatch(/unencrypted data after SSL request/);
    await stillServes();
  });

  it("a GSSENCRequest is answered N, and the startup that follows goes on to authentication", async () => {
    const s = await RawPgSocket.open(port());
    s.send(untypedPacket(GSSENC_REQUEST_CODE));
    await s.waitFor("N", (r) => r.length >= 1);
    expect(s.received.toString("latin1", 0, 1)).toBe("N");
    s.send(startupMessage({ user: "admin", database: "fd" }));
    await s.waitFor("an authentication request", (r) => authCode(r.subarray(1)) !== undefined);
    expect(authCode(s.received.subarray(1))).toBe(10);
    s.destroy();
    await stillServes();
  });

  it("a CancelRequest with a wrong key cancels nothing; the right key does", async () => {
    const c = frontDoorClient(t, { database: "fd" });
    await c.connect();
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
    const marker = `fd-cancel-${Date.now()}`;
    // A statement that runs for a second: a cancel that went through would end it with 57014.
    const sleeping = c.query(`SELECT pg_sleep(1) AS slept /* ${marker} */`);
    await until("the sleep to run", async () => (await runningWithMarker(marker)) === 1);
    for (const [pid, key] of [
      [processID, secretKey ^ 1],
      [processID, 0],
      [processID + 1, secretKey],
      [0, 0],
    ] as const) {
      const s = await RawPgSocket.open(port());
      s.send(cancelRequest(pid, key));
      await s.closedWithin(STARTUP_TIMEOUT_MS - 200);
      expect(s.received.length).toBe(0);
    }
    expect((await sleeping).rows).toEqual([{ slept: "" }]);
    // The control: the client's own key cancels.
    const marker2 = `fd-cancel-right-${Date.now()}`;
    const long = failureFrom(c.query(`SELECT pg_sleep(30) /* ${marker2} */`));
    await until("the long sleep to run", async () => (await runningWithMarker(marker2)) === 1);
    const s = await RawPgSocket.open(port());
    s.send(cancelRequest(processID, secretKey));
    await s.closedWithin();
    expect((await long).code).toBe("57014");
    await c.end();
    await stillServes();
  });

  it("a CancelRequest of the wrong size → FATAL, not a cancel", async () => {
    const rest = Buffer.alloc(12);
    await fatalFor(untypedPacket(80877102, rest), "0A000");
    await stillServes();
  });
});

describe.skipIf(!hasPostgres)("a stranger during sign-in", () => {
  it.each([
    ["a mechanism that is not offered", "28000", saslInitialResponse("SCRAM-SHA-1", "n,,n=,r=abc")],
    [
      "a client-first-message of garbage",
      "28000",
      saslInitialResponse("SCRAM-SHA-256", "\u0001garbage\u00ff"),
    ],
    ["bytes without a NUL", "28000", frontendMessage("p", Buffer.from("no nul anywhere"))],
    ["an empty SASL response", "28000", frontendMessage("p")],
    ["a Query instead of a SASL response", "08P01", frontendMessage("Q", Buffer.from("SELECT 1\0"))],
    ["a 5000-byte SASL response", "08P01", frontendMessage("p", Buffer.alloc(4996, 0x41))],
    ["a 300 MB length claim", "08P01", frontendMessage("p", Buffer.alloc(0), 300 * 1024 * 1024)],
    ["a length of 3", "08P01", frontendMessage("p", Buffer.alloc(0), 3)],
  ])("answering the SASL request with %s → FATAL %s", async (_what, code, bytes) => {
    const { s, code: asked } = await askedToAuthenticate("admin");
    expect(asked).toBe(10);
    const at = s.received.length;
    s.send(bytes);
    await s.closedWithin(STARTUP_TIMEOUT_MS - 200);
    expect(s.error(at)?.get("S")).toBe("FATAL");
    expect(s.error(at)?.get("C")).toBe(code);
    await stillServes();
  });

  it("a garbage client-final-message after a good client-first → FATAL 28000", async () => {
    const { s } = await askedToAuthenticate("admin");
    s.send(saslInitialResponse("SCRAM-SHA-256", "n,,n=,r=clientnonce0123456789"));
    await s.waitFor("SASL continue", (r) => parseMessages(r).filter((m) => m.type === "R").length >= 2);
    const at = s.received.length;
    s.send(frontendMessage("p", Buffer.from("c=biws,r=wrong-nonce,p=!!!")));
    await s.closedWithin(STARTUP_TIMEOUT_MS - 200);
    expect(s.error(at)?.get("C")).toBe("28000");
    await stillServes();
  });

  it("a cleartext password message over 4 KiB → FATAL 08P01", async () => {
    dropVerifier("legacy");
    const { s, code } = await askedToAuthenticate("legacy");
    expect(code).toBe(3);
    const at = s.received.length;
    s.send(passwordMessage("x".repeat(5000)));
    await s.closedWithin(STARTUP_TIMEOUT_MS - 200);
    expect(s.error(at)?.get("C")).toBe("08P01");
    await stillServes();
  });

  it("the authentication asked for does not tell which names are accounts (unknown, disabled, known alike)", async () => {
    const gone = (await t.api("/api/users")).body.users.find(
      (u: { username: string }) => u.username === "gone",
    );
    expect((await t.api(`/api/users/${gone.id}`, { method: "PATCH", body: { disabled: true } })).status).toBe(
      200,
    );
    const known = await askedToAuthenticate("admin");
    const unknown = await askedToAuthenticate("no-such-account-here");
    const disabled = await askedToAuthenticate("gone");
    for (const x of [known, unknown, disabled]) x.s.destroy();
    expect({ unknown: unknown.code, disabled: disabled.code }).toEqual({
      unknown: known.code,
      disabled: known.code,
    });
  });
});

describe.skipIf(!hasPostgres)("a signed-in client sending what the protocol does not allow", () => {
  /** A signed-in node-postgres client whose socket the test writes to directly; what it receives is kept. */
  async function signedIn(): Promise<{
    c: pg.Client;
    send(b: Buffer): void;
    got: () => Buffer;
    closed: Promise<void>;
  }> {
    const c = frontDoorClient(t, { database: "fd" });
    await c.connect();
    const stream = (c as unknown as { connection: { stream: import("node:net").Socket } }).connection.stream;
    const chunks: Buffer[] = [];
    stream.on("data", (d: Buffer) => chunks.push(d));
    const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    return { c, send: (b) => stream.write(b), got: () => Buffer.concat(chunks), closed };
  }

  async function fatalAfterSignIn(bytes: Buffer, first?: string): Promise<Map<string, string>> {
    const x = await signedIn();
    if (first) await x.c.query(first);
    x.send(bytes);
    await Promise.race([
      x.closed,
      new Promise((_, reject) =>
        setTimeout(
          () =>
            reject(new Error(`no close within 3 s; received ${JSON.stringify(x.got().toString("latin1"))}`)),
          3_000,
        ),
      ),
    ]);
    const e = parseMessages(x.got()).find((m) => m.type === "E");
    expect(e, `no ErrorResponse in ${JSON.stringify(x.got().toString("latin1"))}`).toBeDefined();
    return errorFields(e!.body);
  }

  it.each([
    ["a length of 3", frontendMessage("Q", Buffer.alloc(0), 3)],
    ["a negative length", frontendMessage("Q", Buffer.alloc(0), -1)],
    ["a 300 MB length claim", frontendMessage("Q", Buffer.alloc(0), 300 * 1024 * 1024)],
    ["a message type Berth does not know ('z')", frontendMessage("z")],
    ["a second StartupMessage", startupMessage({ user: "admin", database: "fd" })],
  ])("%s → FATAL 08P01 and the socket closed, no backend held", async (_what, bytes) => {
    const e = await fatalAfterSignIn(bytes);
    expect(e.get("S")).toBe("FATAL");
    expect(e.get("C")).toBe("08P01");
    await until("no backend held", () => inUse() === 0, 2_000);
    await stillServes();
  });

  it("an unknown message type inside a transaction → FATAL 08P01; the backend is rolled back and handed on", async () => {
    const e = await fatalAfterSignIn(frontendMessage("z"), "BEGIN");
    expect(e.get("C")).toBe("08P01");
    await until("no backend held", () => inUse() === 0, 2_000);
    await stillServes();
  });
});

describe.skipIf(!hasPostgres)("clients from one address, BERTH_PG_MAX_CLIENTS_PER_SOURCE=5", () => {
  let s: TestBerth;
  beforeAll(async () => {
    s = await startTestBerth({ BERTH_PG_PORT: "0", BERTH_PG_MAX_CLIENTS_PER_SOURCE: "5" });
    await createPgConnection(s, "fd-src", { maxPoolSize: 2 });
  }, 60_000);
  afterAll(async () => s?.close());

  it("the sixth is refused, the five are served, and a place freed is taken again", async () => {
    const five = Array.from({ length: 5 }, () => frontDoorClient(s, { database: "fd-src" }));
    await Promise.all(five.map((c) => c.connect()));
    const sixth = frontDoorClient(s, { database: "fd-src", connectionTimeoutMillis: 5_000 });
    const refused = await failureFrom(sixth.connect());
    await sixth.end().catch(() => {});
    expect(refused.message).toMatch(/too many|terminated|ECONNRESET|closed/i);
    for (const c of five) expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await five[0]!.end();
    await until(
      "a freed place to be taken",
      async () => {
        const c = frontDoorClient(s, { database: "fd-src" });
        const ok = await c.connect().then(
          () => true,
          () => false,
        );
        await c.end().catch(() => {});
        return ok;
      },
      3_000,
    );
    for (const c of five.slice(1)) await c.end();
  });

  it("sockets that never sign in count too, and free their place at the startup timeout or close", async () => {
    const raws = await Promise.all(Array.from({ length: 5 }, () => RawPgSocket.open(s.berth.pgPort!)));
    const blocked = frontDoorClient(s, { database: "fd-src" });
    await failureFrom(blocked.connect());
    await blocked.end().catch(() => {});
    for (const r of raws) r.destroy();
    await until(
      "the places to be free again",
      async () => {
        const c = frontDoorClient(s, { database: "fd-src" });
        const ok = await c.connect().then(
          () => true,
          () => false,
        );
        await c.end().catch(() => {});
        return ok;
      },
      3_000,
    );
  });
});
