import { isIP } from "node:net";
import { type ConnectionOptions, checkServerIdentity } from "node:tls";
import type { TlsPlan } from "../drivers/driver.js";
import type { ConnectionSettings } from "./settings.js";

/** No TLS at all. */
export const PLAIN: TlsPlan = { options: undefined, fallbackToPlain: false, verify: "none" };

/** Turns a connection's sslMode and certificates into node TLS options, with libpq's semantics. */
export function tlsPlanFor(
  settings: ConnectionSettings,
  host: string,
  clientKey: string | undefined,
): TlsPlan {
  if (settings.sslMode === "disable") return PLAIN;
  const identityName = settings.tlsServerName || host;
  const options: ConnectionOptions = {
    // SNI must be a name, never an IP literal.
    ...(isIP(identityName) ? {} : { servername: identityName }),
    ...(settings.caCertificate ? { ca: settings.caCertificate } : {}),
    ...(settings.clientCertificate && clientKey ? { cert: settings.clientCertificate, key: clientKey } : {}),
  };
  switch (settings.sslMode) {
    case "prefer":
    case "require":
      return {
        options: { ...options, rejectUnauthorized: false },
        fallbackToPlain: settings.sslMode === "prefer",
        verify: "none",
      };
    case "verify-ca":
      return {
        options: { ...options, rejectUnauthorized: true, checkServerIdentity: () => undefined },
        fallbackToPlain: false,
        verify: "chain",
      };
    case "verify-full":
      return {
        options: {
          ...options,
          rejectUnauthorized: true,
          checkServerIdentity: (_h, cert) => checkServerIdentity(identityName, cert),
        },
        fallbackToPlain: false,
        verify: "full",
      };
  }
}
