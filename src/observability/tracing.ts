import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/**
 * Berth's spans, over the OpenTelemetry API. Until tracing is started (src/observability/
 * tracing-sdk.ts, with an OTLP endpoint configured) there is no tracer: every helper here runs its
 * function as it is, without creating a span, a context or a closure more than it must.
 */
let tracer: Tracer | undefined;

/** Set by the SDK's start, cleared by its stop (only the tracer it set). */
export function setActiveTracer(next: Tracer | undefined, expected?: Tracer): void {
  if (next === undefined && expected !== undefined && tracer !== expected) return;
  tracer = next;
}

export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

/**
 * Runs `fn` inside a child span of the active span (the call's). Without tracing, or outside a
 * traced call (a background health check), it is just `fn()`: no root spans from housekeeping.
 */
export function inChildSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  // Not async itself: without tracing, fn's own promise is returned, with no extra turn.
  if (!tracer || !trace.getSpan(context.active())) return fn(undefined);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A child span the caller ends (a statement, whose rows are yielded over time); undefined without tracing. */
export function startChildSpan(name: string, attributes: Attributes): Span | undefined {
  if (!tracer || !trace.getSpan(context.active())) return undefined;
  return tracer.startSpan(name, { attributes });
}

/** The call's server span, a child of the caller's trace when it sent `traceparent`. */
export function startServerSpan(
  name: string,
  attributes: Attributes,
  parent = context.active(),
): Span | undefined {
  return tracer?.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
}

/** Marks a span failed with the error's kind and reason (never its message: it may quote data). */
export function failed(span: Span, err: unknown): void {
  const e = err as {
    kind?: unknown;
    details?: { reason?: unknown };
    failure?: { reason?: unknown };
    name?: unknown;
  };
  const kind = typeof e?.kind === "string" ? e.kind : typeof e?.name === "string" ? e.name : "error";
  // A BerthError's reason, or a failed check stage's.
  const given = e?.details?.reason ?? e?.failure?.reason;
  const reason = typeof given === "string" ? given : "";
  span.setAttributes({ "error.type": reason ? `${kind}/${reason}` : kind });
  span.setStatus({ code: SpanStatusCode.ERROR, message: kind });
}

/** The active span's ids, for the logs; empty without tracing. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  if (!tracer) return {};
  const ctx = trace.getSpan(context.active())?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}
