import type { Socket } from "node:net";
import { type FrontDoorError, lostBackend } from "./errors.js";
import { CLIENT_TYPES, MAX_CLIENT_MESSAGE_BYTES } from "./requests.js";
import type { ResponseTracker } from "./responses.js";
import { errorResponse, noticeResponse, readyForQuery } from "./wire.js";

/** A statement cancelled while it waited for a backend: what PostgreSQL says of a cancelled one. */
export const CANCELLED: FrontDoorError = {
  severity: "ERROR",
  code: "57014",
  message: "canceling statement due to user request",
};

/**
 * What a client is told when Berth, not the database, fails it: a batch that got no backend (or
 * was cancelled while it waited) is swallowed up to its Sync and answered once; a backend that
 * died owes an answer to each Sync it had not answered; a message Berth cannot read ends the
 * client; settings that could not be replayed on a backend are warned of. Written straight to
 * the client's socket, in place of (or beside) the database's answer.
 */
export class FailureReplies {
  readonly #socket: Socket;
  readonly #connectionName: string;
  /** The batch in progress failed without a backend: messages are swallowed up to the next Sync. */
  #failing: FrontDoorError | undefined;

  constructor(socket: Socket, connectionName: string) {
    this.#socket = socket;
    this.#connectionName = connectionName;
  }

  get batchFailed(): boolean {
    return this.#failing !== undefined;
  }

  failBatch(error: FrontDoorError): void {
    this.#failing = error;
  }

  /** A message of the failed batch: the first Sync, Query or FunctionCall is answered by the failure. */
  swallow(type: number): void {
    if (type !== 0x53 && type !== 0x51 && type !== 0x46) return;
    const error = this.#failing!;
    this.#failing = undefined;
    this.#socket.write(failedSync(error));
  }

  /**
   * The backend died under the client (not mid-message): each Sync it had not answered gets 08006
   * and ReadyForQuery idle, with what the server said if it said anything. The tracker is cleared.
   */
  backendLost(tracker: ResponseTracker, txStatus: string): void {
    const owed = tracker.pendingSyncs();
    const inTransaction = txStatus !== "I" || tracker.pending > owed;
    const serverSaid = tracker.fatal;
    tracker.clear();
    const error = lostBackend(this.#connectionName, serverSaid);
    for (let i = 0; i < owed; i++) this.#socket.write(failedSync(error));
    // Idle in a transaction, or mid-batch: the client's next batch learns its transaction is gone.
    if (owed === 0 && inTransaction) this.#failing = error;
  }

  /** The client's settings could not be applied on the backend serving it (see settingsReplayQuery). */
  settingsNotApplied(): void {
    this.#socket.write(
      noticeResponse({
        severity: "WARNING",
        code: "01000",
        message:
          "Berth could not apply this session's settings on the database session serving it; check the startup options and SET statements",
      }),
    );
  }

  /** A header Berth will not read on (checked before the body is awaited or a backend taken); the client is closed next. */
  protocolViolation(type: number, length: number): void {
    this.#socket.write(
      errorResponse({
        severity: "FATAL",
        code: "08P01",
        message: CLIENT_TYPES.has(type)
          ? `invalid message length ${length} (the most Berth accepts is ${MAX_CLIENT_MESSAGE_BYTES} bytes)`
          : `invalid frontend message type ${type}`,
      }),
    );
  }
}

function failedSync(error: FrontDoorError): Buffer {
  return Buffer.concat([errorResponse(error), readyForQuery("I")]);
}
