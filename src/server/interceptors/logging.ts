import { performance } from "node:perf_hooks";
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { principalKey } from "../../identity/principal.js";
import type { Logger } from "../../observability/logger.js";
import { requestInfoKey } from "../request-info.js";

/**
 * Outermost interceptor: one log line per request (request id, principal, method, outcome,
 * duration) and the x-request-id response header. Streams are logged when they end.
 */
export function loggingInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const info = req.contextValues.get(requestInfoKey);
    const line = (err: unknown) => {
      const principal = req.contextValues.get(principalKey);
      const code = err === undefined ? "ok" : err instanceof ConnectError ? Code[err.code] : "unknown";
      const fields = {
        request_id: info.requestId,
        method: `${req.service.typeName}/${req.method.name}`,
        transport: info.transport,
        ...(info.route ? { route: info.route } : {}),
        peer: info.peer,
        ...(info.proxy ? { proxy: info.proxy } : {}),
        principal: principal ? `${principal.kind}:${principal.username}` : "anonymous",
        outcome: code,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
      };
      if (err === undefined) {
        log.info(fields, "request");
        return;
      }
      // Refusals and failures are logged with their reason (never a body). The error's text can
      // carry what a database said about the data (a duplicate key's value): debug level only.
      log.info({ ...fields, reason: reasonOf(err) }, "request failed");
      log.debug(
        { request_id: info.requestId, error: err instanceof ConnectError ? err.rawMessage : "" },
        "request failure text",
      );
    };
    try {
      const res = await next(req);
      res.header.set("x-request-id", info.requestId);
      if (!res.stream) {
        line(undefined);
        return res;
      }
      return { ...res, message: loggedStream(res, line) } as StreamResponse;
    } catch (err) {
      if (err instanceof ConnectError) err.metadata.set("x-request-id", info.requestId);
      line(err);
      throw err;
    }
  };
}

async function* loggedStream(res: StreamResponse, line: (err: unknown) => void) {
  try {
    yield* res.message;
    line(undefined);
  } catch (err) {
    line(err);
    throw err;
  }
}

/** The stable reason of a failure (google.rpc.ErrorInfo), without its message. */
function reasonOf(err: unknown): string {
  if (!(err instanceof ConnectError)) return "";
  for (const d of err.details) {
    const value = (d as { value?: { reason?: unknown } }).value;
    if (typeof value?.reason === "string") return value.reason;
  }
  return "";
}
