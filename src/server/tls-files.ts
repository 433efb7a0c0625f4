import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { ServerTlsSettings } from "../config/tls-settings.js";
import type { ListenerTls } from "./listener.js";

/** The certificate, key and client CA files, checked as a set before they replace anything. */
export async function readServerTls(tls: ServerTlsSettings): Promise<SecureContextOptions> {
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certFile, "utf8"),
    readFile(tls.keyFile, "utf8"),
    tls.clientCaFile ? readFile(tls.clientCaFile, "utf8") : undefined,
  ]);
  // The cipher policy travels with the files, so that a reload (setSecureContext) keeps it.
  const context: SecureContextOptions = {
    cert,
    key,
    ...(ca ? { ca } : {}),
    minVersion: "TLSv1.2",
    ciphers: SERVER_CIPHERS,
    honorCipherOrder: true,
  };
  // Throws (naming no secret) if the key does not match the certificate or either is not PEM.
  createSecureContext(context);
  return context;
}

/**
 * TLS 1.2 only with forward-secret AEAD suites (ECDHE with GCM or ChaCha20-Poly1305); TLS 1.3's
 * suites are all of that kind already. Nothing below TLS 1.2.
 */
export const SERVER_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** TLS for the listening port: the files, and whether (and how firmly) client certificates are asked for. */
export async function listenerTls(tls: ServerTlsSettings): Promise<ListenerTls> {
  return {
    context: await readServerTls(tls),
    requestCert: tls.clientCaFile !== undefined,
    requireCert: tls.clientCaFile !== undefined && tls.clientAuth === "require",
  };
}

/** What the log says about a certificate: enough to tell which one is served, nothing secret. */
export function describeCertificate(pem: string): Record<string, string> {
  const c = new X509Certificate(pem);
  return {
    subject: c.subject.replace(/\n/g, ", "),
    valid_to: new Date(c.validTo).toISOString(),
    serial: c.serialNumber,
  };
}
