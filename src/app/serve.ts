import type { Config } from "../config/config.js";
import { clientAddresses } from "../server/client-address.js";
import { type FrontDoorEntry, startFrontDoorEntry } from "../server/front-door-entry.js";
import { type GrpcJsServer, startGrpcJsServer } from "../server/grpc-js-server.js";
import {
  createHttpEntry,
  createMetricsEntry,
  type NotChecked,
  type ReadinessCheck,
} from "../server/http-entry.js";
import { type Listener, listen } from "../server/listener.js";
import { STREAMING_REQUEST_PATHS } from "../server/service-table.js";
import { listenerTls } from "../server/tls-files.js";
import type { Deps } from "./build-deps.js";

/** The listeners: the one HTTP port, and the dedicated grpc-js port when configured. */
export interface Serving {
  listener: Listener;
  grpc: GrpcJsServer | undefined;
  /** The separate /metrics listener (loopback by default), when BERTH_METRICS_PORT is set. */
  metrics: Listener | undefined;
  /** The PostgreSQL front door, when BERTH_PG_PORT is set. */
  frontDoor: FrontDoorEntry | undefined;
  /** Aborted on close: open RPC streams end. */
  shutdown: AbortController;
}

/**
 * Methods whose request body may be larger than BERTH_MAX_BODY_BYTES: ImportBundle carries a whole
 * bundle (BERTH_MAX_BUNDLE_BYTES), base64-encoded in JSON (4/3 of it), with room for the rest.
 */
function bodyLimitsFor(config: Config): Record<string, number> {
  const importBytes = Math.ceil(config.maxBundleBytes / 3) * 4 + 64 * 1024;
  return { "berth.v1.BundleService/ImportBundle": Math.max(config.maxBodyBytes, importBytes) };
}

export async function serve(config: Config, deps: Deps, ready: () => boolean): Promise<Serving> {
  const { services, interceptors, dataPlane } = deps.core;
  const shutdown = new AbortController();
  const addresses = clientAddresses(config.trustedProxies);
  const handler = createHttpEntry({
    services,
    interceptors,
    maxBodyBytes: config.maxBodyBytes,
    bodyLimits: bodyLimitsFor(config),
    shutdownSignal: shutdown.signal,
    googleClientId: config.google.clientIds[0],
    ready,
    checks: readinessChecks(config, deps),
    notChecked: notChecked(deps),
    log: deps.log,
    metrics: dataPlane.metrics.registry,
    observeRequest: dataPlane.metrics.observeRequest,
    metricsToken: config.metrics.token,
    hsts: config.tls !== undefined,
    clientAddresses: addresses,
  });
  const tls = config.tls ? await listenerTls(config.tls) : undefined;
  const listener = await listen(config.host, config.port, handler, tls, {
    ...config.connectionLimits,
    uncapped: addresses.isTrustedProxy,
    streamsRequestBody: (path) => STREAMING_REQUEST_PATHS.has(path),
  });
  const metrics =
    config.metrics.port === undefined
      ? undefined
      : await listen(
          config.metrics.host,
          config.metrics.port,
          createMetricsEntry(dataPlane.metrics.registry),
          undefined,
          config.connectionLimits,
        );
  const grpc =
    config.grpcPort === undefined
      ? undefined
      : await startGrpcJsServer({
          host: config.host,
          port: config.grpcPort,
          services,
          interceptors,
          maxReceiveBytes: Math.max(16 * 1024 * 1024, ...Object.values(bodyLimitsFor(config))),
        });
  const frontDoor = await startFrontDoorEntry(config, deps.core, deps.log, tls?.context);
  return { listener, grpc, metrics, frontDoor, shutdown };
}

/** What /readyz checks: the store and the key provider always, Redis when it is configured. */
function readinessChecks(config: Config, deps: Deps): ReadinessCheck[] {
  const store = config.storeUrl ? "PostgreSQL" : "SQLite";
  const checks: ReadinessCheck[] = [
    { name: "store", checked: `SELECT 1 on the ${store} store`, run: () => deps.store.ping() },
    {
      name: "keys",
      checked: `the status of the ${deps.keys.primary.name} key provider (its current key version)`,
      run: () => deps.keys.status(),
    },
  ];
  const pingRedis = deps.core.pingRedis;
  if (pingRedis) checks.push({ name: "redis", checked: "PING to Redis", run: pingRedis });
  return checks;
}

/** What /readyz leaves out, named so that its absence is not mistaken for a pass. */
function notChecked(deps: Deps): NotChecked[] {
  return deps.core.pingRedis ? [] : [{ name: "redis", why: "not configured (BERTH_REDIS_URL is unset)" }];
}
