import { requirePerson } from "../access/guards.js";
import type { AccessLevel } from "../access/levels.js";
import type { Driver } from "../drivers/driver.js";
import { warmPrivateKey } from "../drivers/ssh/private-key.js";
import { ENGINES, type EngineId } from "../engines/index.js";
import { ConnectionCheckError, UnimplementedError, ValidationError } from "../errors/berth-error.js";
import { type CheckResult, CheckStage } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionRepository } from "../store/connection-repository.js";
import type { ConnectionRow } from "../store/schema.js";
import { testConnection as runTest, validateConfiguration } from "./checks.js";
import { type CredentialCipher, type CredentialColumns, credentialsFromInput } from "./credential-cipher.js";
import { enforceTls } from "./require-tls.js";
import { inputFromRow, settingsFromRow } from "./row-mapping.js";
import type { SettingsSeal } from "./sealed-settings.js";
import type { ConnectionSettings, ConnectionSpecInput, ConnectionStatusId } from "./settings.js";
import { TARGET_DENIED, type TargetPolicy } from "./target-policy.js";
import type { TestedConfigs } from "./tested-configs.js";
import { type CredentialInput, validateSpec } from "./validation.js";

export type CheckTarget = { id: string } | { spec: ConnectionSpecInput };

const MAX_TEST_TIMEOUT_MS = 30_000;

export interface ConnectionChecksDeps {
  repo: ConnectionRepository;
  cipher: CredentialCipher;
  /** Seals each recorded result: it names the host it checked. */
  seal: SettingsSeal;
  drivers: (engine: EngineId) => Driver | undefined;
  tested: TestedConfigs;
  /** A row the principal holds `required` on, its settings opened. */
  authorize: (
    principal: Principal,
    id: string,
    required: AccessLevel,
    what: string,
  ) => Promise<ConnectionRow>;
  clock: () => Date;
  testTimeoutMs: number;
  requireTls: boolean | undefined;
  /** Where tests and validations may connect; absent: the default denials only. */
  targets?: TargetPolicy | undefined;
  /** Told of every test and validation's result (the metrics: success rate, stage durations). */
  observe?: ((kind: "test" | "validate", engine: string, result: CheckResult) => void) | undefined;
}

/**
 * Test and validate, the two recipes side by side, and what their results do to a connection:
 * every check is recorded; a test sets status and lastTestedAt; a validate sets lastTestedAt, and
 * its failure sets status too (a server that cannot be reached is not healthy, signed in or not).
 */
