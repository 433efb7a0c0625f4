import type { Socket } from "node:net";
import type { RevocationReason } from "../access/revocation-watch.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionPool } from "../pools/pool.js";
import type { PoolManager } from "../pools/pool-manager.js";
import type { PooledSession } from "../pools/pool-types.js";
import { AttachedBackend } from "./backend.js";
import { BackendWait } from "./backend-wait.js";
import { Backpressure } from "./backpressure.js";
import { CancelsInFlight } from "./cancels.js";
import type { ClientIdentity, ClientObserver } from "./client-identity.js";
import { ClientInput } from "./client-input.js";
import { frontDoorErrorOf } from "./errors.js";
import { CANCELLED, FailureReplies } from "./failure-replies.js";
import { ClientStatements } from "./prepared.js";
import { CLIENT_TYPES, handleRequest, MAX_CLIENT_MESSAGE_BYTES, type RequestContext } from "./requests.js";
import { ResponseTracker } from "./responses.js";
import { applySettingChanges, forgetAfter, settingsReplayQuery } from "./session-settings.js";
import { errorResponse } from "./wire.js";

type Phase = "idle" | "acquiring" | "attached" | "closed";

/**
 * One client of the PostgreSQL front door, after startup. Transaction pooling: a backend is taken
 * from the connection's pool at the client's first message and given back at the ReadyForQuery
 * that reports idle with nothing else in flight. Bytes travel as whole chunks; only message
 * headers are read, and the bodies of the few messages that name prepared statements or may
 * change session state.
 */
