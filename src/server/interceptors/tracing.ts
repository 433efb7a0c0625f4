import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { startServerSpan, tracingEnabled } from "../../observability/tracing.js";
import { requestInfoKey } from "../request-info.js";
import { codeOf } from "./metrics.js";

const HEADERS = {
  get: (h: Headers, key: string) => h.get(key) ?? undefined,
  keys: (h: Headers) => [...h.keys()],
};

// What gRPC's semantic conventions count as the server's fault; the rest are the caller's.
const SERVER_FAULTS = new Set<number>([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * Outermost: one server span per call (a child of the caller's trace when it sent `traceparent`),
 * active while the call runs, so that the pool acquire, the statement and the test stages below
 * become its children and every log line carries its trace id. Without tracing: next(req), as is.
 */
export function tracingInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!tracingEnabled()) return next(req);
    const info = req.contextValues.get(requestInfoKey);
    const parent = propagation.extract(ROOT_CONTEXT, req.header, HEADERS);
    const span = startServerSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        "rpc.system": info.transport.startsWith("grpc") ? "grpc" : "connect_rpc",
        "rpc.service": req.service.typeName,
        "rpc.method": req.method.name,
        "berth.transport": info.transport,
        "berth.request_id": info.requestId,
        ...(info.routeTemplate ? { "http.route": info.routeTemplate } : {}),
      },
      parent,
    )!;
    const ctx = trace.setSpan(parent, span);
    try {
      const res = await context.with(ctx, () => next(req));
      if (!res.stream) {
        end(span, undefined);
        return res;
      }
      return { ...res, message: tracedStream(res.message, ctx, span) } as StreamResponse;
    } catch (err) {
      end(span, err);
      throw err;
    }
  };
}

/** Each step of a response stream runs in the call's context (a generator does not keep one). */
async function* tracedStream<T>(messages: AsyncIterable<T>, ctx: Context, span: Span): AsyncGenerator<T> {
  const it = messages[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      const step = await context.with(ctx, () => it.next());
      if (step.done) break;
      yield step.value;
    }
    ended = true;
    end(span, undefined);
  } catch (err) {
    ended = true;
    end(span, err);
    throw err;
  } finally {
    // The client stopped reading: the inner stream is closed in the call's context, and the call
    // ends here, cancelled.
    if (!ended) {
      await context.with(ctx, () => it.return?.());
      end(span, new ConnectError("", Code.Canceled));
    }
  }
}

function end(span: Span, err: unknown): void {
  const code: number = err === undefined ? 0 : err instanceof ConnectError ? err.code : Code.Unknown;
  span.setAttributes({ "rpc.grpc.status_code": code, "berth.code": codeOf(err) });
  if (SERVER_FAULTS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: codeOf(err) });
  span.end();
}
