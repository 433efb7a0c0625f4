import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { DestinationStream } from "pino";
import { applyRetention, scheduleRetention } from "./audit/retention.js";
import type { Config, ServerTlsSettings } from "./config/config.js";
import { createCore } from "./core.js";
import { KeySet } from "./crypto/key-set.js";
import { KEYRING_FILE, openLocalKeyring } from "./crypto/local-keyring.js";
import { VaultTransit } from "./crypto/vault-transit.js";
import { asBerthError } from "./errors/mapping.js";
import { AccessService } from "./gen/berth/v1/access_service_pb.js";
import { AdminService } from "./gen/berth/v1/admin_service_pb.js";
import { AuditService } from "./gen/berth/v1/audit_service_pb.js";
import { AuthService } from "./gen/berth/v1/auth_service_pb.js";
import { BrokerService } from "./gen/berth/v1/broker_service_pb.js";
import { ConnectionService } from "./gen/berth/v1/connection_service_pb.js";
import { TokenService } from "./gen/berth/v1/token_service_pb.js";
import { UserService } from "./gen/berth/v1/user_service_pb.js";
import { Health } from "./gen/grpc/health/v1/health_pb.js";
import { bootstrapAdmin } from "./identity/users.js";
import { createLogger, type Logger } from "./observability/logger.js";
import type { DataPlane } from "./pools/data-plane.js";
import { createConsoleHandler } from "./server/console.js";
import { startGrpcJsServer } from "./server/grpc-js-server.js";
import { type Listener, listen } from "./server/listener.js";
import { clientCertificateOf, contextValuesFor, requestIdFrom, transportOf } from "./server/request-info.js";
import { createRestHandler } from "./server/rest.js";
import { registerRoutes } from "./server/routes.js";
import { openSqliteStore, type Store } from "./store/store.js";

export interface Berth {
  readonly port: number;
  /** The dedicated grpc-js port, when BERTH_GRPC_PORT is set. */
  readonly grpcPort: number | undefined;
  readonly url: string;
  readonly log: Logger;
  readonly store: Store;
  /** Pools, leases, health and metrics (for tests and operations). */
  readonly dataPlane: DataPlane;
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
}

/**
 * The configured key provider, plus the other one when it is still configured (the keyring file
 * exists, or BERTH_VAULT_ADDR is set) so that secrets written before a move keep decrypting until
 * `berth keys rewrap` has moved them. A missing transit key or a refused token stops the start; a
 * Vault that does not answer does not (decrypting calls answer UNAVAILABLE until it does).
 */
async function openKeys(config: Config, log: Logger): Promise<KeySet> {
  const vault = config.vault ? new VaultTransit(config.vault) : undefined;
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
  const hasKeyring = config.masterKey !== undefined || existsSync(join(config.dataDir, KEYRING_FILE));
  const local =
    config.kms === "local" || hasKeyring
      ? await openLocalKeyring(config.dataDir, config.masterKey)
      : undefined;
  const primary = config.kms === "vault" ? vault! : local!;
  return new KeySet(
    primary,
    [local, vault].filter((p): p is NonNullable<typeof p> => p !== undefined && p !== primary),
  );
}

/** The certificate, key and client CA files, checked as a set before they replace anything. */
async function readServerTls(tls: ServerTlsSettings): Promise<SecureContextOptions> {
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certFile, "utf8"),
    readFile(tls.keyFile, "utf8"),
    tls.clientCaFile ? readFile(tls.clientCaFile, "utf8") : undefined,
  ]);
  const context = { cert, key, ...(ca ? { ca } : {}) };
  // Throws (naming no secret) if the key does not match the certificate or either is not PEM.
  createSecureContext(context);
  return context;
}

function describeCertificate(pem: string): Record<string, string> {
  const c = new X509Certificate(pem);
  return {
    subject: c.subject.replace(/\n/g, ", "),
    valid_to: new Date(c.validTo).toISOString(),
    serial: c.serialNumber,
  };
}

