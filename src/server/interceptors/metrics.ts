import { performance } from "node:perf_hooks";
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { ObservedRequest } from "../../observability/request-metrics.js";
import { requestInfoKey } from "../request-info.js";

/**
 * Counts every call by transport, method, REST route and outcome, and times it (streams when they
 * end). It sits just inside logging, outside error mapping's conversion, so it sees the code the
 * client gets.
 */
export function metricsInterceptor(observe: (r: ObservedRequest) => void): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const info = req.contextValues.get(requestInfoKey);
    const method = `${req.service.typeName}/${req.method.name}`;
    const done = (err: unknown) =>
      observe({
        transport: info.transport,
        method,
        route: info.routeTemplate ?? "",
        code: codeOf(err),
        seconds: (performance.now() - started) / 1000,
      });
    try {
      const res = await next(req);
      if (!res.stream) {
        done(undefined);
        return res;
      }
      return { ...res, message: observedStream(res, done) } as StreamResponse;
    } catch (err) {
      done(err);
      throw err;
    }
  };
}

async function* observedStream(res: StreamResponse, done: (err: unknown) => void) {
  let ended = false;
  try {
    yield* res.message;
    ended = true;
    done(undefined);
  } catch (err) {
    ended = true;
    done(err);
    throw err;
  } finally {
    // The client stopped reading (it cancelled): the call ends here, cancelled.
    if (!ended) done(new ConnectError("", Code.Canceled));
  }
}

/** gRPC's code name in snake case: ok, not_found, resource_exhausted, … */
export function codeOf(err: unknown): string {
  if (err === undefined) return "ok";
  const code = err instanceof ConnectError ? err.code : Code.Unknown;
  return Code[code].replace(/[A-Z]/g, (c, i) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}
