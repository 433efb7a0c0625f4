import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Driver, DriverSession } from "../drivers/driver.js";
import { warmPrivateKey } from "../drivers/ssh/private-key.js";
import { ValidationError } from "../errors/berth-error.js";
import { type CheckResult, CheckStage } from "../gen/berth/v1/types_pb.js";
import { dnsStage, type NetworkState, tcpStage } from "./network-stages.js";
import {
  type ConnectionSettings,
  type ConnectionSpecInput,
  type Credentials,
  scrubSecrets,
} from "./settings.js";
import { type SshRoute, sshStages } from "./ssh-stages.js";
import { runStages, StageFailure, type StageRun } from "./stages.js";
import { createTargetPolicy, type TargetPolicy } from "./target-policy.js";
import { PLAIN, tlsPlanFor } from "./tls-plan.js";
import { type ValidationMode, validateSpec } from "./validation.js";

export { dnsStage, type NetworkState, tcpStage } from "./network-stages.js";

/** Without a policy given, the default denials (link-local, cloud metadata) still hold. */
const DEFAULT_TARGETS = createTargetPolicy();

/** What the database's stages share: the checked address, the open socket, the session. */
interface TestState extends NetworkState {
  tlsOffered: boolean;
  session?: DriverSession;
  serverVersion: string;
}

/**
 * Test: dns → tcp → tls → auth → query, against the primary host. The TCP connection of the tcp
 * stage is reused for the tls stage, then the driver signs in on a connection of its own. Through
 * an SSH bastion the ssh stages come first (see sshStages); dns and tcp are then the bastion's to
 * do (the database host is resolved and reached from there), the tls stage runs on the forward
 * stage's channel, and the driver signs in over a channel of its own.
 */
export async function testConnection(
  driver: Driver,
  settings: ConnectionSettings,
  credentials: Credentials,
  timeoutMs: number,
  targets: TargetPolicy = DEFAULT_TARGETS,
): Promise<{ result: CheckResult; serverVersion: string }> {
  const state: TestState = { tlsOffered: true, serverVersion: "" };
  const deadlineAt = performance.now() + timeoutMs;
  const remaining = () => Math.max(1, Math.floor(deadlineAt - performance.now()));
  const ssh = settings.ssh
    ? sshStages(
        settings.ssh,
        credentials.ssh ?? { privateKey: undefined, passphrase: undefined, password: undefined },
        settings,
        targets,
        remaining,
      )
    : undefined;
  const stages = [
    ...(ssh?.stages ?? []),
    ...databaseStages(driver, settings, credentials, state, targets, remaining, ssh?.route),
  ];
  try {
    const target = settings.engineOptions.instanceName
      ? `${settings.server}\\${settings.engineOptions.instanceName}`
      : `${settings.server}:${settings.port}`;
    const via = settings.ssh ? ` via ssh ${settings.ssh.user}@${settings.ssh.host}:${settings.ssh.port}` : "";
    const result = await runStages(target + via, stages, timeoutMs, (err) => driver.describeError(err));
    result.serverVersion = state.serverVersion;
    return { result: scrubCredentials(result, credentials), serverVersion: state.serverVersion };
  } finally {
    state.socket?.destroy();
    const s = state.session;
    if (s) await s.close().catch(() => s.destroy());
    ssh?.route.close();
  }
}

function databaseStages(
  driver: Driver,
  settings: ConnectionSettings,
  credentials: Credentials,
  state: TestState,
  targets: TargetPolicy,
  remaining: () => number,
  tunnel: SshRoute | undefined,
): [CheckStage, StageRun][] {
  const plan = tlsPlanFor(settings, settings.server, credentials.clientKey);
  const viaSsh = "Reached through the SSH tunnel: the SSH server resolves and connects to the database host";
  return [
    [CheckStage.DNS, tunnel ? async () => ({ skipped: viaSsh }) : dnsStage(settings.server, state, targets)],
    [
      CheckStage.TCP,
      async (signal) => {
        if (tunnel) return { skipped: viaSsh };
        // A SQL Server named instance: the Browser says which port, and the stage says it asked.
        let port = settings.port;
        let via: string | undefined;
        if (driver.locate && settings.engineOptions.instanceName) {
          // Part of the budget only: a Browser that stays silent (unknown instance, UDP blocked)
          // should be reported as that, not as the whole test timing out.
          const share = Math.max(1, Math.floor(remaining() * 0.6));
          ({ port, via } = await driver.locate(
            state.address!,
            settings.engineOptions,
            Math.min(share, 3000),
          ));
        }
        const out = await tcpStage(port, state, plan.options !== undefined)(signal);
        return via ? { details: { ...out.details, instance: via } } : out;
      },
    ],
    [
      CheckStage.TLS,
      async (signal) => {
        if (!plan.options) return { skipped: "sslMode is disable" };
        // Through a tunnel, the forward stage's channel plays the tcp stage's socket.
        const socket = (tunnel?.channel as unknown as Socket | undefined) ?? state.socket!;
        signal.addEventListener("abort", () => socket.destroy(), { once: true });
        try {
          const secured = await driver.negotiateTls(socket, plan.options, settings.engineOptions);
          if (secured === "not_offered") {
            socket.destroy();
            if (!plan.fallbackToPlain) {
              throw new StageFailure({
                reason: "tls_not_offered",
                code: "",
                message: "The server does not offer TLS",
              });
            }
            state.tlsOffered = false;
            return { skipped: "The server does not offer TLS; continuing in plain text (sslMode prefer)" };
          }
          const details = describeTls(secured);
          secured.destroy();
          return { details };
        } catch (err) {
          socket.destroy();
          throw err;
        }
      },
    ],
    [
      CheckStage.AUTH,
      async (signal) => {
        const pending = driver.connect({
          host: settings.server,
          // The address the dns stage checked: no second lookup between check and connect.
          ...(state.address !== undefined ? { address: state.address } : {}),
          port: settings.port,
          database: settings.database,
          credentials,
          tls: state.tlsOffered ? plan : PLAIN,
          engineOptions: settings.engineOptions,
          connectTimeoutMs: remaining(),
          ...(tunnel?.tunnel
            ? { dial: () => tunnel.tunnel!.dial(settings.server, settings.port, remaining()) }
            : {}),
        });
        // A connect that completes after the deadline must not leak its session.
        signal.addEventListener(
          "abort",
          () =>
            void pending.then(
              (s) => s.destroy(),
              () => {},
            ),
          { once: true },
        );
        state.session = await pending;
        return {};
      },
    ],
    [
      CheckStage.QUERY,
      async (signal) => {
        const s = state.session!;
        signal.addEventListener("abort", () => s.destroy(), { once: true });
        try {
          state.serverVersion = await s.serverVersion();
        } catch (err) {
          const f = driver.describeError(err);
          throw new StageFailure({
            ...f,
            reason: f.reason === "unknown" || f.reason === "server_error" ? "query_failed" : f.reason,
          });
        }
        return { details: { server_version: state.serverVersion } };
      },
    ],
  ];
}

