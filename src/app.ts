import { Code, ConnectError } from "@connectrpc/connect";
import { buildDeps, type Deps, type StartOptions } from "./app/build-deps.js";
import { type Serving, serve } from "./app/serve.js";
import type { Membership } from "./cluster/membership.js";
import type { Config } from "./config/config.js";
import type { Logger } from "./observability/logger.js";
import { startTracing } from "./observability/tracing-sdk.js";
import type { DataPlane } from "./pools/data-plane.js";
import { describeCertificate, readServerTls } from "./server/tls-files.js";
import { describeStoreUrl } from "./store/postgres-store.js";
import type { Store } from "./store/store.js";

export interface Berth {
  readonly port: number;
  /** The dedicated grpc-js port, when BERTH_GRPC_PORT is set. */
  readonly grpcPort: number | undefined;
  /** The separate /metrics port, when BERTH_METRICS_PORT is set. */
  readonly metricsPort: number | undefined;
  /** The PostgreSQL front door's port, when BERTH_PG_PORT is set. */
  readonly pgPort: number | undefined;
  readonly url: string;
  readonly log: Logger;
  readonly store: Store;
  /** Pools, leases, health and metrics (for tests and operations). */
  readonly dataPlane: DataPlane;
  /** This instance among the others on its store: its id, its heartbeat, the duties it holds. */
  readonly membership: Membership;
  /** Graceful stop: not ready → stop accepting → drain → close the store. */
  close(): Promise<void>;
  /**
   * Re-reads the TLS certificate, key and client CA (SIGHUP). New connections get them; open ones
   * keep theirs. A file that cannot be read or parsed keeps the old ones and rejects.
   */
  reloadTls(): Promise<void>;
}

/** The URL to announce: a wildcard address is reached on loopback; IPv6 goes in brackets. */
function listeningUrl(config: Config, port: number): string {
  const displayHost = config.host.includes(":") ? `[${config.host}]` : config.host;
  const scheme = config.tls ? "https" : "http";
  return `${scheme}://${displayHost === "0.0.0.0" ? "127.0.0.1" : displayHost}:${port}`;
}

/**
 * The composition root: config → dependencies → serve. With an OTLP endpoint configured, tracing
 * starts first (so that the start's own calls are traced) and stops after everything else.
 */
export async function startBerth(config: Config, options: StartOptions = {}): Promise<Berth> {
  const tracing = startTracing({
    serviceName: config.tracing.serviceName,
    endpoint: config.tracing.endpoint,
  });
  const berth = await startServing(config, options).catch(async (err: unknown) => {
    await tracing?.shutdown();
    throw err;
  });
  if (!tracing) return berth;
  berth.log.info({ otlp_endpoint: redactedUrl(config.tracing.endpoint!) }, "tracing to OTLP");
  return { ...berth, close: () => berth.close().then(() => tracing.shutdown()) };
}

/** An endpoint as the log may show it: no user or password from its URL. */
function redactedUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

async function startServing(config: Config, options: StartOptions): Promise<Berth> {
  let ready = true;
  const deps = await buildDeps(config, options, () => ready);
  const serving = await serve(config, deps, () => ready).catch(async (err: unknown) => {
    deps.stopRetention();
    deps.stopSealing();
    await deps.core.close();
    await deps.store.close();
    throw err;
  });
  const url = listeningUrl(config, serving.listener.port);
  await deps.membership
    .start({
      address: url,
      pgPort: serving.frontDoor?.door.port,
      poolsHeld: () => deps.core.dataPlane.pools.all().length,
    })
    .catch(async (err: unknown) => {
      await berthHandle(config, deps, serving, url, () => {}).close();
      throw err;
    });
  deps.log.info(
    {
      url,
      ...(serving.grpc ? { grpc_port: serving.grpc.port } : {}),
      ...(serving.metrics ? { metrics_port: serving.metrics.port, metrics_host: config.metrics.host } : {}),
      ...(serving.frontDoor ? { pg_port: serving.frontDoor.door.port } : {}),
      data_dir: config.dataDir,
      store: config.storeUrl ? `postgresql ${describeStoreUrl(config.storeUrl)}` : "sqlite",
      key_provider: deps.keys.name,
    },
    "berth is listening",
  );
  return berthHandle(config, deps, serving, url, () => {
    ready = false;
  });
}

function berthHandle(config: Config, deps: Deps, serving: Serving, url: string, notReady: () => void): Berth {
  const { log, store, core, membership } = deps;
  const { listener, grpc } = serving;
  let closing: Promise<void> | undefined;
  return {
    async reloadTls() {
      if (!config.tls || !listener.setSecureContext) return;
      try {
        const context = await readServerTls(config.tls);
        listener.setSecureContext(context);
        serving.frontDoor?.setSecureContext(context);
        log.info(describeCertificate(context.cert as string), "tls certificate reloaded");
      } catch (err) {
        log.error({ error: (err as Error).message }, "tls reload failed; keeping the previous certificate");
        throw err;
      }
    },
    port: listener.port,
    grpcPort: grpc?.port,
    metricsPort: serving.metrics?.port,
    pgPort: serving.frontDoor?.door.port,
    url,
    log,
    store,
    dataPlane: core.dataPlane,
    membership,
    close() {
      closing ??= (async () => {
        notReady();
        deps.stopRetention();
        deps.stopSealing();
        // In-flight calls finish within the grace period; streams still open near its end (a Session,
        // a watch) are told to end then, before the listener cuts what is left.
        // The reason says Berth is going away, so the calls cut are not counted as clients cancelling.
        const goingAway = new ConnectError("Berth is shutting down", Code.Unavailable);
        const endStreams = setTimeout(
          () => serving.shutdown.abort(goingAway),
          Math.floor(config.shutdownGraceMs * 0.9),
        );
        await Promise.all([
          listener.close(config.shutdownGraceMs),
          grpc?.close(config.shutdownGraceMs),
          serving.metrics?.close(0),
          serving.frontDoor?.door.close(config.shutdownGraceMs),
        ]);
        clearTimeout(endStreams);
        serving.shutdown.abort(goingAway);
        await core.dataPlane.close(config.shutdownGraceMs);
        await core.close();
        deps.keys.stop();
        // Last, while the store is still open: the row goes, and the duties move at once.
        await membership.stop();
        await store.close();
        log.info("berth stopped");
      })();
      return closing;
    },
  };
}