/** The composition root: config → dependencies → one listener. */
export async function startBerth(config: Config, options: StartOptions = {}): Promise<Berth> {
  const log = createLogger(config.logLevel, options.logDestination);
  const store = await openSqliteStore(config.dataDir);
  const keys = await openKeys(config, log);
  await bootstrapAdmin(store.db, config.adminPassword, log, options.announce);

  let ready = true;
  const core = createCore({
    db: store.db,
    keys,
    log,
    settings: config,
    ready: () => ready,
  });
  await core.ready();
  const stopRetention = scheduleRetention(
    async () => {
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
  );
  const { dataPlane, services, interceptors } = core;
  const shutdown = new AbortController();
  const serveConsole = createConsoleHandler({ googleClientId: config.google.clientIds[0] });
  const rpc = connectNodeAdapter({
    routes: registerRoutes(services),
    interceptors,
    readMaxBytes: config.maxBodyBytes,
    shutdownSignal: shutdown.signal,
    contextValues: (req) =>
      contextValuesFor({
        requestId: requestIdFrom(req.headers["x-request-id"]),
        peer: req.socket?.remoteAddress ?? "",
        transport: transportOf(req.headers["content-type"]),
        clientCertificate: clientCertificateOf(req.socket),
      }),
    // Whatever is not an RPC is the web console (or a 404).
    fallback: (req, res) => serveConsole(req, res, new URL(req.url ?? "/", "http://berth").pathname),
  });
  const rest = createRestHandler({ services, interceptors, maxBodyBytes: config.maxBodyBytes });

  const listener: Listener = await listen(
    config.host,
    config.port,
    (req, res) => {
      const url = new URL(req.url ?? "/", "http://berth");
      if (url.pathname === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"status":"ok"}');
      } else if (url.pathname === "/readyz") {
        const ok = ready;
        store
          .ping()
          .then(() => ok)
          .catch(() => false)
          .then((up) => {
            res.writeHead(up ? 200 : 503, { "content-type": "application/json" });
            res.end(JSON.stringify({ status: up ? "ready" : "not_ready" }));
          });
      } else if (url.pathname === "/metrics") {
        const registry = dataPlane.metrics.registry;
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": registry.contentType });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
      } else if (url.pathname.startsWith("/api/")) {
        void rest(req, res, url, req.socket?.remoteAddress ?? "");
      } else {
        rpc(req, res);
      }
    },
    config.tls
      ? {
          context: await readServerTls(config.tls),
          requestCert: config.tls.clientCaFile !== undefined,
          requireCert: config.tls.clientCaFile !== undefined && config.tls.clientAuth === "require",
        }
      : undefined,
  );
  const grpc =
    config.grpcPort === undefined
      ? undefined
      : await startGrpcJsServer({
          host: config.host,
          port: config.grpcPort,
          services: [
            [ConnectionService, services.connection],
            [AuthService, services.auth],
            [BrokerService, services.broker],
            [AccessService, services.access],
            [UserService, services.user],
            [AuditService, services.audit],
            [TokenService, services.token],
            [AdminService, services.admin],
            [Health, services.health],
          ],
          interceptors,
        });
  const displayHost = config.host.includes(":") ? `[${config.host}]` : config.host;
  const scheme = config.tls ? "https" : "http";
  const url = `${scheme}://${displayHost === "0.0.0.0" ? "127.0.0.1" : displayHost}:${listener.port}`;
  log.info(
    { url, ...(grpc ? { grpc_port: grpc.port } : {}), data_dir: config.dataDir, key_provider: keys.name },
    "berth is listening",
  );

  let closing: Promise<void> | undefined;
  return {
    async reloadTls() {
      if (!config.tls || !listener.setSecureContext) return;
      try {
        const context = await readServerTls(config.tls);
        listener.setSecureContext(context);
        log.info(describeCertificate(context.cert as string), "tls certificate reloaded");
      } catch (err) {
        log.error({ error: (err as Error).message }, "tls reload failed; keeping the previous certificate");
        throw err;
      }
    },
    port: listener.port,
    grpcPort: grpc?.port,
    url,
    log,
    store,
    dataPlane,
    close() {
      closing ??= (async () => {
        ready = false;
        stopRetention();
        shutdown.abort();
        await Promise.all([listener.close(config.shutdownGraceMs), grpc?.close(config.shutdownGraceMs)]);
        await dataPlane.close(config.shutdownGraceMs);
        await core.close();
        await store.close();
        log.info("berth stopped");
      })();
      return closing;
    },
  };
}
