import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AccessService } from "../gen/berth/v1/access_service_pb.js";
import { AdminService } from "../gen/berth/v1/admin_service_pb.js";
import { AuditService } from "../gen/berth/v1/audit_service_pb.js";
import { AuthService } from "../gen/berth/v1/auth_service_pb.js";
import { BrokerService } from "../gen/berth/v1/broker_service_pb.js";
import { BundleService } from "../gen/berth/v1/bundle_service_pb.js";
import { ConnectionService } from "../gen/berth/v1/connection_service_pb.js";
import { TokenService } from "../gen/berth/v1/token_service_pb.js";
import { UserService } from "../gen/berth/v1/user_service_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

interface TableEntry {
  /** The generated service descriptor. */
  readonly service: DescService;
  /** Listed by grpc.health.v1 (Check/List/Watch by name). The health service does not report on itself. */
  readonly healthChecked: boolean;
}

/**
 * Every service Berth serves, written once. The key names the service's implementation in
 * `Services` (built by createCore); connect-node routes, the grpc-js port, REST's method lookup and
 * the health service's list are all derived from this table, so a service added here is served on
 * every transport, and a service missing from `Services` does not compile.
 */
export const SERVICE_TABLE = {
  connection: { service: ConnectionService, healthChecked: true },
  auth: { service: AuthService, healthChecked: true },
  broker: { service: BrokerService, healthChecked: true },
  access: { service: AccessService, healthChecked: true },
  user: { service: UserService, healthChecked: true },
  audit: { service: AuditService, healthChecked: true },
  token: { service: TokenService, healthChecked: true },
  admin: { service: AdminService, healthChecked: true },
  bundle: { service: BundleService, healthChecked: true },
  health: { service: Health, healthChecked: false },
  // gRPC server reflection (tools discover the API without the protos); v1alpha for older tools.
  reflection: { service: ServerReflection, healthChecked: false },
  reflectionV1Alpha: { service: ServerReflectionV1Alpha, healthChecked: false },
} as const satisfies Record<string, TableEntry>;

type Table = typeof SERVICE_TABLE;
export type ServiceKey = keyof Table;

/** Every service implementation Berth serves, keyed as in the table. */
export type Services = { [K in ServiceKey]: ServiceImpl<Table[K]["service"]> };

/** One row of the table joined with its implementation. */
export interface ServedService {
  readonly key: ServiceKey;
  readonly service: DescService;
  readonly impl: object;
  readonly healthChecked: boolean;
}

const KEYS = Object.keys(SERVICE_TABLE) as ServiceKey[];

/** The table with each row's implementation, in table order. */
export function servedServices(services: Services): ServedService[] {
  return KEYS.map((key) => ({ key, ...SERVICE_TABLE[key], impl: services[key] }));
}

/** Every served service descriptor, in table order. */
export const SERVED: readonly DescService[] = KEYS.map((k) => SERVICE_TABLE[k].service);

/**
 * `/package.Service/Method` of every method whose request is a stream (client or bidi streaming:
 * a Session, reflection): its request body legitimately stays open for as long as the call lasts.
 * Every other request's body must arrive within the request timeout.
 */
export const STREAMING_REQUEST_PATHS: ReadonlySet<string> = new Set(
  SERVED.flatMap((s) =>
    s.methods
      .filter((m) => m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming")
      .map((m) => `/${s.typeName}/${m.name}`),
  ),
);

/** The services grpc.health.v1 reports on. */
export const HEALTH_CHECKED: readonly DescService[] = KEYS.filter((k) => SERVICE_TABLE[k].healthChecked).map(
  (k) => SERVICE_TABLE[k].service,
);

type Method = (req: unknown, ctx: unknown) => unknown;

/**
 * Each method's implementation by `package.Service/Method`, bound to its service object: how the
 * transports that run the interceptor chain themselves (REST, grpc-js) find what to call.
 */
export function methodsByPath(services: Services): Map<string, Method> {
  const methods = new Map<string, Method>();
  for (const { service, impl } of servedServices(services)) {
    for (const m of service.methods) {
      const fn = (impl as Record<string, Method | undefined>)[m.localName];
      if (fn) methods.set(`${service.typeName}/${m.name}`, fn.bind(impl));
    }
  }
  return methods;
}
