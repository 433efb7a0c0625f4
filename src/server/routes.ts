import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { TtlCache } from "../access/ttl-cache.js";
import type { AuditLog } from "../audit/audit-log.js";
import { AccessService } from "../gen/berth/v1/access_service_pb.js";
import { AdminService } from "../gen/berth/v1/admin_service_pb.js";
import { AuditService } from "../gen/berth/v1/audit_service_pb.js";
import { AuthService } from "../gen/berth/v1/auth_service_pb.js";
import { BrokerService } from "../gen/berth/v1/broker_service_pb.js";
import { ConnectionService } from "../gen/berth/v1/connection_service_pb.js";
import { TokenService } from "../gen/berth/v1/token_service_pb.js";
import { UserService } from "../gen/berth/v1/user_service_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import type { Principal } from "../identity/principal.js";
import type { ServiceTokens } from "../identity/service-tokens.js";
import type { Logger } from "../observability/logger.js";
import type { Db } from "../store/store.js";
import { auditInterceptor } from "./interceptors/audit.js";
import { authnInterceptor } from "./interceptors/authn.js";
import { errorInterceptor } from "./interceptors/errors.js";
import { loggingInterceptor } from "./interceptors/logging.js";

/** Every service implementation Berth serves. */
export interface Services {
  connection: ServiceImpl<typeof ConnectionService>;
  auth: ServiceImpl<typeof AuthService>;
  broker: ServiceImpl<typeof BrokerService>;
  access: ServiceImpl<typeof AccessService>;
  user: ServiceImpl<typeof UserService>;
  audit: ServiceImpl<typeof AuditService>;
  token: ServiceImpl<typeof TokenService>;
  admin: ServiceImpl<typeof AdminService>;
  health: ServiceImpl<typeof Health>;
}

/** The served services, by name, for health checks and reflection-like listings. */
export const SERVED: readonly DescService[] = [
  ConnectionService,
  AuthService,
  BrokerService,
  AccessService,
  UserService,
  AuditService,
  TokenService,
  AdminService,
];

/**
 * The one registration point: the HTTP port (gRPC, Connect, gRPC-Web) and the REST layer both take
 * their services and interceptors from here, so every transport shares the same pipeline.
 */
export function registerRoutes(services: Services) {
  return (router: ConnectRouter) => {
    router.service(ConnectionService, services.connection);
    router.service(AuthService, services.auth);
    router.service(BrokerService, services.broker);
    router.service(AccessService, services.access);
    router.service(UserService, services.user);
    router.service(AuditService, services.audit);
    router.service(TokenService, services.token);
    router.service(AdminService, services.admin);
    router.service(Health, services.health);
  };
}

/** Order matters: the first wraps all the others. */
export function createInterceptors(deps: {
  log: Logger;
  db: Db;
  sessionCache?: TtlCache<Principal>;
  countError?: (kind: string, reason: string) => void;
  audit?: AuditLog;
  serviceTokens?: ServiceTokens;
  rateLimit?: Interceptor;
}): Interceptor[] {
  return [
    loggingInterceptor(deps.log),
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
