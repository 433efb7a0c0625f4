import { existsSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { DestinationStream } from "pino";
import { applyRetention, markPoolsInUse, scheduleRetention } from "./audit/retention.js";
import { Membership } from "./cluster/membership.js";
import type { Config } from "./config/config.js";
import { sealClearRows } from "./connections/seal-clear-rows.js";
import { type Core, createCore } from "./core.js";
import type { KeyProvider } from "./crypto/key-provider.js";
import { KeySet } from "./crypto/key-set.js";
import { KEYRING_FILE, openLocalKeyring } from "./crypto/local-keyring.js";
import { StoredKeyring } from "./crypto/stored-keyring.js";
import { asBerthError } from "./errors/mapping.js";
import { bootstrapAdmin } from "./identity/users.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { startTracing } from "./observability/tracing-sdk.js";
import type { DataPlane } from "./pools/data-plane.js";
import { type FrontDoorEntry, startFrontDoorEntry } from "./server/front-door-entry.js";
import { type GrpcJsServer, startGrpcJsServer } from "./server/grpc-js-server.js";
import {
  createHttpEntry,
  createMetricsEntry,
  type NotChecked,
  type ReadinessCheck,
} from "./server/http-entry.js";
import { type Listener, listen } from "./server/listener.js";
import { describeCertificate, listenerTls, readServerTls } from "./server/tls-files.js";
import { describeStoreUrl, openPostgresStore } from "./store/postgres-store.js";
import { openSqliteStore, type Store } from "./store/store.js";

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

export interface StartOptions {
  logDestination?: DestinationStream;
  /** Where the generated admin password is announced (stderr by default). */
  announce?: (line: string) => void;
  /** The heartbeat interval (5 s by default); tests shorten it. */
  heartbeatMs?: number;
}

/**
 * The configured key provider, plus the other one when it is still configured (the keyring file
 * exists, or BERTH_VAULT_ADDR is set) so that secrets written before a move keep decrypting until
 * `berth keys rewrap` has moved them. A missing transit key or a refused token stops the start; a
 * Vault that does not answer does not (decrypting calls answer UNAVAILABLE until it does).
 */
async function openKeys(config: Config, store: Store, log: Logger): Promise<KeySet> {
  // node-vault loads only where Vault is configured: every other start is spared its module graph.
  const vault = config.vault
    ? new (await import("./crypto/vault-transit.js")).VaultTransit(config.vault)
    : undefined;
  if (vault) {
    try {
      await vault.verify();
    } catch (err) {
      const e = asBerthError(err);
      if (e.details.reason === "kms_key_missing" || e.details.reason === "kms_permission_denied") {
        throw new Error(
          `Vault transit key ${config.vault!.mount}/keys/${config.vault!.keyName} cannot be used: ${e.message}. Create it first (vault write -f ${config.vault!.mount}/keys/${config.vault!.keyName}); Berth never creates keys.`,
        );
      }
      log.warn({ reason: e.details.reason, error: e.message }, "vault transit is not answering yet");
    }
  }
  const local = await openLocal(config, store);
  const primary = config.kms === "vault" ? vault! : local!;
  return new KeySet(
    primary,
    [local, vault].filter((p): p is NonNullable<typeof p> => p !== undefined && p !== primary),
  );
}

/**
 * Shared mode (a PostgreSQL store) with BERTH_MASTER_KEY: the keyring in the store, wrapped by it,
 * so that every instance decrypts what another wrote. Otherwise the embedded default: the master
 * key itself, or the keyring file in the data directory.
 */
async function openLocal(config: Config, store: Store): Promise<KeyProvider | undefined> {
  if (config.storeUrl && config.masterKey)
    return StoredKeyring.open(store.db, config.masterKey, config.dataDir);
  const hasKeyring = config.masterKey !== undefined || existsSync(join(config.dataDir, KEYRING_FILE));
  return config.kms === "local" || hasKeyring
    ? openLocalKeyring(config.dataDir, config.masterKey)
    : undefined;
}

/** What Berth runs on: the store, the keys, the core (services, data plane) and retention. */
interface Deps {
  log: Logger;
  store: Store;
  membership: Membership;
  keys: KeySet;
  core: Core;
  stopRetention: () => void;
  stopSealing: () => void;
}

async function buildDeps(config: Config, options: StartOptions, ready: () => boolean): Promise<Deps> {
  const log = createLogger(config.logLevel, options.logDestination);
  const store = await openStore(config, log);
  const membership = new Membership({
    db: store.db,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    onError: (err, what) => log.warn({ error: (err as Error).message }, `${what} failed`),
    onPruned: (ids) => log.info({ instances: ids }, "instances without a heartbeat dropped"),
  });
  let stopSealing = () => {};
  let keys: KeySet | undefined;
  try {
    keys = await openKeys(config, store, log);
    stopSealing = await startSealing(store, keys, log, membership);
    await bootstrapAdmin(store.db, config.adminPassword, log, options.announce);
    const core = createCore({ db: store.db, keys, log, settings: config, ready, instances: membership });
    await core.ready();
    const stopRetention = startRetention(config, store, core, log, membership);
    return { log, store, membership, keys, core, stopRetention, stopSealing };
  } catch (err) {
    // A start that failed lets go of the store: its sessions, and SQLite's data directory lock.
    stopSealing();
    keys?.stop();
    await store.close().catch(() => {});
    throw err;
  }
}

/** PostgreSQL when BERTH_STORE_URL is set (shared mode), else the SQLite file in the data directory. */
function openStore(config: Config, log: Logger): Promise<Store> {
  if (!config.storeUrl) return openSqliteStore(config.dataDir);
  const where = describeStoreUrl(config.storeUrl);
  return openPostgresStore(config.storeUrl, {
    onIdleError: (err) => log.warn({ store: where, error: err.message }, "an idle store session failed"),
  });
}

const SEAL_RETRY_MS = 30_000;

/**
 * Connections and check results stored in clear before migration 0009 are
 * sealed before anything is served; the clear copies are blanked and the journal emptied of them.
 * A key provider that does not answer yet does not stop the start (as in openKeys): the pass is
 * retried until it completes, and meanwhile those connections answer an error, never clear values.
 */
async function startSealing(
  store: Store,
  keys: KeySet,
  log: Logger,
  membership: Membership,
): Promise<() => void> {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const pass = async (): Promise<boolean> => {
    if (running) return false;
    running = true;
    try {
      // One instance seals at a time; the others try again later (and then find nothing to seal).
      const sealed = await membership.exclusive("seal", () => sealClearRows(store.db, keys));
      if (!sealed) return false;
      const r = sealed.value;
      if (r.connections + r.checks > 0) {
        await store.compactJournal();
        log.info({ connections: r.connections, checks: r.checks }, "stored settings sealed");
      }
      if (r.unreadable.length > 0)
        log.warn({ connections: r.unreadable }, "stored settings in clear could not be read; not sealed");
      return true;
    } catch (err) {
      log.warn({ error: (err as Error).message }, "stored settings could not be sealed yet; retrying");
      return false;
    } finally {
      running = false;
    }
  };
  if (await pass()) return () => {};
  timer = setInterval(() => {
    void pass().then((done) => {
      if (done) clearInterval(timer);
    });
  }, SEAL_RETRY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Audit, checks and deleted connections past their retention, pruned on a schedule — by the one
 * instance holding the "retention" duty, which also runs a pass each time it takes the duty over.
 */
function startRetention(
  config: Config,
  store: Store,
  core: Core,
  log: Logger,
  membership: Membership,
): () => void {
  let tick = () => {};
  membership.duty("retention", () => tick());
  const stop = scheduleRetention(
    async () => {
      // On every instance, before the holder's pass: the pools open here are use.
      await markPoolsInUse(
        store.db,
        core.dataPlane.pools.all().map((p) => p.connectionId),
      );
      if (!membership.holds("retention")) return;
      const r = await applyRetention(
        store.db,
        core.audit,
        config.retention,
        new Date(),
        (id) => core.dataPlane.pools.poolsOf(id).length > 0,
      );
      if (r.checks + r.auditEvents + r.connections.length > 0) log.info({ ...r }, "retention applied");
    },
    (err) => log.warn({ error: (err as Error).message }, "retention pass failed"),
    (run) => {
      tick = run;
    },
  );
  return stop;
}

/** The listeners: the one HTTP port, and the dedicated grpc-js port when configured. */
interface Serving {
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

async function serve(config: Config, deps: Deps, ready: () => boolean): Promise<Serving> {
  const { services, interceptors, dataPlane } = deps.core;
  const shutdown = new AbortController();
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
  });
  const tls = config.tls ? await listenerTls(config.tls) : undefined;
  const listener = await listen(config.host, config.port, handler, tls, config.connectionLimits);
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
