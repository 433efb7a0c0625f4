import type { HandlerContext } from "@connectrpc/connect";
import { UnauthenticatedError } from "../errors/berth-error.js";
import { type Principal, principalKey } from "../identity/principal.js";

/** The authenticated caller; the authn interceptor has already refused anonymous calls. */
export function principalOf(ctx: HandlerContext): Principal {
  const p = ctx.values.get(principalKey);
  if (!p) throw new UnauthenticatedError();
  return p;
}
