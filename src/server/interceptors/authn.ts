import type { Interceptor } from "@connectrpc/connect";
import type { TtlCache } from "../../access/ttl-cache.js";
import { UnauthenticatedError } from "../../errors/berth-error.js";
import { type Principal, principalKey } from "../../identity/principal.js";
import { isServiceToken, type ServiceTokens } from "../../identity/service-tokens.js";
import { authenticateToken, hashToken } from "../../identity/sessions.js";
import type { Db } from "../../store/store.js";
import { type ClientCertificate, requestInfoKey } from "../request-info.js";

/** Methods callable without a principal. Everything else needs a bearer token. */
const PUBLIC_METHODS = new Set([
  "berth.v1.AuthService/Login",
  "berth.v1.AuthService/LoginWithGoogle",
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/Watch",
]);

/** Whether `package.Service/Method` may be called without a principal. */
export function isPublicMethod(path: string): boolean {
  return PUBLIC_METHODS.has(path);
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function authnInterceptor(deps: {
  db: Db;
  clock?: () => Date;
  cache?: TtlCache<Principal>;
  serviceTokens?: ServiceTokens;
}): Interceptor {
  const clock = deps.clock ?? (() => new Date());
  // Principals by token hash, briefly, so that a session stream or a statement does not read the
  // store; a sign-out on this instance drops the entry at once.
  const authenticate = async (token: string): Promise<Principal> => {
    const key = hashToken(token);
    const cached = deps.cache?.get(key);
    if (cached && cached.sessionExpiresAt > clock()) return cached;
    const readAt = deps.cache?.generation;
    const principal =
      isServiceToken(token) && deps.serviceTokens
        ? await deps.serviceTokens.authenticate(token)
        : await authenticateToken(deps.db, token, clock());
    deps.cache?.set(key, principal, [`user:${principal.userId}`], readAt);
    return principal;
  };
  // The same for client certificates, by fingerprint: a service calling per statement over mutual
  // TLS must not cost a store read per call. Revoking its token drops the entry (its user tag).
  const authenticateCertificate = async (
    certificate: ClientCertificate,
    tokens: ServiceTokens,
  ): Promise<Principal> => {
    const key = `cert:${certificate.fingerprint256}`;
    const cached = deps.cache?.get(key);
    if (cached && cached.sessionExpiresAt > clock()) return cached;
    const readAt = deps.cache?.generation;
    const principal = await tokens.authenticateCertificate(certificate.commonName);
    deps.cache?.set(key, principal, [`user:${principal.userId}`], readAt);
    return principal;
  };
  return (next) => async (req) => {
    if (PUBLIC_METHODS.has(`${req.service.typeName}/${req.method.name}`)) return next(req);
    const header = req.header.get("authorization");
    if (!header) {
      // Mutual TLS: a verified client certificate names a service principal.
      const certificate = req.contextValues.get(requestInfoKey).clientCertificate;
      if (!certificate || !deps.serviceTokens) throw new UnauthenticatedError();
      req.contextValues.set(principalKey, await authenticateCertificate(certificate, deps.serviceTokens));
      return next(req);
    }
    const m = BEARER.exec(header);
    if (!m)
      throw new UnauthenticatedError("The authorization header must be `Bearer <token>`", "invalid_token");
    req.contextValues.set(principalKey, await authenticate(m[1]!));
    return next(req);
  };
}
