import type { Interceptor } from "@connectrpc/connect";
import { UnauthenticatedError } from "../../errors/berth-error.js";
import { principalKey } from "../../identity/principal.js";
import { authenticateToken } from "../../identity/sessions.js";
import type { Db } from "../../store/store.js";

/** Methods callable without a principal. Everything else needs a bearer token. */
const PUBLIC_METHODS = new Set([
  "berth.v1.AuthService/Login",
  "berth.v1.AuthService/LoginWithGoogle",
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/Watch",
]);

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function authnInterceptor(deps: { db: Db; clock?: () => Date }): Interceptor {
  const clock = deps.clock ?? (() => new Date());
  return (next) => async (req) => {
    if (PUBLIC_METHODS.has(`${req.service.typeName}/${req.method.name}`)) return next(req);
    const header = req.header.get("authorization");
    if (!header) throw new UnauthenticatedError();
    const m = BEARER.exec(header);
    if (!m)
      throw new UnauthenticatedError("The authorization header must be `Bearer <token>`", "invalid_token");
    req.contextValues.set(principalKey, await authenticateToken(deps.db, m[1]!, clock()));
    return next(req);
  };
}
