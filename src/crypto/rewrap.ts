import { asBerthError } from "../errors/mapping.js";
import type { Db } from "../store/store.js";
import type { KeyStatus, SecretField } from "./key-provider.js";
import { KeySet } from "./key-set.js";

/** Where each field of a connection is stored (check results are in connection_checks.result_enc). */
const COLUMNS: Record<
  Exclude<SecretField, "check_result">,
  "username_enc" | "password_enc" | "client_key_enc" | "settings_enc"
> = {
  username: "username_enc",
  password: "password_enc",
  client_key: "client_key_enc",
  settings: "settings_enc",
};

export interface SecretProblemView {
  connectionId: string;
  field: SecretField;
  provider: string;
  version: number;
  reason: string;
  message: string;
}

export interface RewrapProgress {
  total: number;
  processed: number;
  rewrapped: number;
  alreadyCurrent: number;
  changedConcurrently: number;
  failures: SecretProblemView[];
  finished: boolean;
}

interface StoredSecret {
  connectionId: string;
  field: SecretField;
  envelope: string;
  /** The connection_checks row of a check result. */
  checkId?: number;
}

/** Parallel provider calls within a batch: Vault answers one round trip per secret. */
const PARALLEL = 8;

function secretsOf(row: {
  id: string;
  username_enc: string;
  password_enc: string;
  client_key_enc: string | null;
  settings_enc: string | null;
}): StoredSecret[] {
  const out: StoredSecret[] = [
    { connectionId: row.id, field: "username", envelope: row.username_enc },
    { connectionId: row.id, field: "password", envelope: row.password_enc },
  ];
  if (row.client_key_enc)
    out.push({ connectionId: row.id, field: "client_key", envelope: row.client_key_enc });
  // NULL: a row not sealed yet (Berth seals those at start); nothing to rewrap.
  if (row.settings_enc) out.push({ connectionId: row.id, field: "settings", envelope: row.settings_enc });
  return out;
}

/** The key version an envelope names (`berth:v3:…`, `vault:v3:…`), whichever provider wrote it; 0 if none. */
function envelopeVersion(envelope: string): number {
  return Number(/^\w+:v(\d+):/.exec(envelope)?.[1] ?? 0);
}

function isCurrent(keys: KeySet, latest: KeyStatus, envelope: string): boolean {
  return keys.primary.owns(envelope) && keys.primary.versionOf(envelope) === latest.latestVersion;
}

/** Every stored envelope, a batch of rows at a time: connections by id, then check results by id. */
async function* batches(db: Db, batchSize: number): AsyncGenerator<StoredSecret[]> {
  let after = "";
  for (;;) {
    const rows = await db
      .selectFrom("connections")
      .select(["id", "username_enc", "password_enc", "client_key_enc", "settings_enc"])
      .where("id", ">", after)
      .orderBy("id")
      .limit(batchSize)
      .execute();
    if (rows.length === 0) break;
    yield rows.flatMap(secretsOf);
    after = rows[rows.length - 1]!.id;
  }
  let afterCheck = 0;
  for (;;) {
    const rows = await db
      .selectFrom("connection_checks")
      .select(["id", "connection_id", "result_enc"])
      .where("id", ">", afterCheck)
      .where("result_enc", "is not", null)
      .orderBy("id")
      .limit(batchSize)
      .execute();
    if (rows.length === 0) return;
    yield rows.map((r) => ({
      connectionId: r.connection_id,
      field: "check_result" as const,
      envelope: r.result_enc!,
      checkId: r.id,
    }));
    afterCheck = rows[rows.length - 1]!.id;
  }
}

async function countSecrets(db: Db): Promise<number> {
  const r = await db
    .selectFrom("connections")
    .select((eb) => [
      eb.fn.countAll<number>().as("rows"),
      eb.fn.count<number>("client_key_enc").as("keys"),
      eb.fn.count<number>("settings_enc").as("settings"),
    ])
    .executeTakeFirstOrThrow();
  const checks = await db
    .selectFrom("connection_checks")
    .select((eb) => eb.fn.count<number>("result_enc").as("results"))
    .executeTakeFirstOrThrow();
  return Number(r.rows) * 2 + Number(r.keys) + Number(r.settings) + Number(checks.results);
}

/**
 * Re-encrypts every stored secret that is not under the newest version of the configured
 * provider — credentials, each connection's sealed settings, and check results — in batches
 * ordered by connection id, then by check id. Each write is compare-and-swap on the old
 * envelope, so a credential changed meanwhile is left as its writer left it. Safe to stop at any
 * point and run again: what is current is skipped without a provider call. A secret that fails its
 * integrity check is reported, never skipped silently; a provider that stops answering ends the
 * run with its UNAVAILABLE error (run again when it is back).
 */
