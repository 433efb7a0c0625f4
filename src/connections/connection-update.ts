import { warmPrivateKey } from "../drivers/ssh/private-key.js";
import { ConflictError, NotFoundError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionRepository } from "../store/connection-repository.js";
import { isUniqueViolation } from "../store/errors.js";
import { forgetRoleMemory } from "../store/role-memory-repository.js";
import type { NewConnectionRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import type { ConnectionChecks } from "./connection-checks.js";
import { type ConnectionGate, staleVersion } from "./connection-gate.js";
import type { CredentialCipher } from "./credential-cipher.js";
import { endpointChanges, requireCredentialsFor } from "./endpoint-change.js";
import { enforceTls } from "./require-tls.js";
import { type ConnectionView, view } from "./row-mapping.js";
import { isUnreadable, type SettingsSeal } from "./sealed-settings.js";
import type { ConnectionSpecInput } from "./settings.js";
import { sameTestedFields } from "./tested-configs.js";
import { validateSpec } from "./validation.js";

/** What updating a connection needs of the registry. */
export interface UpdateContext {
  db: Db;
  repo: ConnectionRepository;
  requireTls: boolean | undefined;
  clock: () => Date;
  cipher: CredentialCipher;
  seal: SettingsSeal;
  checks: Pick<ConnectionChecks, "testBeforeSave" | "record">;
  visibleRow: ConnectionGate["visibleRow"];
  assertNameFree: ConnectionGate["assertNameFree"];
  /** Told after the connection changed (its pools are rebuilt). */
  onChanged: ((connectionId: string) => void) | undefined;
}

/**
 * Replaces a connection's settings (and the credentials sent), under optimistic concurrency: an
 * `expectedVersion` other than the stored one, or a write that lost a race, is a version conflict.
 */
export async function updateConnection(
  ctx: UpdateContext,
  principal: Principal,
  id: string,
  input: ConnectionSpecInput,
  expectedVersion: number | undefined,
): Promise<ConnectionView> {
  const row = await ctx.visibleRow(principal, id, "editor", "change");
  if (expectedVersion !== undefined && expectedVersion !== row.version)
    throw staleVersion(row.version, expectedVersion);
  // Stored settings that no longer open (altered, retired key) can be replaced, as a move: with
  // the credentials. A key provider that does not answer fails the update instead.
  const stored = await ctx.seal.openSettings(row).catch((err: unknown) => {
    if (isUnreadable(err)) return undefined;
    throw err;
  });
  await warmPrivateKey(input.ssh?.privateKey, input.ssh?.passphrase);
  const { settings, credentials } = validateSpec(input, {
    kind: "update",
    hasStoredClientKey: row.client_key_enc !== null,
    storedSsh: row.ssh_secrets_enc !== null ? stored?.ssh?.stored : undefined,
  });
  // Before anything is tried: a test of the new endpoint would already send the stored password there.
  const changed = stored ? endpointChanges(stored, settings) : ["settings"];
  requireCredentialsFor(
    changed,
    settings,
    credentials,
    row.client_key_enc !== null,
    row.ssh_secrets_enc !== null,
  );
  enforceTls(ctx.requireTls, settings);
  const nameKey = settings.name.toLowerCase();
  await ctx.assertNameFree(nameKey, id);
  const secrets = await ctx.cipher.encryptChanged(id, credentials);
  // New credentials and a new endpoint or TLS setup are alike: tried first, saved with the result.
  const retest = Object.keys(secrets).length > 0 || !stored || !sameTestedFields(stored, settings);
  const result = retest ? await ctx.checks.testBeforeSave(row, settings, credentials) : undefined;
  const now = ctx.clock().toISOString();
  const patch: Partial<NewConnectionRow> = {
    name: settings.name,
    type: settings.type,
    ...(await ctx.seal.seal(id, settings)),
    name_key: nameKey,
    ...secrets,
    ...(credentials.clientKey === undefined && !settings.clientCertificate ? { client_key_enc: null } : {}),
    // No tunnel any more: its secrets go with it.
    ...(settings.ssh ? {} : { ssh_secrets_enc: null }),
    updated_at: now,
    // A changed target that could not be tested (no driver here) is untested, whatever it was.
    ...(retest ? (result ? { status: "healthy", last_tested_at: now } : { status: "untested" }) : {}),
  };
  let written: boolean;
  try {
    written = await ctx.repo.updateIfVersion(id, row.version, patch);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError("A connection with this name already exists", { reason: "name_taken" });
    throw err;
  }
  if (!written) {
    const current = await ctx.repo.findById(id);
    if (!current) throw new NotFoundError("connection", id);
    throw staleVersion(current.version, expectedVersion ?? row.version);
  }
  if (result) await ctx.checks.record(id, principal, "test", result);
  // Other hosts now: what was learned of the old ones' roles (highest timeline, writable-since)
  // would fence the new ones, so it goes before the pools are rebuilt.
  if (changed.length > 0) await forgetRoleMemory(ctx.db, id);
  ctx.onChanged?.(id);
  return view(await ctx.seal.open((await ctx.repo.findById(id))!));
}
