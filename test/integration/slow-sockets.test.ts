import { type ClientHttp2Session, connect as http2Connect, constants as http2Constants } from "node:http2";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, makeCertificates } from "../support/certs.js";
import { requestJson, startTestBerth, type TestBerth } from "../support/test-berth.js";

/** A raw TCP client: resolves when connected; `closed` resolves (with the time) when the server ends it. */
function rawSocket(port: number, localAddress = "127.0.0.1") {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  socket.on("error", () => {});
  socket.on("data", () => {});
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())));
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, closed, connected };
}

const BOUND_MS = 1_000;
/** How late the server may be past the bound (timers, a busy 2-core machine). */
const SLACK_MS = 1_500;

describe("slow or silent connections on the shared port", () => {
  let b: TestBerth;
  beforeAll(async () => {
    b = await startTestBerth({ BERTH_HEADERS_TIMEOUT_MS: String(BOUND_MS) });
  });
  afterAll(async () => b?.close());

  it("closes 50 silent or half-sent connections within the bound, serving others meanwhile", async () => {
    const kinds: ((s: Socket) => void)[] = [
      () => {}, // silent
      (s) => s.write("GET /api/connections HT"), // half a request line
      (s) => s.write("GET /healthz HTTP/1.1\r\nHost: berth\r\nX-Slow: "), // headers never finished
      (s) => s.write("PRI * HTTP/2.0\r\n"), // part of the HTTP/2 preface
      (s) => s.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), // the whole preface, then nothing
    ];
    const started = performance.now();
    const sockets = Array.from({ length: 50 }, (_, i) => {
      const raw = rawSocket(b.berth.port);
      void raw.connected.then(() => kinds[i % kinds.length]!(raw.socket));
      return raw;
    });
    await Promise.all(sockets.map((s) => s.connected));
    const ok = await requestJson(`${b.url}/healthz`, { method: "GET", headers: {} });
    expect(ok.status).toBe(200);
    const closedAt = await Promise.all(sockets.map((s) => s.closed));
    for (const t of closedAt) expect(t - started).toBeLessThan(BOUND_MS + SLACK_MS);
    // And not before the bound: a slow but honest client gets its time.
    for (const t of closedAt) expect(t - started).toBeGreaterThan(BOUND_MS * 0.8);
  });
});

describe("connections per source", () => {
  let b: TestBerth;
  beforeAll(async () => {
    b = await startTestBerth({ BERTH_MAX_CONNECTIONS_PER_SOURCE: "5" });
  });
  afterAll(async () => b?.close());

  it("refuses a source's connection past the cap at once, while another source is served", async () => {
    const held = Array.from({ length: 5 }, () => rawSocket(b.berth.port));
    await Promise.all(held.map((s) => s.connected));
    const extra = rawSocket(b.berth.port);
    const closedAt = await extra.closed;
    expect(closedAt).toBeDefined();
    const other = await requestJson(`${b.url}/healthz`, {
      method: "GET",
      headers: {},
      localAddress: "127.0.0.2",
    });
    expect(other.status).toBe(200);
    for (const s of held) s.socket.destroy();
    await Promise.all(held.map((s) => s.closed));
    // Once they are gone, the source is served again.
    await expect
      .poll(async () => (await requestJson(`${b.url}/healthz`, { method: "GET", headers: {} })).status)
      .toBe(200);
  });
});

describe("connections per source, with TLS", () => {
  let b: TestBerth;
  let ca: string;
  beforeAll(async () => {
    const certs = makeCertificates();
    const server = issueCertificate(certs, "berth-server", { cn: "localhost", dns: ["localhost"] });
    ca = certs.caPem;
    b = await startTestBerth(
      {
        BERTH_TLS_CERT_FILE: server.cert,
        BERTH_TLS_KEY_FILE: server.key,
        BERTH_MAX_CONNECTIONS_PER_SOURCE: "5",
        BERTH_HEADERS_TIMEOUT_MS: "3000",
      },
      { tls: { ca } },
    );
  });
  afterAll(async () => b?.close());
  const healthz = (localAddress?: string) =>
    requestJson(`${b.url}/healthz`, { method: "GET", headers: {}, tls: { ca }, localAddress });

  it("counts a connection from its first byte, and closes a handshake that never finishes at the bound", async () => {
    // Five connections that never send a ClientHello hold the source's share...
    const heldSince = performance.now();
    const held = Array.from({ length: 5 }, () => rawSocket(b.berth.port));
    await Promise.all(held.map((s) => s.connected));
    const started = performance.now();
    const extra = rawSocket(b.berth.port);
    // ...so a sixth is closed at once, long before the handshake bound (3 s) would end it.
    expect((await extra.closed) - started).toBeLessThan(1_500);
    await expect(healthz()).rejects.toThrow();
    // Another source is served meanwhile.
    expect((await healthz("127.0.0.2")).status).toBe(200);
    // The silent handshakes are closed by Berth at the bound (Node only reports a handshake timeout).
    for (const t of await Promise.all(held.map((s) => s.closed))) {
      expect(t - heldSince).toBeGreaterThan(3_000 * 0.8);
      expect(t - heldSince).toBeLessThan(3_000 + SLACK_MS);
    }
    // Handshakes that finished are counted once, as open connections, and the source is served again.
    await expect.poll(async () => (await healthz().catch(() => ({ status: 0 }))).status).toBe(200);
    const many = await Promise.all(Array.from({ length: 5 }, () => healthz()));
    expect(many.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });
});

describe("HTTP/2 request bodies", () => {
  let b: TestBerth;
  beforeAll(async () => {
    b = await startTestBerth({ BERTH_REQUEST_TIMEOUT_MS: "1000", BERTH_HEADERS_TIMEOUT_MS: "1000" });
  });
  afterAll(async () => b?.close());

  /** A stream whose request body is begun and never finished; resolves with when it closed. */
  function trickle(session: ClientHttp2Session, path: string, contentType: string) {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      authorization: `Bearer ${b.adminToken}`,
    });
    stream.on("error", () => {});
    stream.on("data", () => {});
    stream.write("{");
    return {
      stream,
      closed: new Promise<number>((resolve) => stream.once("close", () => resolve(performance.now()))),
    };
  }

  it("resets a unary call whose body never ends at the request bound; a Session stream stays open", async () => {
    const session = http2Connect(b.url);
    session.on("error", () => {});
    try {
      const started = performance.now();
      const unary = trickle(session, "/berth.v1.ConnectionService/ListConnections", "application/json");
      const streaming = trickle(session, "/berth.v1.BrokerService/Session", "application/connect+json");
      const closedAt = await unary.closed;
      expect(closedAt - started).toBeGreaterThan(1_000 * 0.8);
      expect(closedAt - started).toBeLessThan(1_000 + SLACK_MS);
      expect(unary.stream.rstCode).toBe(http2Constants.NGHTTP2_CANCEL);
      // Twice the bound later the Session stream (a request that streams) is still open.
      const stillOpen = await Promise.race([
        streaming.closed.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 1_000)),
      ]);
      expect(stillOpen).toBe(true);
      streaming.stream.close();
    } finally {
      session.destroy();
    }
  });
});