/**
 * Validate: config → credentials → dns → tcp, without signing in. The configuration is held to
 * today's rules (a stored one may predate them); `decrypt` proves the stored credentials still
 * decrypt, and is absent for an unsaved configuration, which has none.
 */
export async function validateConfiguration(
  input: {
    spec: ConnectionSpecInput;
    mode: ValidationMode;
    decrypt: (() => Promise<unknown>) | undefined;
    keyProvider: string;
    targets?: TargetPolicy | undefined;
  },
  timeoutMs: number,
): Promise<CheckResult> {
  let settings: ConnectionSettings | undefined;
  const state: NetworkState = {};
  const stages: [CheckStage, StageRun][] = [
    [
      CheckStage.CONFIG,
      async () => {
        try {
          await warmPrivateKey(input.spec.ssh?.privateKey, input.spec.ssh?.passphrase);
          settings = validateSpec(input.spec, input.mode).settings;
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          throw new StageFailure({ reason: "invalid_configuration", code: "", message: err.message });
        }
        return { details: { engine: settings.type, ssl_mode: settings.sslMode } };
      },
    ],
    [
      CheckStage.CREDENTIALS,
      async () => {
        if (!input.decrypt) return { skipped: "An unsaved configuration has no stored credentials" };
        try {
          await input.decrypt();
        } catch (err) {
          const field = (err as { details?: { field?: string } }).details?.field ?? "credential";
          throw new StageFailure({
            reason: "credential_integrity_failed",
            code: "",
            message: `The stored ${field} cannot be decrypted`,
          });
        }
        return { details: { key_provider: input.keyProvider } };
      },
    ],
    // Through an SSH bastion, Berth's own connection goes to the bastion: that is what is checked.
    [
      CheckStage.DNS,
      (signal) =>
        dnsStage(settings!.ssh?.host ?? settings!.server, state, input.targets ?? DEFAULT_TARGETS)(signal),
    ],
    [CheckStage.TCP, (signal) => tcpStage(settings!.ssh?.port ?? settings!.port, state, false)(signal)],
  ];
  const label = `${input.spec.server ?? ""}:${input.spec.port ?? ""}`;
  return runStages(label, stages, timeoutMs, (err) => ({
    reason: "unknown",
    code: "",
    message: (err as Error).message,
  }));
}

function describeTls(socket: import("node:tls").TLSSocket): Record<string, string> {
  const cert = socket.getPeerCertificate();
  const details: Record<string, string> = {
    protocol: socket.getProtocol() ?? "",
    cipher: socket.getCipher()?.name ?? "",
    verified: String(socket.authorized),
  };
  if (cert && Object.keys(cert).length > 0) {
    details.subject = cert.subject?.CN ? String(cert.subject.CN) : "";
    details.issuer = cert.issuer?.CN ? String(cert.issuer.CN) : "";
    details.valid_to = cert.valid_to ? new Date(cert.valid_to).toISOString() : "";
  }
  return details;
}

/** The user name and password never come back in a check result (see scrubSecrets). */
export function scrubCredentials(result: CheckResult, credentials: Credentials): CheckResult {
  for (const stage of result.stages) {
    stage.message = scrubSecrets(stage.message, credentials);
    for (const [k, v] of Object.entries(stage.details)) stage.details[k] = scrubSecrets(v, credentials);
  }
  return result;
}
