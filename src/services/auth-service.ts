import { setTimeout as sleep } from "node:timers/promises";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { UnauthenticatedError, UnimplementedError, ValidationError } from "../errors/berth-error.js";
import type { AuthService } from "../gen/berth/v1/auth_service_pb.js";
import { createGoogleVerifier, type GoogleSettings, userForGoogle } from "../identity/google.js";
import { type LoginGuard, sourceOf } from "../identity/login-throttle.js";
import { decoyHash, verifyPassword } from "../identity/passwords.js";
import { createVerifierWriter } from "../identity/scram-verifiers.js";
import { issueSession, revokeSession } from "../identity/sessions.js";
import { findUserByUsername } from "../identity/users.js";
import type { Logger } from "../observability/logger.js";
import { requestInfoKey } from "../observability/request-info.js";
import type { Db } from "../store/store.js";
import { principalOf } from "./context.js";
import { userToProto } from "./mapping.js";

export interface AuthServiceDeps {
  db: Db;
  sessionTtlMs: number;
  clock?: () => Date;
  /** Floor for a failed sign-in without a throttle, so that failures take the same time whatever went wrong. */
  failureDelayMs?: number;
  /** Forgets a signed-out session in every instance's authn cache at once. */
  forgetSession?: (tokenHash: string) => void;
  /** Locks an account per source, and a source across accounts, after too many failed sign-ins. */
  throttle?: LoginGuard;
  google?: GoogleSettings;
  /** Where a failed background write of a SCRAM verifier is reported. */
  log?: Pick<Logger, "warn">;
}

export function createAuthService(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  const clock = deps.clock ?? (() => new Date());
  const defaultDelayMs = deps.failureDelayMs ?? 250;
  const google = deps.google && deps.google.clientIds.length > 0 ? deps.google : undefined;
  const verifyGoogle = google ? createGoogleVerifier(google) : undefined;
  const verifiers = createVerifierWriter({
    db: deps.db,
    clock,
    ...(deps.log ? { log: deps.log } : {}),
  });

  return {
    async login(req, ctx) {
      const started = Date.now();
      if (req.username === "" || req.username.length > 128)
        throw ValidationError.field("username", "is required (at most 128 characters)");
      if (req.password.length > 1024)
        throw ValidationError.field("password", "must be at most 1024 characters");
      const attempt = {
        account: req.username.toLowerCase(),
        source: sourceOf(ctx.values.get(requestInfoKey).peer),
      };
      // Reserved before the password is checked, so that parallel guesses cannot overshoot a limit.
      // A locked pair or source is refused even with the right password, or guessing would go on.
      const failureDelayMs = await deps.throttle
        ?.begin(attempt)
        .then((t) => t.failureDelayMs)
        .catch(async (err) => {
          await sleep(Math.max(0, defaultDelayMs - (Date.now() - started)));
          throw err;
        });
      const user = await findUserByUsername(deps.db, req.username);
      // Verify against a decoy when the user is unknown, so timing does not reveal which names exist.
      const ok = await verifyPassword(req.password, user?.password_hash ?? (await decoyHash()));
      if (!user || !ok || user.disabled || user.password_hash === null) {
        await deps.throttle?.failed(attempt);
        await sleep(Math.max(0, (failureDelayMs ?? defaultDelayMs) - (Date.now() - started)));
        throw new UnauthenticatedError("Wrong username or password", "invalid_credentials");
      }
      await deps.throttle?.succeeded(attempt);
      // A user from before the PostgreSQL front door gets a SCRAM verifier now, off the call's path.
      if (user.scram_verifier === null) void verifiers.forUser(user, req.password);
      const session = await issueSession(deps.db, user, deps.sessionTtlMs, clock());
      return {
        token: session.token,
        expiresAt: timestampFromDate(session.expiresAt),
        user: userToProto(user),
      };
    },
    async loginWithGoogle(req) {
      if (!google || !verifyGoogle)
        throw new UnimplementedError("Google sign-in (set BERTH_GOOGLE_CLIENT_IDS)");
      if (req.idToken === "" || req.idToken.length > 16_384)
        throw ValidationError.field("idToken", "is required");
      const identity = await verifyGoogle(req.idToken);
      const user = await userForGoogle(deps.db, identity, google, clock());
      if (user.disabled) throw new UnauthenticatedError("This account is disabled", "account_disabled");
      const session = await issueSession(deps.db, user, deps.sessionTtlMs, clock());
      return {
        token: session.token,
        expiresAt: timestampFromDate(session.expiresAt),
        user: userToProto(user),
      };
    },
    async logout(_req, ctx) {
      const principal = principalOf(ctx);
      await revokeSession(deps.db, principal.sessionHash, clock());
      deps.forgetSession?.(principal.sessionHash);
      return {};
    },
    async whoAmI(_req, ctx) {
      const p = principalOf(ctx);
      if (p.kind === "service") {
        return {
          user: { id: p.userId, username: p.username, role: "service" },
          sessionExpiresAt: timestampFromDate(p.sessionExpiresAt),
        };
      }
      const user = await deps.db
        .selectFrom("users")
        .selectAll()
        .where("id", "=", p.userId)
        .executeTakeFirstOrThrow();
      return { user: userToProto(user), sessionExpiresAt: timestampFromDate(p.sessionExpiresAt) };
    },
  };
}
