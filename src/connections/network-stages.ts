import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { describeNodeError, safeMessage } from "../drivers/failures.js";
import { normalizeHost } from "./host.js";
import { StageFailure, type StageOutput, type StageRun } from "./stages.js";
import { TARGET_DENIED, TargetDeniedError, type TargetPolicy } from "./target-policy.js";

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
