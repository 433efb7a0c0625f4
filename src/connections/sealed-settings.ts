import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { z } from "zod";
import type { KeyProvider } from "../crypto/key-provider.js";
import type { EngineId } from "../engines/engine.js";
import { BerthError, CredentialIntegrityError } from "../errors/berth-error.js";
import { type CheckResult, CheckResultSchema } from "../gen/berth/v1/types_pb.js";
import type {
  ConnectionRow,
  NewConnectionRow,
  SealedConnectionRow,
  SealedSettingsColumn,
} from "../store/schema.js";
import { settingsColumns } from "./row-mapping.js";
import { type ConnectionSettings, SSL_MODES, type SslModeId } from "./settings.js";

/**
 * What `settings_enc` holds: every setting but the name and the type. That is the whole connection
 * string — host, port, database, replicas, TLS mode, server name and certificates, the engine's
 * options (SQL Server instance, Oracle SID) — and also the pool sizes and the description. Those
 * two are not part of a connection string, but a description is free text that names hosts as often
 * as not, and sealing all but a short list of clear columns means a setting added later is sealed
 * unless someone decides otherwise. Name, type, owner, times and status stay in clear: listing,
 * ordering, uniqueness, authorization and retention read them without a key.
 */
export type SealedSettings = Omit<ConnectionSettings, "name" | "type">;

/** The old clear columns of a sealed row: NOT NULL, so they hold these, never values. */
export const SETTINGS_PLACEHOLDERS = {
  server: "",
  port: 0,
  database: "",
  ssl_mode: "",
  ca_certificate: "",
  client_certificate: "",
  tls_server_name: "",
  engine_options: "{}",
  max_pool_size: 0,
  min_pool_size: 0,
  acquire_timeout_ms: 0,
  idle_timeout_ms: 0,
  max_lifetime_ms: 0,
  replicas: "[]",
  description: "",
} as const satisfies Pick<NewConnectionRow, SealedSettingsColumn>;

/** The sealed document, version 1. Authenticated by the cipher; checked anyway, so a bug is an error, not a crash. */
const documentV1 = z.object({
  v: z.literal(1),
  server: z.string(),
  port: z.number().int(),
  database: z.string(),
  sslMode: z.enum(SSL_MODES as unknown as [SslModeId, ...SslModeId[]]),
  caCertificate: z.string(),
  clientCertificate: z.string(),
  tlsServerName: z.string(),
  engineOptions: z.object({
    instanceName: z.string(),
    strictEncryption: z.boolean(),
    oracleSid: z.string(),
    allowCleartextPassword: z.boolean(),
    // Absent in envelopes sealed before the front door had pool modes.
    frontDoorPoolMode: z.enum(["transaction", "session"]).default("transaction"),
    // Absent in envelopes sealed before replica lag was bounded.
    maxReplicaLagMs: z.number().int().min(0).default(0),
  }),
  pool: z.object({
    maxPoolSize: z.number().int(),
    minPoolSize: z.number().int(),
    acquireTimeoutMs: z.number().int(),
    idleTimeoutMs: z.number().int(),
    maxLifetimeMs: z.number().int(),
  }),
  replicas: z.array(z.object({ server: z.string(), port: z.number().int() })),
  description: z.string(),
  // Absent: no SSH tunnel (and in every envelope sealed before tunnels existed).
  ssh: z
    .object({
      host: z.string(),
      port: z.number().int(),
      user: z.string(),
      hostKey: z.string(),
      stored: z.object({ privateKey: z.boolean(), passphrase: z.boolean(), password: z.boolean() }),
    })
    .optional(),
});

function documentOf(s: ConnectionSettings): string {
  const { name: _n, type: _t, ...sealed } = s;
  return JSON.stringify({ v: 1, ...sealed });
}

/** A stored value that cannot be opened for what it is (altered, moved, retired key) — not a provider outage. */
export function isUnreadable(err: unknown): boolean {
  return err instanceof BerthError && err.kind === "security_violation";
}

/**
 * Seals a connection's settings and its check results with the key provider, each bound to the
 * connection and to its field (`settings`, `check_result`) as associated data: a ciphertext moved
 * to another row or column does not decrypt. Opening happens once per load: a read, a listing (per
 * row), a check, a pool — the pools keep the settings they opened.
 */
export function createSettingsSeal(keys: KeyProvider) {
  const bind = (connectionId: string) => ({ connectionId, field: "settings" as const });

  async function openSettings(row: SealedConnectionRow): Promise<ConnectionSettings> {
    // NULL is a row in the old clear form that was not sealed at start (written by an older
    // version since, or put there by hand): its clear columns are not trusted.
    if (row.settings_enc === null) throw new CredentialIntegrityError(row.id, "settings");
    const json = await keys.decrypt(row.settings_enc, bind(row.id));
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (cause) {
      throw new CredentialIntegrityError(row.id, "settings", { cause });
    }
    const doc = documentV1.safeParse(parsed);
    if (!doc.success) throw new CredentialIntegrityError(row.id, "settings", { cause: doc.error });
    const { v: _v, ssh, ...sealed } = doc.data;
    return { name: row.name, type: row.type as EngineId, ...sealed, ...(ssh ? { ssh } : {}) };
  }

  const opened = (row: SealedConnectionRow, settings: ConnectionSettings): ConnectionRow => {
    const { settings_enc: _s, ...clear } = row;
    return { ...clear, ...settingsColumns(settings) };
  };

  return {
    /** The columns to write for `settings`: the envelope, and placeholders in the old clear columns. */
    async seal(id: string, settings: ConnectionSettings) {
      return {
        settings_enc: await keys.encrypt(documentOf(settings), bind(id)),
        ...SETTINGS_PLACEHOLDERS,
      };
    },

    openSettings,

    /** The row with its settings in place. Throws a typed error when they cannot be opened. */
    async open(row: SealedConnectionRow): Promise<ConnectionRow> {
      return opened(row, await openSettings(row));
    },

    /**
     * For a listing: a row whose settings cannot be opened (altered, retired key) is shown with its
     * clear columns and placeholders, so one damaged record does not take the list down; reading it
     * alone answers the error. A provider that does not answer fails the listing (UNAVAILABLE).
     */
    async openListed(row: SealedConnectionRow): Promise<ConnectionRow> {
      try {
        return opened(row, await openSettings(row));
      } catch (err) {
        if (!isUnreadable(err)) throw err;
        const { settings_enc: _s, ...clear } = row;
        return { ...clear, ...SETTINGS_PLACEHOLDERS };
      }
    },

    async sealCheck(connectionId: string, result: CheckResult): Promise<string> {
      return keys.encrypt(toJsonString(CheckResultSchema, result), { connectionId, field: "check_result" });
    },

    /**
     * A stored check result; undefined when there is none, or when it cannot be opened (it is an
     * observation, not configuration: an unreadable one is as good as none).
     */
    async openCheck(
      connectionId: string,
      envelope: string | null | undefined,
    ): Promise<CheckResult | undefined> {
      if (!envelope) return undefined;
      let json: string;
      try {
        json = await keys.decrypt(envelope, { connectionId, field: "check_result" });
      } catch (err) {
        if (isUnreadable(err)) return undefined;
        throw err;
      }
      try {
        return fromJsonString(CheckResultSchema, json);
      } catch {
        return undefined;
      }
    },
  };
}

export type SettingsSeal = ReturnType<typeof createSettingsSeal>;
