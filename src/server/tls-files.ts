import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { ServerTlsSettings } from "../config/config.js";
import type { ListenerTls } from "./listener.js";

/** The certificate, key and client CA files, checked as a set before they replace anything. */
export async function readServerTls(tls: ServerTlsSettings): Promise<SecureContextOptions> {
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certFile, "utf8"),
    readFile(tls.keyFile, "utf8"),
    tls.clientCaFile ? readFile(tls.clientCaFile, "utf8") : undefined,
  ]);
  const context = { cert, key, ...(ca ? { ca } : {}) };
  // Throws (naming no secret) if the key does not match the certificate or either is not PEM.
  createSecureContext(context);
  return context;
}

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
