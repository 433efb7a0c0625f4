import { lookup } from "node:dns/promises";
import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { performance } from "node:perf_hooks";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { Driver, DriverFailure, DriverSession } from "../drivers/driver.js";
import { describeNodeError, StageTimeoutError, safeMessage } from "../drivers/failures.js";
import {
  CheckOutcome,
  type CheckResult,
  CheckResultSchema,
  CheckStage,
  type StageResult,
} from "../gen/berth/v1/types_pb.js";
import { remedyFor } from "./remedies.js";
import { type ConnectionSettings, type Credentials, scrubSecrets } from "./settings.js";
import { PLAIN, tlsPlanFor } from "./tls-plan.js";

/** A stage that failed, already in Berth's vocabulary. */
export class StageFailure extends Error {
  constructor(readonly failure: DriverFailure) {
    super(failure.message);
  }
}

export interface StageOutput {
  details?: Record<string, string>;
  /** The stage does not apply (TLS disabled); the reason is shown. */
  skipped?: string;
}

export type StageRun = (signal: AbortSignal) => Promise<StageOutput>;

/**
 * Runs stages in order under one deadline. Each stage gets what remains of it; the first failure
 * stops the run and the rest are reported as skipped. Nothing here ever sees a secret's value
 * except the driver's connect, and failures carry only the driver's message.
 */
export async function runStages(
  target: string,
  stages: readonly [CheckStage, StageRun][],
  timeoutMs: number,
  describe: (err: unknown) => DriverFailure,
): Promise<CheckResult> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  const results: StageResult[] = [];
  let failedAt: CheckStage | undefined;
  for (const [stage, run] of stages) {
    if (failedAt !== undefined) {
      results.push(
        stageResult(stage, CheckOutcome.SKIPPED, 0, {
          message: `Not run: the ${stageLabel(failedAt)} stage failed`,
        }),
      );
      continue;
    }
    const t0 = performance.now();
    try {
      const out = await withDeadline(run, deadline - t0, `The ${stageLabel(stage)} stage`);
      const ms = performance.now() - t0;
      results.push(
        out.skipped
          ? stageResult(stage, CheckOutcome.SKIPPED, ms, { message: out.skipped, details: out.details })
          : stageResult(stage, CheckOutcome.PASSED, ms, { details: out.details }),
      );
    } catch (err) {
      const f =
        err instanceof StageFailure
          ? err.failure
          : err instanceof StageTimeoutError
            ? timeoutFailure(err)
            : describe(err);
      failedAt = stage;
      results.push(
        stageResult(stage, CheckOutcome.FAILED, performance.now() - t0, {
          reason: f.reason,
          errorCode: f.code,
          message: f.message,
          remedy: remedyFor(f.reason),
        }),
      );
    }
  }
  return create(CheckResultSchema, {
    ok: failedAt === undefined,
    stages: results,
    totalMs: round(performance.now() - started),
    checkedAt: timestampNow(),
    target,
  });
}

function timeoutFailure(err: StageTimeoutError): DriverFailure {
  return { reason: "timeout", code: "ETIMEDOUT", message: err.message };
}

function stageResult(
  stage: CheckStage,
  outcome: CheckOutcome,
  ms: number,
  extra: Partial<Pick<StageResult, "reason" | "errorCode" | "message" | "remedy">> & {
    details?: Record<string, string> | undefined;
  },
): StageResult {
  return {
    $typeName: "berth.v1.StageResult",
    stage,
    outcome,
    durationMs: round(ms),
    reason: extra.reason ?? "",
    errorCode: extra.errorCode ?? "",
    message: extra.message ?? "",
    remedy: extra.remedy ?? "",
    details: extra.details ?? {},
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export function stageLabel(stage: CheckStage): string {
  return CheckStage[stage].toLowerCase();
}

async function withDeadline(run: StageRun, remainingMs: number, what: string): Promise<StageOutput> {
  const budget = Math.max(0, Math.floor(remainingMs));
  if (budget <= 0) throw new StageTimeoutError(what, 0);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new StageTimeoutError(what, budget));
    }, budget);
  });
  try {
    return await Promise.race([run(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The shared dns and tcp stages. `state` carries the resolved address and open socket onwards. */
export interface NetworkState {
  address?: string;
  socket?: Socket;
}

export function dnsStage(server: string, state: NetworkState): StageRun {
  return async (): Promise<StageOutput> => {
    if (isIP(server)) {
      state.address = server;
      return { details: { addresses: server, note: "IP address; no lookup needed" } };
    }
    try {
      const found = await lookup(server, { all: true });
      state.address = found[0]?.address;
      return { details: { addresses: found.map((a) => a.address).join(", ") } };
    } catch (err) {
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
): Promise<{ result: CheckResult; serverVersion: string }> {
  const state: NetworkState = {};
  const plan = tlsPlanFor(settings, settings.server, credentials.clientKey);
  let tlsOffered = true;
  let session: DriverSession | undefined;
  let serverVersion = "";
  const deadlineAt = performance.now() + timeoutMs;
  const describe = (err: unknown) => driver.describeError(err);

  const stages: [CheckStage, StageRun][] = [
    [CheckStage.DNS, dnsStage(settings.server, state)],
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