export function createConnectionChecks(deps: ConnectionChecksDeps) {
  // Every test below is held to the target policy (checked after DNS, before any packet is sent).
  const testConnection: typeof runTest = async (driver, settings, credentials, timeoutMs) => {
    const out = await runTest(driver, settings, credentials, timeoutMs, deps.targets);
    deps.observe?.("test", settings.type, out.result);
    return out;
  };

  function driverOrThrow(engine: EngineId): Driver {
    const driver = deps.drivers(engine);
    if (!driver) throw new UnimplementedError(`Connecting to ${ENGINES[engine].label}`);
    return driver;
  }

  function boundTimeout(timeoutMs: number | undefined): number {
    if (timeoutMs === undefined || timeoutMs === 0) return deps.testTimeoutMs;
    if (timeoutMs < 100 || timeoutMs > MAX_TEST_TIMEOUT_MS) {
      throw ValidationError.field("timeoutMs", `must be from 100 to ${MAX_TEST_TIMEOUT_MS} milliseconds`);
    }
    return timeoutMs;
  }

  async function record(id: string, principal: Principal, kind: "test" | "validate", result: CheckResult) {
    const now = deps.clock().toISOString();
    await deps.repo.recordCheck({
      connectionId: id,
      kind,
      ok: result.ok,
      resultEnc: await deps.seal.sealCheck(id, result),
      checkedAt: now,
      checkedById: principal.userId,
    });
    if (kind === "test" || !result.ok) await deps.repo.setStatus(id, statusAfterCheck(result), now);
    else await deps.repo.markChecked(id, now);
  }

  return {
    record,

    /** Test: signs in for real. Throws ConnectionCheckError (with every stage) when a stage fails. */
    async test(principal: Principal, target: CheckTarget, timeoutMs?: number): Promise<CheckResult> {
      const bound = boundTimeout(timeoutMs);
      if ("spec" in target) {
        // An unsaved configuration can point anywhere: probing the network is for people.
        requirePerson(principal, "test unsaved configurations");
        await warmPrivateKey(target.spec.ssh?.privateKey, target.spec.ssh?.passphrase);
        const { settings, credentials } = validateSpec(target.spec, { kind: "new" });
        enforceTls(deps.requireTls, settings);
        const creds = credentialsFromInput(credentials);
        const { result } = await testConnection(driverOrThrow(settings.type), settings, creds, bound);
        // A Create of exactly this configuration, by this person, is saved with this result.
        deps.tested.remember(principal.userId, settings, creds, result);
        if (!result.ok) throw new ConnectionCheckError(result, settings.type);
        return result;
      }
      const row = await deps.authorize(principal, target.id, "user", "test");
      const settings = settingsFromRow(row);
      // Connections saved before the policy was turned on are held to it too.
      enforceTls(deps.requireTls, settings);
      const driver = driverOrThrow(settings.type);
      const { result } = await testConnection(driver, settings, await deps.cipher.decrypt(row), bound);
      await record(row.id, principal, "test", result);
      if (!result.ok) throw new ConnectionCheckError(result, settings.type);
      return result;
    },

    /** Validate: the rules, the credentials' decryptability, DNS and TCP — without signing in. */
    async validate(principal: Principal, target: CheckTarget, timeoutMs?: number): Promise<CheckResult> {
      const bound = boundTimeout(timeoutMs);
      const row = "id" in target ? await deps.authorize(principal, target.id, "user", "validate") : undefined;
      if (!row) requirePerson(principal, "validate unsaved configurations");
      const spec = row ? inputFromRow(row) : "spec" in target ? target.spec : {};
      const result = await validateConfiguration(
        {
          spec,
          mode: row
            ? {
                kind: "update",
                hasStoredClientKey: row.client_key_enc !== null,
                storedSsh: row.ssh_secrets_enc !== null ? settingsFromRow(row).ssh?.stored : undefined,
              }
            : { kind: "new" },
          decrypt: row ? () => deps.cipher.decrypt(row) : undefined,
          keyProvider: deps.cipher.providerName,
          targets: deps.targets,
        },
        bound,
      );
      deps.observe?.("validate", spec.type ?? "unknown", result);
      if (row) await record(row.id, principal, "validate", result);
      if (!result.ok) throw new ConnectionCheckError(result, spec.type ?? "unknown");
      return result;
    },

    /**
     * A change to what a test depends on (endpoint, TLS, credentials) is tried against the database
     * before it replaces a working configuration: a typo must not take a connection down. A failure
     * answers like a test (422, every stage) and writes nothing. Engines without a driver in this
     * build cannot be checked: undefined, and the change is saved untested.
     */
    async testBeforeSave(
      row: CredentialColumns,
      settings: ConnectionSettings,
      given: CredentialInput,
    ): Promise<CheckResult | undefined> {
      const driver = deps.drivers(settings.type);
      if (!driver) return undefined;
      const merged = await deps.cipher.decrypt(row, given);
      const { result } = await testConnection(driver, settings, merged, deps.testTimeoutMs);
      if (!result.ok) throw new ConnectionCheckError(result, settings.type);
      return result;
    },
  };
}

export type ConnectionChecks = ReturnType<typeof createConnectionChecks>;

/**
 * Could not reach the server at all → unavailable; reached it but was refused → failed. A target
 * the policy denies is failed too: nothing was tried, and retrying will not change the answer.
 */
export function statusAfterCheck(result: CheckResult): ConnectionStatusId {
  if (result.ok) return "healthy";
  const failed = result.stages.find((s) => s.reason !== "");
  return failed &&
    failed.reason !== TARGET_DENIED &&
    (failed.stage === CheckStage.DNS ||
      failed.stage === CheckStage.TCP ||
      failed.stage === CheckStage.SSH_DNS ||
      failed.stage === CheckStage.SSH_TCP ||
      failed.reason === "timeout")
    ? "unavailable"
    : "failed";
}
