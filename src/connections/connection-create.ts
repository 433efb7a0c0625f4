import { randomUUID } from "node:crypto";
import { requirePerson } from "../access/guards.js";
import type { AccessLevel } from "../access/levels.js";
import { warmPrivateKey } from "../drivers/ssh/private-key.js";
import type { CheckResult } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import { accessRepository } from "../store/access-repository.js";
import { connectionRepository } from "../store/connection-repository.js";
import { isUniqueViolation } from "../store/errors.js";
import type { ConnectionRow, NewConnectionRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import { statusAfterCheck } from "./connection-checks.js";
import { nameTaken } from "./connection-gate.js";
import { type CredentialCipher, credentialsFromInput } from "./credential-cipher.js";
import { enforceTls } from "./require-tls.js";
import { type ConnectionView, settingsColumns, view } from "./row-mapping.js";
import type { SettingsSeal } from "./sealed-settings.js";
import type { ConnectionSettings, ConnectionSpecInput } from "./settings.js";
import type { TestedConfigs } from "./tested-configs.js";
import { type CredentialInput, validateSpec } from "./validation.js";

/** What creating a connection needs of the registry. */
export interface CreateContext {
  db: Db;
  requireTls: boolean | undefined;
  clock: () => Date;
  cipher: CredentialCipher;
  seal: SettingsSeal;
  assertNameFree: (nameKey: string) => Promise<void>;
}

/** A test result the new connection is saved with (its status and lastTestedAt come from it). */
export interface KnownCheck {
  result: CheckResult;
  testedAt: string;
}

/** A new connection, validated, sealed and encrypted, ready to be inserted. */
export interface PreparedConnection {
  row: NewConnectionRow;
  settings: ConnectionSettings;
  known: KnownCheck | undefined;
  knownEnc: string | undefined;
}

/** A grant to write with a new connection (besides its creator's ownership). */
export interface ExtraGrant {
  userId?: string | undefined;
  googleEmail?: string | undefined;
  level: AccessLevel;
}

/** A connection to create with the test result it was checked with and grants besides its creator's. */
export interface NewWithGrants {
  input: ConnectionSpecInput;
  known: KnownCheck | undefined;
  grants: ExtraGrant[];
}

/** Creates one connection from a caller's spec, owned by the caller. */
export async function createConnection(
  ctx: CreateContext,
  tested: Pick<TestedConfigs, "recall">,
  principal: Principal,
  input: ConnectionSpecInput,
): Promise<ConnectionView> {
  await warmPrivateKey(input.ssh?.privateKey, input.ssh?.passphrase);
  const validated = validateNew(ctx, input);
  // The caller tested exactly this configuration a moment ago: that result stands.
  const known = tested.recall(
    principal.userId,
    validated.settings,
    credentialsFromInput(validated.credentials),
  );
  const prepared = await prepareConnection(ctx, principal, validated, known);
  // The connection, its creator's ownership and the kept test land together or not at all.
  await insertConnections(ctx.db, principal, [{ prepared }]);
  return preparedView(prepared);
}

/**
 * Creates connections together (a bundle's import), each with its test result and grants: all or
 * none. The specs were validated and tested by the caller; rules and names are checked again here.
 */
export async function createAll(
  ctx: CreateContext,
  principal: Principal,
  items: readonly NewWithGrants[],
): Promise<ConnectionView[]> {
  const prepared: { prepared: PreparedConnection; grants: ExtraGrant[] }[] = [];
  for (const item of items) {
    await warmPrivateKey(item.input.ssh?.privateKey, item.input.ssh?.passphrase);
    const validated = validateNew(ctx, item.input);
    prepared.push({
      prepared: await prepareConnection(ctx, principal, validated, item.known),
      grants: item.grants,
    });
  }
  await insertConnections(ctx.db, principal, prepared);
  return prepared.map((p) => preparedView(p.prepared));
}

/** The validated settings and credentials of a spec for a new connection (ValidationError if it breaks a rule). */
export function validateNew(ctx: Pick<CreateContext, "requireTls">, input: ConnectionSpecInput) {
  const validated = validateSpec(input, { kind: "new" });
  enforceTls(ctx.requireTls, validated.settings);
  return validated;
}

/**
 * Everything but the write: rules, the name, encryption. Encrypting happens here, before any
 * transaction: a key provider's round trip must not hold the store's lock.
 */
export async function prepareConnection(
  ctx: CreateContext,
  principal: Principal,
  validated: { settings: ConnectionSettings; credentials: CredentialInput },
  known: KnownCheck | undefined,
): Promise<PreparedConnection> {
  requirePerson(principal, "register connections");
  const { settings, credentials } = validated;
  const nameKey = settings.name.toLowerCase();
  await ctx.assertNameFree(nameKey);
  const id = randomUUID();
  const now = ctx.clock().toISOString();
  const knownEnc = known ? await ctx.seal.sealCheck(id, known.result) : undefined;
  const row: NewConnectionRow = {
    id,
    name_key: nameKey,
    name: settings.name,
    type: settings.type,
    ...(await ctx.seal.seal(id, settings)),
    ...(await ctx.cipher.encryptAll(id, credentials)),
    created_by_id: principal.userId,
    created_by_google_email: principal.googleEmail,
    created_at: now,
    updated_at: now,
    last_tested_at: known?.testedAt ?? null,
    status: known ? statusAfterCheck(known.result) : "untested",
    version: 1,
  };
  return { row, settings, known, knownEnc };
}

/** Writes prepared connections, their creator's ownership, their kept tests and extra grants: all or none. */
export async function insertConnections(
  db: Db,
  principal: Principal,
  items: readonly { prepared: PreparedConnection; grants?: readonly ExtraGrant[] }[],
): Promise<void> {
  try {
    await db.transaction().execute(async (trx) => {
      for (const { prepared, grants = [] } of items) await insertOne(trx, principal, prepared, grants);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken();
    throw err;
  }
}

async function insertOne(
  trx: Db,
  principal: Principal,
  p: PreparedConnection,
  grants: readonly ExtraGrant[],
) {
  const { id, created_at: now } = p.row;
  await connectionRepository(trx).insert(p.row);
  const access = accessRepository(trx);
  const grant = (g: ExtraGrant) =>
    access.upsert({
      connection_id: id,
      user_id: g.userId ?? null,
      google_email: g.googleEmail?.toLowerCase() ?? null,
      access_level: g.level,
      assigned_at: now,
      assigned_by_id: principal.userId,
    });
  // The extra grants first: the creator's ownership is written last, so that it always stands.
  for (const g of grants) if (g.userId !== principal.userId) await grant(g);
  await grant({ userId: principal.userId, level: "owner" });
  if (p.known && p.knownEnc) {
    await connectionRepository(trx).recordCheck({
      connectionId: id,
      kind: "test",
      ok: p.known.result.ok,
      resultEnc: p.knownEnc,
      checkedAt: p.known.testedAt,
      checkedById: principal.userId,
    });
  }
}

/** The new connection as the API shows it (from what was written, without reading it back). */
export function preparedView(p: PreparedConnection): ConnectionView {
  const { settings_enc: _sealed, ...clear } = p.row;
  return view({ ...clear, ...settingsColumns(p.settings) } as ConnectionRow);
}
