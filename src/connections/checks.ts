import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { performance } from "node:perf_hooks";
import type { Driver, DriverSession } from "../drivers/driver.js";
import { describeNodeError, safeMessage } from "../drivers/failures.js";
import { ValidationError } from "../errors/berth-error.js";
import { type CheckResult, CheckStage } from "../gen/berth/v1/types_pb.js";
import { normalizeHost } from "./host.js";
import {
  type ConnectionSettings,
  type ConnectionSpecInput,
  type Credentials,
  scrubSecrets,
} from "./settings.js";
import { runStages, StageFailure, type StageOutput, type StageRun } from "./stages.js";
import { createTargetPolicy, TARGET_DENIED, TargetDeniedError, type TargetPolicy } from "./target-policy.js";
import { PLAIN, tlsPlanFor } from "./tls-plan.js";
import { type ValidationMode, validateSpec } from "./validation.js";

/** Without a policy given, the default denials (link-local, cloud metadata) still hold. */
const DEFAULT_TARGETS = createTargetPolicy();

/** The shared dns and tcp stages. `state` carries the resolved address and open socket onwards. */
export interface NetworkState {
  address?: string;
  socket?: Socket;
}

/**
 * Resolves the host once and holds it to the target policy: a denied target fails here, with the
 * one reason target_denied, before any packet is sent to it — so the answer cannot tell an open
 * port from a closed one. The later stages connect to the checked address, not to the name.
 */
export function dnsStage(server: string, state: NetworkState, targets: TargetPolicy): StageRun {
  return async (): Promise<StageOutput> => {
    try {
      const found = await targets.resolve(server);
      state.address = found[0];
      return {
        details: isIP(normalizeHost(server))
          ? { addresses: found.join(", "), note: "IP address; no lookup needed" }
          : { addresses: found.join(", ") },
      };
    } catch (err) {
      if (err instanceof TargetDeniedError)
        throw new StageFailure({ reason: TARGET_DENIED, code: "", message: err.message });
      throw new StageFailure(
        describeNodeError(err) ?? { reason: "host_not_found", code: "", message: safeMessage(err) },
      );
    }
  };
}

export function tcpStage(port: number, state: NetworkState, keepOpen: boolean): StageRun {
  return (signal) =>
    new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: state.address!, port });
      const onAbort = () => socket.destroy();
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("connect", () => {
        socket.off("error", onError);
        signal.removeEventListener("abort", onAbort);
        if (keepOpen) state.socket = socket;
        else socket.destroy();
        resolve({ details: { address: `${state.address}:${port}` } });
      });
      const onError = (err: Error) => {
        signal.removeEventListener("abort", onAbort);
        reject(
          new StageFailure(
            describeNodeError(err) ?? { reason: "unknown", code: "", message: safeMessage(err) },
          ),
        );
      };
      socket.once("error", onError);
    });
}

/**
 * Test: dns → tcp → tls → auth → query, against the primary host. The TCP connection of the tcp
 * stage is reused for the tls stage, then the driver signs in on a connection of its own.
 */
export async function testConnection(
  driver: Driver,
  settings: ConnectionSettings,
  credentials: Credentials,
  timeoutMs: number,
  targets: TargetPolicy = DEFAULT_TARGETS,
): Promise<{ result: CheckResult; serverVersion: string }> {
  const state: NetworkState = {};
  const plan = tlsPlanFor(settings, settings.server, credentials.clientKey);
  let tlsOffered = true;
  let session: DriverSession | undefined;
  let serverVersion = "";
  const deadlineAt = performance.now() + timeoutMs;
  const describe = (err: unknown) => driver.describeError(err);

  const stages: [CheckStage, StageRun][] = [
    [CheckStage.DNS, dnsStage(settings.server, state, targets)],
    [
      CheckStage.TCP,
      async (signal) => {
        // A SQL Server named instance: the Browser says which port, and the stage says it asked.
        let port = settings.port;
        let via: string | undefined;
        if (driver.locate && settings.engineOptions.instanceName) {
          // Part of the budget only: a Browser that stays silent (unknown instance, UDP blocked)
          // should be reported as that, not as the whole test timing out.
          const remaining = Math.max(1, Math.floor((deadlineAt - performance.now()) * 0.6));
          ({ port, via } = await driver.locate(
            state.address!,
            settings.engineOptions,
            Math.min(remaining, 3000),
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
        const socket = state.socket!;
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
            tlsOffered = false;
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
          tls: tlsOffered ? plan : PLAIN,
          engineOptions: settings.engineOptions,
          connectTimeoutMs: Math.max(1, Math.floor(deadlineAt - performance.now())),
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
        session = await pending;
        return {};
      },
    ],
    [
      CheckStage.QUERY,
      async (signal) => {
        const s = session!;
        signal.addEventListener("abort", () => s.destroy(), { once: true });
        try {
          serverVersion = await s.serverVersion();
        } catch (err) {
          const f = driver.describeError(err);
          throw new StageFailure({
            ...f,
            reason: f.reason === "unknown" || f.reason === "server_error" ? "query_failed" : f.reason,
          });
        }
        return { details: { server_version: serverVersion } };
      },
    ],
  ];
  try {
    const target = settings.engineOptions.instanceName
      ? `${settings.server}\\${settings.engineOptions.instanceName}`
      : `${settings.server}:${settings.port}`;
    const result = await runStages(target, stages, timeoutMs, describe);
    result.serverVersion = serverVersion;
    return { result: scrubCredentials(result, credentials), serverVersion };
  } finally {
    state.socket?.destroy();
    const s = session as DriverSession | undefined;
    if (s) await s.close().catch(() => s.destroy());
  }
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
    [CheckStage.DNS, (signal) => dnsStage(settings!.server, state, input.targets ?? DEFAULT_TARGETS)(signal)],
    [CheckStage.TCP, (signal) => tcpStage(settings!.port, state, false)(signal)],
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
