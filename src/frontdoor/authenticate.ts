import { setTimeout as sleep } from "node:timers/promises";
import type { TLSSocket } from "node:tls";
import { RateLimitedError, UnauthenticatedError } from "../errors/berth-error.js";
import type { FrontDoorAccount } from "../identity/front-door-accounts.js";
import type { LoginGuard } from "../identity/login-throttle.js";
import type { Principal } from "../identity/principal.js";
import { ScramError, ScramServerExchange } from "../identity/scram.js";
import type { MessageReader } from "./startup.js";
import {
  authenticationCleartextPassword,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  readCString,
} from "./wire.js";

const SCRAM = "SCRAM-SHA-256";

/** A sign-in the front door refuses: the SQLSTATE and message the client gets, the reason the audit gets. */
export class SignInRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly reason: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface AuthenticateDeps {
  lookup(name: string): Promise<FrontDoorAccount | undefined>;
  /** The service principal a verified client certificate's common name stands for. */
  certificate(commonName: string): Promise<Principal>;
  throttle: LoginGuard;
  failureDelayMs: number;
}

export interface SignIn {
  readonly socket: TLSSocket | import("node:net").Socket;
  readonly reader: MessageReader;
  readonly user: string;
  /** TLS, or a loopback client: only then may a password travel in clear text. */
  readonly cleartextAllowed: boolean;
  readonly tls: boolean;
  /** The throttle's source key (an address, or an IPv6 /64). */
  readonly source: string;
}

/** The client certificate's common name, when it chained to the configured client CA. */
function verifiedCommonName(sign: SignIn): string | undefined {
  if (!sign.tls) return undefined;
  const s = sign.socket as TLSSocket;
  if (s.authorized !== true) return undefined;
  const cn = s.getPeerCertificate()?.subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}

async function password(sign: SignIn): Promise<string> {
  sign.socket.write(authenticationCleartextPassword());
  const m = await sign.reader.typed(4096);
  if (m?.type !== 0x70) throw new SignInRefused("08P01", "expected a password message", "protocol");
  return readCString(m.body, 0)[0];
}

async function scram(sign: SignIn, account: FrontDoorAccount | undefined): Promise<boolean> {
  sign.socket.write(authenticationSasl([SCRAM]));
  const first = await sign.reader.typed(4096);
  if (first?.type !== 0x70) throw new SignInRefused("08P01", "expected a SASL response", "protocol");
  const [mechanism, at] = readCString(first.body, 0);
  if (mechanism !== SCRAM || at < 0 || at + 4 > first.body.length)
    throw new SignInRefused(
      "28000",
      // Not echoed: a client that answers with its password in clear would get it back.
      `the client selected a SASL mechanism that is not offered; use ${SCRAM}`,
      "protocol",
    );
  const exchange = new ScramServerExchange(account?.verifier, sign.user);
  try {
    sign.socket.write(authenticationSaslContinue(exchange.start(first.body.toString("utf8", at + 4))));
    const final = await sign.reader.typed(4096);
    if (final?.type !== 0x70) throw new SignInRefused("08P01", "expected a SASL response", "protocol");
    const serverFinal = exchange.finish(final.body.toString("utf8"));
    if (!account?.verifier) return false;
    sign.socket.write(authenticationSaslFinal(serverFinal));
    return true;
  } catch (err) {
    if (err instanceof ScramError && err.reason !== "invalid_proof")
      throw new SignInRefused("28000", `SCRAM exchange failed: ${err.message}`, "protocol");
    if (err instanceof ScramError) return false;
    throw err;
  }
}

/**
 * A verified certificate naming the startup user: its service principal, or a refusal the client
 * reads and the audit records (a revoked or expired token's certificate), as the HTTP port's 401.
 */
async function byCertificate(cn: string, deps: AuthenticateDeps): Promise<Principal> {
  try {
    return await deps.certificate(cn);
  } catch (err) {
    if (!(err instanceof UnauthenticatedError)) throw err;
    throw new SignInRefused("28000", err.message, String(err.details.reason ?? "unknown_certificate"));
  }
}

/** Checks who the client is; the principal it stands for, or SignInRefused. AuthenticationOk is the caller's. */
export async function authenticate(sign: SignIn, deps: AuthenticateDeps): Promise<Principal> {
  const cn = verifiedCommonName(sign);
  if (cn !== undefined && cn === sign.user) return byCertificate(cn, deps);
  const attempt = { account: sign.user.toLowerCase(), source: sign.source };
  const started = Date.now();
  let delayMs = deps.failureDelayMs;
  try {
    delayMs = (await deps.throttle.begin(attempt)).failureDelayMs;
  } catch (err) {
    if (!(err instanceof RateLimitedError)) throw err;
    await sleep(deps.failureDelayMs);
    throw new SignInRefused("28000", err.message, "sign_in_locked");
  }
  const account = await deps.lookup(sign.user);
  let ok: boolean;
  // A name that is no account (or a disabled one) is asked for SCRAM, as an account with a
  // verifier is, and fails at the proof: the method asked for must not tell which names exist.
  if (!account || account.verifier || !sign.cleartextAllowed) ok = await scram(sign, account);
  else ok = await account.verifySecret(await password(sign));
  const principal = ok && account ? await account.principal() : undefined;
  if (!principal) {
    await deps.throttle.failed(attempt);
    await sleep(Math.max(0, delayMs - (Date.now() - started)));
    throw new SignInRefused(
      "28P01",
      `password authentication failed for user "${sign.user.slice(0, 64)}"`,
      "invalid_credentials",
      // The same hint whatever failed, so that it tells nothing about which accounts exist.
      "The password is the Berth user's password, or the service token for a service principal. An account that has not signed in since Berth began keeping SCRAM verifiers needs one sign-in over HTTP, or a connection over TLS, first.",
    );
  }
  await deps.throttle.succeeded(attempt);
  return principal;
}
