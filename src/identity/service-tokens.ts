import { randomBytes, randomUUID } from "node:crypto";
import { requireGlobalAdmin } from "../access/guards.js";
import { type AccessLevel, isAccessLevel } from "../access/levels.js";
import { NotFoundError, UnauthenticatedError, ValidationError } from "../errors/berth-error.js";
import type { Logger } from "../observability/logger.js";
import type { Db } from "../store/store.js";
import type { Principal } from "./principal.js";
import { makeScramVerifier } from "./scram.js";
import { createVerifierWriter } from "./scram-verifiers.js";
import { hashToken } from "./sessions.js";

export const SERVICE_TOKEN_PREFIX = "berth_t_";
const TOKEN_SHAPE = /^berth_t_[A-Za-z0-9_-]{43}$/;
const MAX_TTL_MS = 366 * 86_400_000;

export interface ServiceTokenView {
  id: string;
  name: string;
  connectionIds: string[];
  accessLevel: AccessLevel;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export function isServiceToken(token: string): boolean {
  return token.startsWith(SERVICE_TOKEN_PREFIX);
}

/** Whether a string has the exact shape of a service token (prefix and 256 random bits). */
export function hasServiceTokenShape(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/**
 * API tokens for services: shown once, stored as a SHA-256 hash, scoped to named connections and a
 * highest level, expiring, revocable. Managed by global admins.
 */
export function createServiceTokens(deps: {
  db: Db;
  clock?: () => Date;
  /** A token was revoked: forget its principal wherever it is cached (by token hash, and by id). */
  onRevoked?: (tokenHash: string, tokenId: string) => void;
  /** Where a failed background write of a SCRAM verifier is reported. */
  log?: Pick<Logger, "warn">;
}) {
  const clock = deps.clock ?? (() => new Date());
  const verifiers = createVerifierWriter({ db: deps.db, clock, ...(deps.log ? { log: deps.log } : {}) });
  const view = (r: {
    id: string;
    name: string;
    connection_ids: string;
    access_level: string;
    created_at: string;
    expires_at: string;
    revoked_at: string | null;
  }): ServiceTokenView => ({
    id: r.id,
    name: r.name,
    connectionIds: JSON.parse(r.connection_ids) as string[],
    accessLevel: r.access_level as AccessLevel,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  });
  const requireAdmin = (p: Principal) => requireGlobalAdmin(p, "Service tokens are managed by global admins");

  return {
    async create(
      p: Principal,
      input: { name: string; connectionIds: string[]; accessLevel: string; ttlMs: number },
    ): Promise<{ token: string; view: ServiceTokenView }> {
      requireAdmin(p);
      if (!/^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,99}$/u.test(input.name))
        throw ValidationError.field("name", "1–100 letters, digits, spaces, '.', '_' or '-'");
      if (input.connectionIds.length === 0 || input.connectionIds.length > 100) {
        throw ValidationError.field("connectionIds", "name from 1 to 100 connections");
      }
      const level = input.accessLevel || "user";
      if (!isAccessLevel(level) || level === "owner")
        throw ValidationError.field("accessLevel", "must be viewer, user, editor or admin");
      const ttl = input.ttlMs || 90 * 86_400_000;
      if (ttl < 60_000 || ttl > MAX_TTL_MS)
        throw ValidationError.field("ttlMs", `must be from 60000 to ${MAX_TTL_MS} milliseconds`);
      for (const id of input.connectionIds) {
        const exists = await deps.db
          .selectFrom("connections")
          .select("id")
          .where("id", "=", id)
          .executeTakeFirst();
        if (!exists) throw ValidationError.field("connectionIds", `no connection has id ${id.slice(0, 40)}`);
      }
      const token = SERVICE_TOKEN_PREFIX + randomBytes(32).toString("base64url");
      const now = clock();
      const row = {
        id: randomUUID(),
        name: input.name,
        token_hash: hashToken(token),
        connection_ids: JSON.stringify([...new Set(input.connectionIds)]),
        access_level: level,
        created_by_id: p.userId,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + ttl).toISOString(),
        revoked_at: null,
        // For the PostgreSQL front door: made now, while the token is at hand (it is never stored).
        scram_verifier: await makeScramVerifier(token),
      };
      await deps.db.insertInto("service_tokens").values(row).execute();
      return { token, view: view(row) };
    },

    async list(p: Principal): Promise<ServiceTokenView[]> {
      requireAdmin(p);
      return (await deps.db.selectFrom("service_tokens").selectAll().orderBy("created_at").execute()).map(
        view,
      );
    },

    async revoke(p: Principal, id: string): Promise<void> {
      requireAdmin(p);
      const row = await deps.db
        .selectFrom("service_tokens")
        .select(["id", "token_hash"])
        .where("id", "=", id)
        .executeTakeFirst();
      if (!row) throw new NotFoundError("service token", id);
      await deps.db
        .updateTable("service_tokens")
        .set({ revoked_at: clock().toISOString() })
        .where("id", "=", id)
        .execute();
      deps.onRevoked?.(row.token_hash, row.id);
    },

    /**
     * The service principal a verified client certificate stands for: the newest active service
     * token whose name is the certificate's common name. Revoking or letting that token expire
     * ends the certificate's access too; its scope is the token's scope.
     */
    async authenticateCertificate(commonName: string): Promise<Principal> {
      const now = clock().toISOString();
      const row = await deps.db
        .selectFrom("service_tokens")
        .selectAll()
        .where("name", "=", commonName)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .orderBy("created_at", "desc")
        .executeTakeFirst();
      if (!row)
        throw new UnauthenticatedError(
          `The client certificate (CN=${commonName.slice(0, 64)}) names no active service principal: create a service token with that name`,
          "unknown_certificate",
        );
      return principalOf(row, `cert:${row.id}`);
    },

    /** The service principal a bearer token stands for, or UnauthenticatedError with the reason. */
    async authenticate(token: string): Promise<Principal> {
      if (!TOKEN_SHAPE.test(token))
        throw new UnauthenticatedError("The service token is malformed", "invalid_token");
      const hash = hashToken(token);
      const row = await deps.db
        .selectFrom("service_tokens")
        .selectAll()
        .where("token_hash", "=", hash)
        .executeTakeFirst();
      if (!row || row.revoked_at)
        throw new UnauthenticatedError("The service token is unknown or revoked", "invalid_token");
      const expiresAt = new Date(row.expires_at);
      if (expiresAt <= clock())
        throw new UnauthenticatedError("The service token has expired", "token_expired");
      // A token from before the front door gets its verifier on first use, off the call's path.
      if (row.scram_verifier === null) void verifiers.forToken(row, token);
      return principalOf(row, hash);
    },
  };
}

