import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AccessManager } from "../access/grants.js";
import { isAccessLevel, type AccessLevel as Level } from "../access/levels.js";
import { ValidationError } from "../errors/berth-error.js";
import {
  AccessLevel,
  type AccessService,
  type ConnectionAccess,
  ConnectionAccessSchema,
} from "../gen/berth/v1/access_service_pb.js";
import type { ConnectionAccessRow } from "../store/schema.js";
import { principalOf } from "./context.js";

export const ACCESS_LEVEL_NAMES: Record<Level, AccessLevel> = {
  viewer: AccessLevel.VIEWER,
  user: AccessLevel.USER,
  editor: AccessLevel.EDITOR,
  admin: AccessLevel.ADMIN,
  owner: AccessLevel.OWNER,
};

function levelFromProto(level: AccessLevel): Level {
  for (const [name, value] of Object.entries(ACCESS_LEVEL_NAMES)) if (value === level) return name as Level;
  throw ValidationError.field("accessLevel", "must be one of viewer, user, editor, admin, owner");
}

export function accessToProto(row: ConnectionAccessRow & { username?: string | null }): ConnectionAccess {
  return create(ConnectionAccessSchema, {
    connectionId: row.connection_id,
    username: row.username ?? "",
    ...(row.user_id ? { userId: row.user_id } : {}),
    ...(row.google_email ? { googleEmail: row.google_email } : {}),
    accessLevel: isAccessLevel(row.access_level)
      ? ACCESS_LEVEL_NAMES[row.access_level]
      : AccessLevel.UNSPECIFIED,
    assignedAt: timestampFromDate(new Date(row.assigned_at)),
  });
}

type Grantee =
  | { case: "userId"; value: string }
  | { case: "googleEmail"; value: string }
  | { case: undefined; value?: undefined };

function who(g: Grantee): { userId?: string; googleEmail?: string } {
  if (g.case === "userId") return { userId: g.value };
  if (g.case === "googleEmail") return { googleEmail: g.value };
  return {};
}

/** AccessService: thin mapping onto the access manager. */
export function createAccessService(deps: { access: AccessManager }): ServiceImpl<typeof AccessService> {
  return {
    async grantAccess(req, ctx) {
      const row = await deps.access.grant(
        principalOf(ctx),
        req.connectionId,
        who(req.grantee),
        levelFromProto(req.accessLevel),
      );
      return { access: accessToProto(row) };
    },
    async listAccess(req, ctx) {
      return { access: (await deps.access.list(principalOf(ctx), req.connectionId)).map(accessToProto) };
    },
    async revokeAccess(req, ctx) {
      await deps.access.revoke(principalOf(ctx), req.connectionId, who(req.grantee));
      return {};
    },
  };
}
