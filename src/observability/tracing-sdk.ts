import { context, propagation, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { setActiveTracer } from "./tracing.js";

export interface TracingOptions {
  serviceName: string;
  serviceVersion?: string;
  /** The OTLP/HTTP traces URL (http://collector:4318/v1/traces). */
  endpoint?: string | undefined;
  /** Instead of OTLP (tests: an InMemorySpanExporter); spans are exported one by one. */
  exporter?: SpanExporter;
}

export interface Tracing {
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Exports what is buffered, then stops tracing (the helpers go back to no-ops). */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK: a tracer provider registered as the process's (with the
 * AsyncLocalStorage context manager and W3C trace-context propagation), spans batched to the
 * OTLP endpoint. Undefined when neither an endpoint nor an exporter is given: tracing stays off.
 */
export function startTracing(options: TracingOptions): Tracing | undefined {
  const exporter =
    options.exporter ?? (options.endpoint ? new OTLPTraceExporter({ url: options.endpoint }) : undefined);
  if (!exporter) return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }),
    spanProcessors: [options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  provider.register();
  const tracer = provider.getTracer("berth");
  setActiveTracer(tracer);
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      setActiveTracer(undefined, tracer);
      await provider.shutdown();
      // The process's registrations go, so that another start (a test's next Berth) can register.
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