export type ServiceTokens = ReturnType<typeof createServiceTokens>;

/**
 * The principal a service principal stands for now (by its token, or for a client certificate by
 * the token it was mapped to), or undefined once that token was revoked or has expired.
 */
export async function currentServicePrincipal(
  db: Db,
  p: Principal,
  now: Date,
): Promise<Principal | undefined> {
  const byCertificate = p.sessionHash.startsWith("cert:");
  const row = await db
    .selectFrom("service_tokens")
    .selectAll()
    .where(byCertificate ? "id" : "token_hash", "=", byCertificate ? p.sessionHash.slice(5) : p.sessionHash)
    .executeTakeFirst();
  if (!row || row.revoked_at || new Date(row.expires_at) <= now) return undefined;
  return principalOf(row, p.sessionHash);
}

/** The service principal a token row stands for; `sessionHash` is what re-checks find the row by. */
export function principalOf(
  row: { id: string; name: string; connection_ids: string; access_level: string; expires_at: string },
  sessionHash: string,
): Principal {
  return {
    kind: "service",
    userId: `service:${row.id}`,
    username: row.name,
    role: "member",
    googleEmail: null,
    sessionHash,
    sessionExpiresAt: new Date(row.expires_at),
    scope: {
      connectionIds: JSON.parse(row.connection_ids) as string[],
      level: row.access_level as AccessLevel,
    },
  };
}
