import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { atLeast } from "../access/levels.js";
import type { CheckTarget } from "../connections/connection-checks.js";
import type { ConnectionRegistry } from "../connections/registry.js";
import type { ConnectionView } from "../connections/row-mapping.js";
import type { ConnectionStatusId } from "../connections/settings.js";
import { UnimplementedError, ValidationError } from "../errors/berth-error.js";
import { AccessLevel } from "../gen/berth/v1/access_service_pb.js";
import {
  type ConnectionHealth,
  ConnectionHealthSchema,
  type ConnectionService,
} from "../gen/berth/v1/connection_service_pb.js";
import type { ConnectionSpec } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import type { DataPlane } from "../pools/data-plane.js";
import type { HostHealthSnapshot } from "../pools/host-snapshot.js";
import { poolOperationFailed } from "../pools/pool-errors.js";
import { initializePool } from "../pools/pool-init.js";
import type { PoolStatsSnapshot } from "../pools/pool-types.js";
import { UNREACHABLE } from "../pools/unreachable.js";
import { ACCESS_LEVEL_NAMES } from "./access-service.js";
import { principalOf } from "./context.js";
import { type FrontDoorClientsSource, frontDoorClientsMessage } from "./front-door-clients.js";
import { connectionToProto, poolStatsMessage, STATUS_NAMES, specFromProto } from "./mapping.js";

export interface ConnectionServiceDeps {
  registry: ConnectionRegistry;
  /** Absent in a control-plane-only setup: pool operations then answer unimplemented. */
  dataPlane?: DataPlane;
  /** How long a reset lets borrowed sessions finish. */
  resetGraceMs?: number;
  /** The PostgreSQL front door's clients of a connection on this instance (absent: no front door). */
  frontDoorClients?: FrontDoorClientsSource;
  /** BERTH_CREATE_INITIALIZES_POOL: what a Create that does not say initialize_pool does. */
  initializePoolOnCreate?: boolean;
}

type Target =
  | { case: "id"; value: string }
  | { case: "spec"; value: ConnectionSpec }
  | { case: undefined; value?: undefined };

function checkTarget(target: Target): CheckTarget {
  if (target.case === "id") return { id: target.value };
  if (target.case === "spec") return { spec: specFromProto(target.value) };
  throw ValidationError.field(
    "target",
    "give either id (a saved connection) or spec (an unsaved configuration)",
  );
}

