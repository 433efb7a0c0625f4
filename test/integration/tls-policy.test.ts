import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, makeCertificates, type TestCertificates } from "../support/certs.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

let certs: TestCertificates;
let b: TestBerth;
beforeAll(async () => {
  certs = makeCertificates();
  const server = issueCertificate(certs, "berth-server", { cn: "localhost", dns: ["localhost"] });
  b = await startTestBerth(
    { BERTH_TLS_CERT_FILE: server.cert, BERTH_TLS_KEY_FILE: server.key },
    { tls: { ca: certs.caPem } },
  );
});
afterAll(async () => b?.close());

/** A TLS 1.2 handshake offering only `cipher`: the suite agreed on, or the error. */
function handshake(cipher: string, maxVersion: "TLSv1.2" | "TLSv1.1" = "TLSv1.2"): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({
      host: "127.0.0.1",
      port: b.berth.port,
      servername: "localhost",
      ca: certs.caPem,
      ciphers: cipher,
      minVersion: "TLSv1",
      maxVersion,
    });
    s.once("secureConnect", () => {
      resolve(s.getCipher().standardName);
      s.destroy();
    });
    s.once("error", (err) => resolve(`refused: ${err.message}`));
  });
}

describe("TLS on Berth's port", () => {
  it("accepts TLS 1.2 with forward-secret AEAD suites only", async () => {
    expect(await handshake("ECDHE-RSA-AES128-GCM-SHA256")).toBe("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    expect(await handshake("ECDHE-RSA-CHACHA20-POLY1305")).toBe(
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    );
    // No forward secrecy (RSA key exchange), or no AEAD (CBC): refused.
    expect(await handshake("AES128-GCM-SHA256")).toMatch(/^refused/);
    expect(await handshake("ECDHE-RSA-AES128-SHA256")).toMatch(/^refused/);
    expect(await handshake("ECDHE-RSA-AES256-SHA")).toMatch(/^refused/);
  });

  it("sends Strict-Transport-Security and nosniff", async () => {
    const me = await b.api("/api/auth/me");
    expect(me.status).toBe(200);
    expect(me.headers.get("strict-transport-security")).toMatch(/max-age=\d{7,}/);
    expect(me.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
