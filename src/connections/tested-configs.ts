import { createHmac, randomBytes } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { CheckResult } from "../gen/berth/v1/types_pb.js";
import type { ConnectionSettings, Credentials } from "./settings.js";

/**
 * What a test's outcome depends on: the primary endpoint, the engine's options, TLS and the
 * credentials. Not the name, description, pool sizes or replicas (a test signs in to the primary
 * only). An update that changes any of these is tested before it is saved, like a new password.
 */
export function testedFields(s: ConnectionSettings) {
  return {
    type: s.type,
    server: s.server,
    port: s.port,
    database: s.database,
    sslMode: s.sslMode,
    caCertificate: s.caCertificate,
    clientCertificate: s.clientCertificate,
    tlsServerName: s.tlsServerName,
    // How the front door pools clients changes nothing a test checks.
    engineOptions: { ...s.engineOptions, frontDoorPoolMode: undefined, maxReplicaLagMs: undefined },
    ssh: s.ssh ? { host: s.ssh.host, port: s.ssh.port, user: s.ssh.user, hostKey: s.ssh.hostKey } : null,
  };
}

export function sameTestedFields(a: ConnectionSettings, b: ConnectionSettings): boolean {
  return JSON.stringify(testedFields(a)) === JSON.stringify(testedFields(b));
}

export interface RememberedTest {
  result: CheckResult;
  /** When the test ran (ISO), to become the connection's lastTestedAt. */
  testedAt: string;
}

export interface TestedConfigsOptions {
  /** How long a test of an unsaved configuration counts for a Create of the same one. */
  ttlMs?: number;
  /** At most this many remembered results; the oldest go first. */
  maxEntries?: number;
  clock?: () => Date;
}

/**
 * The results of tests of unsaved configurations, so that a Create of exactly the configuration
 * its caller just tested is saved with that result instead of "untested". Kept in memory, per
 * instance, for a few minutes, under an HMAC (with a key of this process) of the principal, the
 * tested fields and the credentials: no secret is held, and nobody else's test counts for you.
 * A Create that lands on another instance, or comes late, is saved untested as before.
 */
export function createTestedConfigs(options: TestedConfigsOptions = {}) {
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  const maxEntries = options.maxEntries ?? 1000;
  const clock = options.clock ?? (() => new Date());
  const key = randomBytes(32);
  const entries = new Map<string, RememberedTest & { expiresAt: number }>();

  const digest = (userId: string, settings: ConnectionSettings, c: Credentials) =>
    createHmac("sha256", key)
      .update(
        JSON.stringify([
          userId,
          testedFields(settings),
          c.username,
          c.password,
          c.clientKey ?? null,
          c.ssh ? [c.ssh.privateKey ?? null, c.ssh.passphrase ?? null, c.ssh.password ?? null] : null,
        ]),
      )
      .digest("base64url");

  return {
    remember(userId: string, settings: ConnectionSettings, c: Credentials, result: CheckResult): void {
      const now = clock().getTime();
      for (const [k, e] of entries) if (e.expiresAt <= now) entries.delete(k);
      const id = digest(userId, settings, c);
      entries.delete(id);
      while (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      const testedAt = (result.checkedAt ? timestampDate(result.checkedAt) : clock()).toISOString();
      entries.set(id, { result, testedAt, expiresAt: now + ttlMs });
    },

    recall(userId: string, settings: ConnectionSettings, c: Credentials): RememberedTest | undefined {
      const id = digest(userId, settings, c);
      const e = entries.get(id);
      if (!e) return undefined;
      if (e.expiresAt <= clock().getTime()) {
        entries.delete(id);
        return undefined;
      }
      return { result: e.result, testedAt: e.testedAt };
    },
  };
}

export type TestedConfigs = ReturnType<typeof createTestedConfigs>;
