import { z } from "zod";
import { AccessService, GrantAccessRequestSchema } from "../../gen/berth/v1/access_service_pb.js";
import { AuthService } from "../../gen/berth/v1/auth_service_pb.js";
import { CreateServiceTokenRequestSchema, TokenService } from "../../gen/berth/v1/token_service_pb.js";
import { UserService } from "../../gen/berth/v1/user_service_pb.js";
import {
  accessToJson,
  messageFromRestJson,
  serviceTokenToJson,
  timestampToJson,
  userToJson,
} from "../rest-json.js";
import { type RestRoute, route } from "./route.js";
import { AccessJson, ServiceTokenJson, SignedInJson, UserJson } from "./schemas.js";

const A = AuthService.method;
const G = AccessService.method;
const U = UserService.method;
const T = TokenService.method;

// A string field absent from a body is "", as protobuf has it.
const text = z.string({ error: "must be a string" }).default("");
const LoginBody = z.strictObject({ username: text, password: text });
const GoogleLoginBody = z.strictObject({ idToken: text });
const NewUserBody = z.strictObject({ username: text, password: text, role: text });
const UserChangeBody = z.strictObject({
  role: z.string({ error: "must be a string" }).optional(),
  password: z.string({ error: "must be a string" }).optional(),
  disabled: z.boolean({ error: "must be true or false" }).optional(),
});
const Empty = z.strictObject({});

/** The last path segment of DELETE …/access/{who}: a user id, or a Google address (has an @). */
function granteeOf(who: string) {
  return who.includes("@")
    ? { case: "googleEmail" as const, value: who }
    : { case: "userId" as const, value: who };
}

/** /api/auth: signing in and out. */
const AUTH_ROUTES: RestRoute[] = [
  route({
    verb: "POST",
    path: "/api/auth/login",
    method: A.login,
    body: LoginBody,
    reply: SignedInJson,
    errors: ["unauthenticated"],
    request: ({ body }) => body,
    response: (r) => ({
      body: { token: r.token, expiresAt: timestampToJson(r.expiresAt), user: userToJson(r.user) },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/auth/google",
    method: A.loginWithGoogle,
    body: GoogleLoginBody,
    reply: SignedInJson,
    errors: ["unauthenticated", "unimplemented"],
    request: ({ body }) => body,
    response: (r) => ({
      body: { token: r.token, expiresAt: timestampToJson(r.expiresAt), user: userToJson(r.user) },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/auth/logout",
    method: A.logout,
    status: 204,
    body: Empty,
    request: () => ({}),
    response: () => ({}),
  }),
  route({
    verb: "GET",
    path: "/api/auth/me",
    method: A.whoAmI,
    reply: z.strictObject({ user: UserJson.nullable(), sessionExpiresAt: z.iso.datetime().nullable() }),
    request: () => ({}),
    response: (r) => ({
      body: { user: userToJson(r.user), sessionExpiresAt: timestampToJson(r.sessionExpiresAt) },
    }),
  }),
];

/** /api/users: local accounts. */
const USER_ROUTES: RestRoute[] = [
  route({
    verb: "POST",
    path: "/api/users",
    method: U.createUser,
    status: 201,
    body: NewUserBody,
    reply: UserJson.nullable(),
    errors: ["conflict"],
    request: ({ body }) => body,
    response: (r) => ({ body: userToJson(r.user) }),
  }),
  route({
    verb: "GET",
    path: "/api/users",
    method: U.listUsers,
    reply: z.strictObject({ users: z.array(UserJson.nullable()) }),
    request: () => ({}),
    response: (r) => ({ body: { users: r.users.map(userToJson) } }),
  }),
  route({
    verb: "PATCH",
    path: "/api/users/:id",
    method: U.updateUser,
    body: UserChangeBody,
    reply: UserJson.nullable(),
    errors: ["failed_precondition"],
    request: ({ params, body }) => ({ id: params.id!, ...body }),
    response: (r) => ({ body: userToJson(r.user) }),
  }),
  route({
    verb: "DELETE",
    path: "/api/users/:id",
    method: U.deleteUser,
    status: 204,
    errors: ["failed_precondition"],
    request: ({ params }) => ({ id: params.id! }),
    response: () => ({}),
  }),
  route({
    verb: "DELETE",
    path: "/api/sign-in-locks/:username",
    method: U.clearSignInLocks,
    status: 204,
    request: ({ params }) => ({ username: params.username! }),
    response: () => ({}),
  }),
];

/** /api/tokens: service tokens. */
const TOKEN_ROUTES: RestRoute[] = [
  route({
    verb: "POST",
    path: "/api/tokens",
    method: T.createServiceToken,
    status: 201,
    bodyMessage: CreateServiceTokenRequestSchema,
    reply: z.strictObject({ token: z.string(), serviceToken: ServiceTokenJson }),
    request: ({ body }) => messageFromRestJson(CreateServiceTokenRequestSchema, body),
    response: (r) => ({ body: { token: r.token, serviceToken: serviceTokenToJson(r.serviceToken!) } }),
  }),
  route({
    verb: "GET",
    path: "/api/tokens",
    method: T.listServiceTokens,
    reply: z.strictObject({ serviceTokens: z.array(ServiceTokenJson) }),
    request: () => ({}),
    response: (r) => ({ body: { serviceTokens: r.serviceTokens.map(serviceTokenToJson) } }),
  }),
  route({
    verb: "DELETE",
    path: "/api/tokens/:id",
    method: T.revokeServiceToken,
    status: 204,
    request: ({ params }) => ({ id: params.id! }),
    response: () => ({}),
  }),
];

/** /api/connections/{id}/access: who may use a connection. */
const ACCESS_ROUTES: RestRoute[] = [
  route({
    verb: "POST",
    path: "/api/connections/:id/access",
    method: G.grantAccess,
    status: 201,
    bodyMessage: GrantAccessRequestSchema,
    reply: AccessJson,
    request: ({ params, body }) =>
      messageFromRestJson(GrantAccessRequestSchema, { ...body, connectionId: params.id! }),
    response: (r) => ({ body: accessToJson(r.access!) }),
  }),
  route({
    verb: "GET",
    path: "/api/connections/:id/access",
    method: G.listAccess,
    reply: z.strictObject({ access: z.array(AccessJson) }),
    request: ({ params }) => ({ connectionId: params.id! }),
    response: (r) => ({ body: { access: r.access.map(accessToJson) } }),
  }),
  route({
    verb: "DELETE",
    path: "/api/connections/:id/access/:who",
    method: G.revokeAccess,
    status: 204,
    request: ({ params }) => ({ connectionId: params.id!, grantee: granteeOf(params.who!) }),
    response: () => ({}),
  }),
];

/** Sign-in, users, service tokens and access grants. */
export const ACCOUNT_ROUTES: RestRoute[] = [
  ...AUTH_ROUTES,
  ...USER_ROUTES,
  ...TOKEN_ROUTES,
  ...ACCESS_ROUTES,
];
