import type { Principal } from "../identity/principal.js";
import type { Intent } from "../pools/pool-manager.js";

/** Who the client is and where it goes, settled at startup. */
export interface ClientIdentity {
  readonly principal: Principal;
  readonly connectionId: string;
  readonly connectionName: string;
  readonly intent: Intent;
  /** Session pooling: the first backend stays with the client until it leaves. */
  readonly sessionPooling: boolean;
  /** Startup parameters to apply on every backend (key → SET statement). */
  readonly settings: Map<string, string>;
  readonly processId: number;
  readonly secretKey: number;
  readonly source: string;
}

/**
 * What a client reports to the front door (metrics, audit, the registry of clients). Generic over
 * the client so that this module needs nothing of the client's own.
 */
export interface ClientObserver<Client> {
  waiting(delta: number): void;
  active(delta: number): void;
  pinned(why: string): void;
  transaction(): void;
  bytes(direction: "in" | "out", n: number): void;
  waited(ms: number): void;
  closed(client: Client, reason: string): void;
}
