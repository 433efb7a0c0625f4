import { execFile } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { issueCertificate, makeCertificates, type TestCertificates } from "../support/certs.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const run = promisify(execFile);

interface Identity {
  cert?: string;
  key?: string;
  ca?: string;
}

/** One HTTPS request to localhost:port: status, body, and what the TLS session negotiated. */
function get(
  port: number,
  path: string,
  tls: Identity,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; alpn: string | false | null; serial: string }> {
  return new Promise((resolve, reject) => {
    const options: RequestOptions & { ALPNProtocols: string[] } = {
      host: "localhost",
      port,
      path,
      headers,
      agent: false,
      ALPNProtocols: ["http/1.1"],
    };
    const req = httpsRequest({ ...options, ...tls }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        const socket = res.socket as TLSSocket;
        resolve({
          status: res.statusCode ?? 0,
          body,
          alpn: socket.alpnProtocol,
          serial: socket.getPeerCertificate().serialNumber,
        });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

let certs: TestCertificates;
let server: ReturnType<typeof issueCertificate>;
beforeAll(() => {
  certs = makeCertificates();
  server = issueCertificate(certs, "berth-server", { cn: "localhost", dns: ["localhost"] });
});

describe("TLS on Berth's port", () => {
  let b: TestBerth;
  beforeAll(async () => {
    b = await startTestBerth(
      { BERTH_TLS_CERT_FILE: server.cert, BERTH_TLS_KEY_FILE: server.key },
      { tls: { ca: certs.caPem } },
    );
  });
  afterAll(async () => b?.close());
  const port = () => Number(new URL(b.url).port);

  it("serves HTTP/1.1 and HTTP/2 by ALPN: curl reaches it both ways", async () => {
    expect(b.url).toMatch(/^https:/);
    const url = `https://localhost:${port()}/healthz`;
    const h1 = await run("curl", [
      "-sS",
      "--cacert",
      `${certs.dir}/ca.crt`,
      "--http1.1",
      "-w",
      " %{http_version}",
      url,
    ]);
    // The body says what was checked (process, store...); the status and the protocol are what count.
    expect(h1.stdout).toMatch(/^\{"status":"ok",.*\} 1\.1$/);
    const h2 = await run("curl", [
      "-sS",
      "--cacert",
      `${certs.dir}/ca.crt`,
      "--http2",
      "-w",
      " %{http_version}",
      url,
    ]);
    expect(h2.stdout).toMatch(/^\{"status":"ok",.*\} 2$/);
    const r = await get(
      port(),
      "/api/auth/me",
      { ca: certs.caPem },
      { authorization: `Bearer ${b.adminToken}` },
    );
    expect([r.status, r.alpn]).toEqual([200, "http/1.1"]);
  });

  it("serves gRPC over TLS (HTTP/2 by ALPN)", async () => {
    const client = createClient(
      ConnectionService,
      createGrpcTransport({ baseUrl: `https://localhost:${port()}`, nodeOptions: { ca: certs.caPem } }),
    );
    const r = await client.listConnections({}, { headers: { authorization: `Bearer ${b.adminToken}` } });
    expect(r.connections).toEqual([]);
  });

  it("refuses a plaintext client on the TLS port", async () => {
    await expect(fetch(`http://localhost:${port()}/healthz`)).rejects.toThrow();
  });

  it("reloads a renewed certificate for new connections; a broken file keeps the old one", async () => {
    const before = await get(port(), "/healthz", { ca: certs.caPem });
    const renewed = issueCertificate(certs, "berth-server-2", { cn: "localhost", dns: ["localhost"] });
    copyFileSync(renewed.cert, server.cert);
    copyFileSync(renewed.key, server.key);
    await b.berth.reloadTls();
    const after = await get(port(), "/healthz", { ca: certs.caPem });
    expect(after.serial).not.toBe(before.serial);
    expect(after.serial).toBe(
      new (await import("node:crypto")).X509Certificate(renewed.certPem).serialNumber,
    );
    writeFileSync(server.cert, "not a certificate");
    await expect(b.berth.reloadTls()).rejects.toThrow();
    expect((await get(port(), "/healthz", { ca: certs.caPem })).serial).toBe(after.serial);
    expect(b.logs.join("")).toContain("tls reload failed");
    copyFileSync(renewed.cert, server.cert);
  });
});

describe("mutual TLS: a client certificate is a service principal", () => {
  let b: TestBerth;
  let connectionId: string;
  let service: ReturnType<typeof issueCertificate>;
  let stranger: ReturnType<typeof issueCertificate>;
  const port = () => Number(new URL(b.url).port);
  const as = (id: ReturnType<typeof issueCertificate>): Identity => ({
    cert: id.certPem,
    key: id.keyPem,
    ca: certs.caPem,
  });

  beforeAll(async () => {
    const fresh = issueCertificate(certs, "berth-server-m", { cn: "localhost", dns: ["localhost"] });
    b = await startTestBerth(
      {
        BERTH_TLS_CERT_FILE: fresh.cert,
        BERTH_TLS_KEY_FILE: fresh.key,
        BERTH_TLS_CLIENT_CA_FILE: `${certs.dir}/ca.crt`,
        BERTH_TLS_CLIENT_AUTH: "optional",
      },
      { tls: { ca: certs.caPem } },
    );
    const created = await b.api("/api/connections", {
      body: {
        name: "orders-db",
        type: "postgresql",
        server: "127.0.0.1",
        database: "orders",
        username: "app",
        password: "mtls-canary-pw",
      },
    });
    connectionId = created.body.id;
    await b.api("/api/connections", {
      body: {
        name: "other-db",
        type: "postgresql",
        server: "127.0.0.1",
        database: "other",
        username: "app",
        password: "x",
      },
    });
    const token = await b.api("/api/tokens", {
      body: { name: "orders-api", connectionIds: [connectionId], accessLevel: "viewer" },
    });
    expect(token.status, token.text).toBe(201);
    service = issueCertificate(certs, "orders-api", { cn: "orders-api", clientAuth: true });
    stranger = issueCertificate(certs, "stranger", { cn: "stranger", clientAuth: true });
  });
  afterAll(async () => b?.close());

  it("authorizes a certificate as the service token it names, with that token's scope", async () => {
    const r = await get(port(), "/api/connections", as(service));
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body).connections.map((c: { id: string }) => c.id)).toEqual([connectionId]);
    const grpc = createClient(
      ConnectionService,
      createGrpcTransport({
        baseUrl: `https://localhost:${port()}`,
        nodeOptions: { ca: certs.caPem, cert: service.certPem, key: service.keyPem },
      }),
    );
    const listed = await grpc.listConnections({});
    expect(listed.connections.map((c) => c.id)).toEqual([connectionId]);
    // viewer: it may look, not change.
    await expect(
      grpc.createConnection({
        spec: {
          name: "nope",
          type: Engine.POSTGRESQL,
          server: "x",
          database: "d",
          username: "u",
          password: "p",
        },
      }),
    ).rejects.toThrow(/service token|permission/i);
    const audit = await b.api("/api/audit?pageSize=100");
    expect(audit.body.events.some((e: { actorName: string }) => e.actorName === "orders-api")).toBe(true);
  });

  it("refuses a certificate that names no service, one from another CA, and one whose token was revoked", async () => {
    const unknown = await get(port(), "/api/connections", as(stranger));
    expect(unknown.status).toBe(401);
    expect(JSON.parse(unknown.body).details.reason).toBe("unknown_certificate");
    const otherCa = makeCertificates();
    const forged = issueCertificate(otherCa, "orders-api-forged", { cn: "orders-api", clientAuth: true });
    const untrusted = await get(port(), "/api/connections", {
      cert: forged.certPem,
      key: forged.keyPem,
      ca: certs.caPem,
    });
    expect(untrusted.status).toBe(401);
    const tokens = await b.api("/api/tokens");
    await b.api(`/api/tokens/${tokens.body.serviceTokens[0].id}`, { method: "DELETE" });
    expect((await get(port(), "/api/connections", as(service))).status).toBe(401);
  });

  it("with client auth required, refuses the handshake without a certificate", async () => {
    const fresh = issueCertificate(certs, "berth-server-r", { cn: "localhost", dns: ["localhost"] });
    const admin = issueCertificate(certs, "ops-laptop", { cn: "ops-laptop", clientAuth: true });
    const strict = await startTestBerth(
      {
        BERTH_TLS_CERT_FILE: fresh.cert,
        BERTH_TLS_KEY_FILE: fresh.key,
        BERTH_TLS_CLIENT_CA_FILE: `${certs.dir}/ca.crt`,
        BERTH_TLS_CLIENT_AUTH: "require",
      },
      { tls: { ca: certs.caPem, cert: admin.certPem, key: admin.keyPem } },
    );
    try {
      const port = Number(new URL(strict.url).port);
      // With a certificate the handshake completes (and a bearer token still signs the admin in).
      expect((await strict.api("/api/auth/me")).status).toBe(200);
      await expect(get(port, "/healthz", { ca: certs.caPem })).rejects.toThrow(
        /certificate required|socket hang up|ECONNRESET|alert/i,
      );
    } finally {
      await strict.close();
    }
  });
});
