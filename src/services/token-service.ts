import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { AccessLevel } from "../gen/berth/v1/access_service_pb.js";
import {
  type ServiceToken,
  ServiceTokenSchema,
  type TokenService,
} from "../gen/berth/v1/token_service_pb.js";
import type { ServiceTokens, ServiceTokenView } from "../identity/service-tokens.js";
import { ACCESS_LEVEL_NAMES } from "./access-service.js";
import { principalOf } from "./context.js";
import { nameOf } from "./mapping.js";

export function serviceTokenToProto(t: ServiceTokenView): ServiceToken {
  return create(ServiceTokenSchema, {
    id: t.id,
    name: t.name,
    connectionIds: t.connectionIds,
    accessLevel: ACCESS_LEVEL_NAMES[t.accessLevel],
    createdAt: timestampFromDate(new Date(t.createdAt)),
    expiresAt: timestampFromDate(new Date(t.expiresAt)),
    ...(t.revokedAt ? { revokedAt: timestampFromDate(new Date(t.revokedAt)) } : {}),
  });
}

/** TokenService: thin mapping onto service tokens. */
export function createTokenService(deps: { tokens: ServiceTokens }): ServiceImpl<typeof TokenService> {
  return {
    async createServiceToken(req, ctx) {
      const { token, view } = await deps.tokens.create(principalOf(ctx), {
        name: req.name,
        connectionIds: req.connectionIds,
        accessLevel:
          req.accessLevel === AccessLevel.UNSPECIFIED
            ? ""
            : (nameOf(ACCESS_LEVEL_NAMES, req.accessLevel) ?? "invalid"),
        ttlMs: Number(req.ttlMs),
      });
      return { serviceToken: serviceTokenToProto(view), token };
    },
    async listServiceTokens(_req, ctx) {
      return { serviceTokens: (await deps.tokens.list(principalOf(ctx))).map(serviceTokenToProto) };
    },
    async revokeServiceToken(req, ctx) {
      await deps.tokens.revoke(principalOf(ctx), req.id);
      return {};
    },
  };
}
