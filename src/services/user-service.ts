import type { ServiceImpl } from "@connectrpc/connect";
import type { UserService } from "../gen/berth/v1/user_service_pb.js";
import type { UserAdmin } from "../identity/user-admin.js";
import { principalOf } from "./context.js";
import { userToProto } from "./mapping.js";

/** UserService: thin mapping onto user administration. */
export function createUserService(deps: { users: UserAdmin }): ServiceImpl<typeof UserService> {
  return {
    async createUser(req, ctx) {
      return { user: userToProto(await deps.users.create(principalOf(ctx), req)) };
    },
    async listUsers(_req, ctx) {
      return { users: (await deps.users.list(principalOf(ctx))).map(userToProto) };
    },
    async updateUser(req, ctx) {
      const row = await deps.users.update(principalOf(ctx), req.id, {
        role: req.role,
        password: req.password,
        disabled: req.disabled,
      });
      return { user: userToProto(row) };
    },
    async deleteUser(req, ctx) {
      await deps.users.remove(principalOf(ctx), req.id);
      return {};
    },
    async clearSignInLocks(req, ctx) {
      await deps.users.clearSignInLocks(principalOf(ctx), req.username);
      return {};
    },
  };
}
