import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { TtlCache } from "../access/ttl-cache.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { Principal } from "../identity/principal.js";
import type { ServiceTokens } from "../identity/service-tokens.js";
import type { Logger } from "../observability/logger.js";
import type { ObservedRequest } from "../observability/request-metrics.js";
import type { Db } from "../store/store.js";
import { auditInterceptor } from "./interceptors/audit.js";
import { authnInterceptor } from "./interceptors/authn.js";
import { errorInterceptor } from "./interceptors/errors.js";
import { loggingInterceptor } from "./interceptors/logging.js";
import { metricsInterceptor } from "./interceptors/metrics.js";
import { tracingInterceptor } from "./interceptors/tracing.js";
import { type Services, servedServices } from "./service-table.js";

/**
 * The connect-node registration (gRPC, Connect and gRPC-Web on the HTTP port), derived from the
 * service table; REST and the grpc-js port take the same table and the same interceptors, so every
 * transport shares one pipeline.
 */
export function registerRoutes(services: Services, bodyLimits: Readonly<Record<string, number>> = {}) {
  return (router: ConnectRouter) => {
    for (const { service, impl } of servedServices(services)) {
      const limitOf = (m: { name: string }) => bodyLimits[`${service.typeName}/${m.name}`];
      if (!service.methods.some(limitOf)) {
        router.service(service, impl as never);
        continue;
      }
      // A method with its own body limit is registered alone, with it (the others keep the default).
      for (const method of service.methods) {
        const limit = limitOf(method);
        const fn = (impl as Record<string, unknown>)[method.localName];
        router.rpc(method as never, fn as never, limit ? { readMaxBytes: limit } : undefined);
      }
    }
  };
}

/** Order matters: the first wraps all the others. */
export function createInterceptors(deps: {
  log: Logger;
  db: Db;
  sessionCache?: TtlCache<Principal>;
  countError?: (kind: string, reason: string, method: string) => void;
  observeRequest?: (r: ObservedRequest) => void;
  audit?: AuditLog;
  serviceTokens?: ServiceTokens;
  rateLimit?: Interceptor;
}): Interceptor[] {
  return [
    // Outermost: the call's span is active for everything below, the log lines included.
    tracingInterceptor(),
    loggingInterceptor(deps.log),
    ...(deps.observeRequest ? [metricsInterceptor(deps.observeRequest)] : []),
    errorInterceptor(deps.log, deps.countError),
    // Inside error mapping (it sees Berth's own errors), outside authn (it sees who was refused).
    ...(deps.audit ? [auditInterceptor(deps.audit)] : []),
    authnInterceptor({
      db: deps.db,
      ...(deps.sessionCache ? { cache: deps.sessionCache } : {}),
      ...(deps.serviceTokens ? { serviceTokens: deps.serviceTokens } : {}),
    }),
    // After authn: limits are per principal.
    ...(deps.rateLimit ? [deps.rateLimit] : []),
  ];
}