/** ConnectionService: thin mapping between the wire and the registry. */
export function createConnectionService({
  registry,
  dataPlane,
  resetGraceMs = 10_000,
  frontDoorClients,
  initializePoolOnCreate = false,
}: ConnectionServiceDeps): ServiceImpl<typeof ConnectionService> {
  async function health(principal: Principal, id: string): Promise<ConnectionHealth> {
    const s = await registry.status(principal, id);
    const c = s.connection;
    const pools = dataPlane?.pools.poolsOf(id) ?? [];
    const hosts = dataPlane?.health.hosts(id) ?? [];
    const clients = frontDoorClients?.(c.id);
    // Who is connected, and from where, is for the connection's admins; everyone else sees counts.
    const listed = clients !== undefined && atLeast(await registry.levelOf(principal, id), "admin");
    const maxLagMs = pools[0]?.settings.engineOptions.maxReplicaLagMs ?? 0;
    return create(ConnectionHealthSchema, {
      connectionId: c.id,
      // A live health check outranks the status stored at the last test.
      status: STATUS_NAMES[dataPlane?.health.status(id) ?? (c.status as ConnectionStatusId)],
      ...(c.last_tested_at ? { lastTestedAt: timestampFromDate(new Date(c.last_tested_at)) } : {}),
      ...(s.lastTest ? { lastTest: s.lastTest } : {}),
      ...(pools.length > 0 ? { pool: poolStatsMessage(combinedStats(pools.map((p) => p.stats()))) } : {}),
      hosts: hosts.map((h) => hostMessage(h, maxLagMs)),
      ...(clients ? { frontDoor: frontDoorClientsMessage(clients, listed) } : {}),
      noPrimary: dataPlane?.health.noPrimary(id) ?? false,
    });
  }

  return {
    async createConnection(req, ctx) {
      const created = await registry.create(principalOf(ctx), specFromProto(req.spec));
      if (!(req.initializePool ?? initializePoolOnCreate) || !dataPlane)
        return { connection: connectionToProto(created) };
      return withPoolInitialized(registry, dataPlane, created);
    },
    async getConnection(req, ctx) {
      const principal = principalOf(ctx);
      const connection = connectionToProto(await registry.get(principal, req.id));
      const level = await registry.levelOf(principal, req.id);
      return { connection, accessLevel: level ? ACCESS_LEVEL_NAMES[level] : AccessLevel.UNSPECIFIED };
    },
    async listConnections(req, ctx) {
      const page = await registry.list(principalOf(ctx), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { connections: page.connections.map(connectionToProto), nextPageToken: page.nextPageToken };
    },
    async updateConnection(req, ctx) {
      const c = await registry.update(principalOf(ctx), req.id, specFromProto(req.spec), req.expectedVersion);
      return { connection: connectionToProto(c) };
    },
    async deleteConnection(req, ctx) {
      await registry.delete(principalOf(ctx), req.id, req.expectedVersion);
      return {};
    },
    async testConnection(req, ctx) {
      return { result: await registry.test(principalOf(ctx), checkTarget(req.target), req.timeoutMs) };
    },
    async validateConnection(req, ctx) {
      return { result: await registry.validate(principalOf(ctx), checkTarget(req.target), req.timeoutMs) };
    },
    async resetPool(req, ctx) {
      if (!dataPlane) throw new UnimplementedError("ResetPool without a data plane");
      // Resetting drops every session of every user of the connection: an editor's decision.
      await registry.authorize(principalOf(ctx), req.id, "editor", "reset its pool");
      try {
        const reset = await dataPlane.resetPool(req.id, resetGraceMs, { forgetRoles: req.forgetRoles });
        return { pool: poolStatsMessage(reset) };
      } catch (err) {
        // The RFC's pool error body, with the pool's numbers where there is a pool.
        throw poolOperationFailed(err, dataPlane.pools.poolsOf(req.id)[0]?.stats());
      }
    },
    async getConnectionStatus(req, ctx) {
      return { health: await health(principalOf(ctx), req.id) };
    },
    async *watchConnectionStatus(req, ctx) {
      const principal = principalOf(ctx);
      const intervalMs = req.intervalMs === 0 ? 5_000 : Math.max(250, req.intervalMs);
      // Wake on a health change of this connection, or every interval (pool counters move silently).
      let wake: (() => void) | undefined;
      const onChange = (id: string) => {
        if (id === req.id) wake?.();
      };
      dataPlane?.health.on("change", onChange);
      try {
        while (!ctx.signal.aborted) {
          yield { health: await health(principal, req.id) };
          await new Promise<void>((resolve) => {
            // One listener per wait, removed when the wait ends: a long watch must not pile them up.
            const done = () => {
              clearTimeout(timer);
              ctx.signal.removeEventListener("abort", done);
              resolve();
            };
            const timer = setTimeout(done, intervalMs);
            wake = done;
            ctx.signal.addEventListener("abort", done, { once: true });
          });
        }
      } finally {
        dataPlane?.health.off("change", onChange);
      }
    },
  };
}

/**
 * The RFC's creation flow past "Store Connection": Initialize Pool, then Update Status. A pool that
 * does not open leaves the connection created, with the status that says why and the pool error.
 */
async function withPoolInitialized(
  registry: ConnectionRegistry,
  dataPlane: DataPlane,
  created: ConnectionView,
) {
  const init = await initializePool(dataPlane.pools, created.id);
  const status: ConnectionStatusId = init.ok
    ? "healthy"
    : UNREACHABLE.has(String(init.error.details.reason))
      ? "unavailable"
      : "failed";
  await registry.recordPoolStatus(created.id, status);
  const stats = init.ok ? init.stats : dataPlane.pools.poolsOf(created.id)[0]?.stats();
  return {
    connection: connectionToProto({ ...created, status }),
    poolInitialization: {
      initialized: init.ok,
      ...(stats ? { pool: poolStatsMessage(stats) } : {}),
      ...(init.ok
        ? {}
        : {
            errorKind: init.error.kind,
            errorReason: String(init.error.details.reason ?? init.error.kind),
            errorMessage: init.error.message,
          }),
    },
  };
}

/** One host's health as the API shows it. */
function hostMessage(h: HostHealthSnapshot, maxLagMs: number) {
  return {
    host: { server: h.server, port: h.port },
    role: h.role,
    status: STATUS_NAMES[h.status],
    ...(h.lastCheckedAt ? { lastCheckedAt: timestampFromDate(h.lastCheckedAt) } : {}),
    lastErrorReason: h.lastErrorReason,
    lastLatencyMs: Math.round(h.lastLatencyMs * 1000) / 1000,
    configuredRole: h.configuredRole,
    slot: h.slot,
    timeline: h.timeline,
    position: h.position,
    ...(h.replicaLagMs !== undefined ? { replicaLagMs: h.replicaLagMs } : {}),
    fenced: h.fenced,
    ...(h.roleChangedAt ? { roleChangedAt: timestampFromDate(h.roleChangedAt) } : {}),
    writer: h.writer,
    // As routing decides it (HealthMonitor.readable): an observed replica whose lag is unknown counts as lagging.
    lagging:
      h.role === "replica" &&
      h.position !== "" &&
      maxLagMs > 0 &&
      (h.replicaLagMs === undefined || h.replicaLagMs > maxLagMs),
  };
}

/** A connection's pools as one: counts add up; the latency figures are the worst host's. */
function combinedStats(all: PoolStatsSnapshot[]): PoolStatsSnapshot {
  return all.reduce((a, b) => ({
    size: a.size + b.size,
    idle: a.idle + b.idle,
    inUse: a.inUse + b.inUse,
    opening: a.opening + b.opening,
    waiting: a.waiting + b.waiting,
    maxSize: a.maxSize + b.maxSize,
    minSize: a.minSize + b.minSize,
    acquireWaitP95Ms: Math.max(a.acquireWaitP95Ms, b.acquireWaitP95Ms),
    queryP95Ms: Math.max(a.queryP95Ms, b.queryP95Ms),
    queriesLastMinute: a.queriesLastMinute + b.queriesLastMinute,
  }));
}