export class FrontDoorClient {
  readonly #socket: Socket;
  readonly #pools: PoolManager;
  readonly #observer: ClientObserver<FrontDoorClient>;
  readonly #statements = new ClientStatements();
  #phase: Phase = "idle";
  /** The pool of the client's last write backend: the next is taken from it, at once when one is idle. */
  #pool: ConnectionPool | undefined;
  #backend: AttachedBackend | undefined;
  readonly #tracker: ResponseTracker;
  readonly #context: RequestContext;
  readonly #wireHandler = {
    data: (chunk: Buffer) => this.#fromBackend(chunk),
    lost: () => this.#backendLost(),
  };
  /** The transaction status the client was last told. */
  #status = "I";
  #pinnedWhy: string | undefined;
  /** Bytes read but not yet handled: a partial message, or everything that came while acquiring. */
  readonly #input = new ClientInput();
  readonly #flow: Backpressure;
  readonly #failures: FailureReplies;
  readonly #cancels = new CancelsInFlight();
  readonly #wait: BackendWait;
  readonly openedAt = Date.now();
  transactions = 0;

  constructor(
    socket: Socket,
    readonly identity: ClientIdentity,
    deps: { pools: PoolManager; observer: ClientObserver<FrontDoorClient> },
  ) {
    this.#socket = socket;
    this.#pools = deps.pools;
    this.#observer = deps.observer;
    this.#flow = new Backpressure(socket);
    this.#failures = new FailureReplies(socket, identity.connectionName);
    this.#wait = new BackendWait(deps.pools, identity, {
      acquired: (pool, pooled, started) => this.#acquired(pool, pooled, started),
      failed: (err) => this.#acquireFailed(err),
    });
    this.#tracker = this.#newTracker();
    this.#context = this.#requestContext();
    if (identity.sessionPooling) this.#pinnedWhy = "session pooling";
    socket.on("data", (chunk: Buffer) => this.#onClientData(chunk));
    socket.on("close", () => this.#onClientGone());
    socket.on("error", () => {});
  }

  get principal(): Principal {
    return this.identity.principal;
  }
  get connectionId(): string {
    return this.identity.connectionId;
  }
  get state(): "idle" | "waiting" | "active" {
    return this.#phase === "acquiring" ? "waiting" : this.#phase === "attached" ? "active" : "idle";
  }
  get pinned(): string | undefined {
    return this.#pinnedWhy;
  }

  /** Data that arrived with the startup packet or authentication (a pipelining client's first query). */
  feed(chunks: Buffer[]): void {
    for (const c of chunks) this.#onClientData(c);
  }

  #newTracker(): ResponseTracker {
    return new ResponseTracker({
      toClient: (bytes) => {
        this.#observer.bytes("out", bytes.length);
        this.#flow.toClient(bytes);
      },
      ready: (status, seen) => this.#onReady(status, seen),
      // A write refused as read-only (25006): the primary may have moved; roles are checked now.
      serverError: (code) => {
        if (this.#backend) this.#pools.noteServerError(this.#backend.pool, code);
      },
    });
  }

  #onClientData(chunk: Buffer): void {
    if (this.#phase === "closed") return;
    this.#observer.bytes("in", chunk.length);
    this.#input.push(chunk);
    this.#drain();
  }

  /** Handles every whole message pending, acquiring a backend first when one is needed. */
  #drain(): void {
    while (this.#phase !== "closed" && this.#phase !== "acquiring" && this.#input.bytes >= 5) {
      const head = this.#input.head();
      const type = head[0]!;
      const length = head.readInt32BE(1);
      // Checked before waiting for the body and before taking a backend for it.
      if (length < 4 || length > MAX_CLIENT_MESSAGE_BYTES || !CLIENT_TYPES.has(type)) {
        this.#protocolViolation(type, length);
        return;
      }
      if (this.#input.bytes < length + 1) return;
      if (this.#failures.batchFailed) {
        // No backend will run it: dropped, and its Sync gets the failure.
        this.#input.take(length + 1);
        if (type === 0x58) {
          this.close("terminated");
          return;
        }
        this.#failures.swallow(type);
        continue;
      }
      if (!this.#backend) {
        if (type === 0x58) {
          this.close("terminated");
          return;
        }
        if (!this.#acquire()) return;
      }
      this.#handleWholeMessages();
    }
  }

  /**
   * With a backend attached: every whole message of the first pending chunk goes through
   * handleRequest; runs of messages forwarded unchanged go out as slices of the chunk.
   */
  #handleWholeMessages(): void {
    const chunk = this.#input.firstChunk();
    const out: Buffer[] = [];
    let at = 0;
    let run = 0;
    const ctx = this.#context;
    while (at + 5 <= chunk.length) {
      const length = chunk.readInt32BE(at + 1);
      if (length < 4 || length > MAX_CLIENT_MESSAGE_BYTES || !CLIENT_TYPES.has(chunk[at]!)) {
        this.#protocolViolation(chunk[at]!, length);
        return;
      }
      const end = at + 1 + length;
      if (end > chunk.length) break;
      const outcome = handleRequest(ctx, chunk[at]!, chunk.subarray(at + 5, end));
      if (outcome === "terminate") {
        if (at > run) out.push(chunk.subarray(run, at));
        if (out.length > 0) this.#flow.toBackend(out);
        this.close("terminated");
        return;
      }
      if (outcome !== undefined) {
        if (at > run) out.push(chunk.subarray(run, at));
        out.push(...outcome);
        run = end;
      }
      at = end;
    }
    if (at > run) out.push(at === chunk.length && run === 0 ? chunk : chunk.subarray(run, at));
    // Consume what was handled; a partial message stays pending.
    this.#input.consumedFirst(at);
    if (out.length > 0) this.#flow.toBackend(out);
  }

  /** One per client: its getters read the backend and status of the moment. */
  #requestContext(): RequestContext {
    const client = this;
    return {
      tracker: this.#tracker,
      statements: this.#statements,
      get backend() {
        return client.#backend!.state;
      },
      get txStatus() {
        return client.#status;
      },
      pin: (why) => {
        if (this.#pinnedWhy) return;
        this.#pinnedWhy = why;
        this.#observer.pinned(why);
      },
      settingsChanged: (changes) =>
        applySettingChanges(changes, this.identity.settings, this.#backend?.state.settings),
      forgotPrepared: (sql) =>
        forgetAfter(
          sql,
          { statements: this.#statements, settings: this.identity.settings },
          this.#backend?.state,
        ),
    };
  }

  /**
   * Takes a backend: at once when the pool of the client's last write backend has one idle; else
   * the client waits, unread (see BackendWait), and is told through #acquired or #acquireFailed.
   */
  #acquire(): boolean {
    const last = this.#pool;
    const pool = last && !last.closed && this.identity.intent === "write" ? last : undefined;
    const started = performance.now();
    const pooled = pool?.takeIdleNow();
    if (pooled) {
      this.#attach(pool!, pooled, 0);
      return true;
    }
    this.#phase = "acquiring";
    this.#observer.waiting(1);
    this.#flow.waitForBackend();
    this.#wait.start(pool, started);
    return false;
  }

  #acquired(pool: ConnectionPool, pooled: PooledSession, started: number): void {
    this.#observer.waiting(-1);
    if (this.#phase === "closed" || this.#failures.batchFailed) {
      // Gone, or cancelled while it waited: the backend goes straight back.
      pool.releaseKept(pooled);
      if (this.#phase === "closed") return;
      this.#phase = "idle";
      this.#flow.backendWaitOver();
      this.#drain();
      return;
    }
    if (this.identity.intent === "write") this.#pool = pool;
    this.#attach(pool, pooled, performance.now() - started);
    this.#flow.backendWaitOver();
    this.#drain();
  }

  #acquireFailed(err: unknown): void {
    this.#observer.waiting(-1);
    if (this.#phase === "closed") return;
    this.#phase = "idle";
    this.#failures.failBatch(frontDoorErrorOf(err, this.identity.connectionName));
    this.#flow.backendWaitOver();
    this.#drain();
  }

  #attach(pool: ConnectionPool, pooled: PooledSession, waitedMs: number): void {
    this.#observer.waited(waitedMs);
    this.#observer.active(1);
    this.#tracker.clear();
    const backend = new AttachedBackend(pool, pooled, this.#wireHandler);
    this.#backend = backend;
    this.#flow.attach(backend.socket);
    this.#phase = "attached";
    this.#replaySettings(backend);
  }

  #fromBackend(chunk: Buffer): void {
    try {
      this.#tracker.feed(chunk);
    } catch {
      // A malformed answer: the backend cannot be trusted with anything else.
      this.#backendLost();
    }
  }

  /** The client's settings on this backend, where they differ, before anything of the client's. */
  #replaySettings(backend: AttachedBackend): void {
    const query = settingsReplayQuery(this.identity.settings, backend, this.#tracker, this.#failures);
    if (query) this.#flow.toBackend([query]);
  }

  #onReady(status: string, seen: boolean): void {
    this.#status = status;
    // Berth's own injected statements (the settings replayed on a backend) are not the client's transactions.
    if (status === "I" && seen) {
      this.transactions++;
      this.#observer.transaction();
    }
    this.#releaseIfIdle();
  }

  /** Gives the backend back when the client is idle on it, nothing is in flight and no cancel is on its way. */
  #releaseIfIdle(): void {
    if (this.#status !== "I" || this.#pinnedWhy || !this.#tracker.settled || !this.#backend) return;
    if (this.#cancels.pending) return;
    const backend = this.#backend;
    this.#backend = undefined;
    this.#flow.detach();
    this.#phase = "idle";
    this.#observer.active(-1);
    backend.release();
  }

  /** The backend died under the client: its transaction fails with 08006, the client stays. */
  #backendLost(): void {
    const backend = this.#backend;
    if (!backend) return;
    this.#backend = undefined;
    this.#flow.detach();
    this.#phase = this.#phase === "closed" ? "closed" : "idle";
    this.#observer.active(-1);
    backend.destroy();
    // Half a message already went to the client: nothing Berth writes now can be read as a
    // message. The client's connection ends too (it would be corrupt otherwise).
    if (this.#tracker.midMessage) {
      this.#tracker.clear();
      this.close("backend_lost_mid_message");
      return;
    }
    this.#flow.backendWillNotDrain();
    this.#failures.backendLost(this.#tracker, this.#status);
    this.#status = "I";
    if (this.#pinnedWhy && !this.identity.sessionPooling) this.#pinnedWhy = undefined;
  }

  #protocolViolation(type: number, length: number): void {
    this.#failures.protocolViolation(type, length);
    this.close("protocol_violation");
  }

  /**
   * A CancelRequest for this client: what its backend runs now is cancelled; a statement still
   * waiting for a backend is answered 57014 without running.
   */
  cancel(): void {
    if (this.#phase === "acquiring") {
      this.#failures.failBatch(CANCELLED);
      return;
    }
    const backend = this.#backend;
    if (!backend) return;
    // The backend is released once the database handled the cancel, if it is still this client's.
    this.#cancels.send(backend.pooled.session, () => {
      if (this.#phase !== "closed" && this.#backend === backend) this.#releaseIfIdle();
    });
  }

  /** Ends the client from outside (revoked, shutting down): FATAL with the reason, then close. */
  async end(reason: RevocationReason | "shutting_down", text: string): Promise<void> {
    if (this.#phase === "closed") return;
    this.#socket.write(errorResponse({ severity: "FATAL", code: "57P01", message: text }));
    this.close(reason);
  }

  close(reason: string): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#flow.close();
    this.#returnBackend();
    this.#socket.end();
    this.#socket.destroySoon?.();
    this.#observer.closed(this, reason);
  }

  #onClientGone(): void {
    if (this.#phase !== "closed") this.close("client_closed");
  }

  /**
   * The backend goes back clean: as it is when nothing is in flight and no transaction is open;
   * rolled back and reset when a transaction is open or the client was pinned; destroyed when
   * answers are still on their way (the protocol state is unknown).
   */
  #returnBackend(): void {
    const backend = this.#backend;
    if (!backend) return;
    this.#backend = undefined;
    this.#flow.detach();
    this.#observer.active(-1);
    if (!this.#tracker.settled) {
      backend.destroy();
      return;
    }
    const status = this.#status;
    const reset = status !== "I" || this.#pinnedWhy !== undefined;
    const giveBack = () => (reset ? backend.releaseReset(status) : backend.release());
    // A cancel still on its way must reach this backend before anyone else's statement does.
    this.#cancels.afterAll(giveBack);
  }
}
