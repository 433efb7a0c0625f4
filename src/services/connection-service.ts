import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { CheckTarget, ConnectionRegistry } from "../connections/registry.js";
import type { ConnectionStatusId } from "../connections/settings.js";
import { UnimplementedError, ValidationError } from "../errors/berth-error.js";
import type { ConnectionService } from "../gen/berth/v1/connection_service_pb.js";
import type { ConnectionSpec } from "../gen/berth/v1/types_pb.js";
import { principalOf } from "./context.js";
import { connectionToProto, STATUS_NAMES, specFromProto } from "./mapping.js";

export interface ConnectionServiceDeps {
  registry: ConnectionRegistry;
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
}: ConnectionServiceDeps): ServiceImpl<typeof ConnectionService> {
  return {
    async createConnection(req, ctx) {
      return {
        connection: connectionToProto(await registry.create(principalOf(ctx), specFromProto(req.spec))),
      };
    },
    async getConnection(req, ctx) {
      return { connection: connectionToProto(await registry.get(principalOf(ctx), req.id)) };
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
    async resetPool() {
      throw new UnimplementedError("ResetPool (pools arrive with the data plane)");
    },
    async getConnectionStatus(req, ctx) {
      const s = await registry.status(principalOf(ctx), req.id);
      const c = s.connection;
      return {
        health: {
          connectionId: c.id,
          status: STATUS_NAMES[c.status as ConnectionStatusId],
          ...(c.last_tested_at ? { lastTestedAt: timestampFromDate(new Date(c.last_tested_at)) } : {}),
          ...(s.lastTest ? { lastTest: s.lastTest } : {}),
        },
      };
    },
    // biome-ignore lint/correctness/useYield: declared now, streams once pools report health
    async *watchConnectionStatus() {
      throw new UnimplementedError("WatchConnectionStatus (health streams arrive with the data plane)");
    },
  };
}