export async function* rewrapSecrets(
  db: Db,
  keys: KeySet,
  options: { batchSize: number; maxSecrets: number; signal?: AbortSignal },
): AsyncGenerator<RewrapProgress> {
  // A rotation on another instance counts: "current" is the store's newest version.
  await keys.refresh();
  const latest = await keys.status();
  const progress: RewrapProgress = {
    total: await countSecrets(db),
    processed: 0,
    rewrapped: 0,
    alreadyCurrent: 0,
    changedConcurrently: 0,
    failures: [],
    finished: false,
  };
  for await (const secrets of batches(db, options.batchSize)) {
    options.signal?.throwIfAborted();
    const todo: StoredSecret[] = [];
    for (const s of secrets) {
      if (isCurrent(keys, latest, s.envelope)) {
        progress.alreadyCurrent++;
        progress.processed++;
      } else todo.push(s);
    }
    const budget = options.maxSecrets > 0 ? options.maxSecrets - progress.rewrapped : todo.length;
    const work = todo.slice(0, Math.max(0, budget));
    for (let i = 0; i < work.length; i += PARALLEL) {
      await Promise.all(work.slice(i, i + PARALLEL).map((s) => rewrapOne(db, keys, s, progress)));
    }
    progress.processed += work.length;
    yield { ...progress, failures: [...progress.failures] };
    // max_secrets reached: a staged run ends here, unfinished.
    if (work.length < todo.length) return;
  }
  progress.finished = true;
  yield progress;
}

async function rewrapOne(db: Db, keys: KeySet, s: StoredSecret, progress: RewrapProgress): Promise<void> {
  const binding = { connectionId: s.connectionId, field: s.field };
  let next: string;
  try {
    next = await keys.rewrap(s.envelope, binding);
  } catch (err) {
    const e = asBerthError(err);
    // The provider is down: stop the run; everything done so far is kept.
    if (e.kind === "unavailable") throw err;
    progress.failures.push(problemOf(s, e.details.reason, e.message));
    return;
  }
  const r =
    s.field === "check_result"
      ? await db
          .updateTable("connection_checks")
          .set({ result_enc: next })
          .where("id", "=", s.checkId!)
          .where("result_enc", "=", s.envelope)
          .executeTakeFirst()
      : await db
          .updateTable("connections")
          .set({ [COLUMNS[s.field]]: next })
          .where("id", "=", s.connectionId)
          .where(COLUMNS[s.field], "=", s.envelope)
          .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 1) progress.rewrapped++;
  else progress.changedConcurrently++;
}

function problemOf(s: StoredSecret, reason: unknown, message: string): SecretProblemView {
  return {
    connectionId: s.connectionId,
    field: s.field,
    provider: KeySet.providerNameOf(s.envelope),
    version: envelopeVersion(s.envelope),
    reason: typeof reason === "string" ? reason : "unknown",
    message,
  };
}

export interface SecretInventory {
  versions: { provider: string; version: number; secrets: number }[];
  stale: SecretProblemView[];
  total: number;
  current: number;
}

/**
 * What the store holds, by provider and version, without decrypting anything: secrets on a version
 * below the provider's minimum, or with a provider that is not configured, are listed as stale.
 */
export async function secretInventory(db: Db, keys: KeySet): Promise<SecretInventory> {
  await keys.refresh();
  const statuses = new Map<string, KeyStatus>();
  for (const p of keys.all) statuses.set(p.name, await p.status());
  const latest = statuses.get(keys.primary.name)!;
  const counts = new Map<string, { provider: string; version: number; secrets: number }>();
  const out: SecretInventory = { versions: [], stale: [], total: 0, current: 0 };
  for await (const secrets of batches(db, 500)) {
    for (const s of secrets) {
      out.total++;
      const provider = KeySet.providerNameOf(s.envelope);
      const version = envelopeVersion(s.envelope);
      const key = `${provider}:${version}`;
      const entry = counts.get(key) ?? { provider, version, secrets: 0 };
      entry.secrets++;
      counts.set(key, entry);
      if (isCurrent(keys, latest, s.envelope)) out.current++;
      const status = statuses.get(provider);
      if (!status)
        out.stale.push(
          problemOf(s, "provider_not_configured", `The ${provider} key provider is not configured`),
        );
      else if (version < status.minDecryptionVersion)
        out.stale.push(
          problemOf(
            s,
            "key_version_retired",
            `Key version ${version} is retired (minimum ${status.minDecryptionVersion})`,
          ),
        );
    }
  }
  out.versions = [...counts.values()].sort(
    (a, b) => a.provider.localeCompare(b.provider) || a.version - b.version,
  );
  return out;
}
