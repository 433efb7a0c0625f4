import { readErrorFields } from "./wire.js";

/**
 * The backend's answers, matched to what was sent it, so that the front door can drop the answers
 * to messages it injected (a Parse re-preparing a statement, a SET replaying a client's settings)
 * and insert answers of its own (ParseComplete for a statement the backend already has,
 * CloseComplete for a Close it keeps to itself) in exactly the place the client expects them.
 *
 * Every message sent to the backend that is answered gets a slot, in order. Each slot ends at a
 * known message type (Parse at ParseComplete, Execute at CommandComplete/EmptyQuery/PortalSuspended,
 * Sync and Query at ReadyForQuery). An ErrorResponse during the extended protocol makes the backend
 * skip to the next Sync; the slots in between are skipped with it. Bytes are forwarded as whole
 * runs of the backend's chunks; only headers are read (the type byte, the length, and
 * ReadyForQuery's status byte).
 */

export interface Slot {
  /** The message types that end this slot's answer. */
  readonly ends: string;
  /** Sync, Query, FunctionCall: answered up to ReadyForQuery whatever happens before. */
  readonly sync: boolean;
  /** Injected by Berth: the client never sees its answer. */
  readonly drop: boolean;
  /** Called when the backend skipped this slot after an error (a statement it never prepared). */
  readonly onSkip?: () => void;
  /** Sync slots: called at their ReadyForQuery; `ok` when no error came since the one before. */
  readonly onReady?: (ok: boolean, status: string) => void;
}

type Entry = Slot | { readonly synth: Buffer };

const ASYNC = "ANS"; // NotificationResponse, NoticeResponse, ParameterStatus: may come at any time

export interface ResponseSink {
  /** Bytes for the client. */
  toClient(bytes: Buffer): void;
  /** A ReadyForQuery arrived with this transaction status; `seen` unless it answered an injected message. */
  ready(status: string, seen: boolean): void;
  /** The backend refused a statement with this SQLSTATE (ERROR, not FATAL: those end the backend). */
  serverError?(code: string): void;
}

export class ResponseTracker {
  #entries: Entry[] = [];
  #head = 0;
  // The message being read: its header bytes so far, its type, what is left of it, and its fate.
  readonly #header = Buffer.alloc(5);
  #headerBytes = 0;
  #type = 0;
  #left = 0;
  #pass = true;
  #readyStatus = false;
  /** ErrorResponses seen since the last ReadyForQuery (the client's batch failed). */
  errors = 0;
  /**
   * What the backend said in the FATAL error it ended with. Kept from the client: the backend's
   * session ends, the client's does not (the client gets 08006 when the socket closes).
   */
  fatal: string | undefined;
  /** An ErrorResponse being read whole, to see its severity before the client does. */
  #held: Buffer[] | undefined;

  constructor(private readonly sink: ResponseSink) {}

  /** Nothing sent is waiting for an answer. */
  get settled(): boolean {
    return (
      this.#head >= this.#entries.length && this.#headerBytes === 0 && this.#left === 0 && !this.#unsynced
    );
  }

  /** Slots still waiting (for metrics and tests). */
  get pending(): number {
    return this.#entries.length - this.#head;
  }

  /** Pending Sync/Query slots: each is owed a ReadyForQuery. */
  pendingSyncs(): number {
    let n = 0;
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if ("sync" in e && e.sync && !e.drop) n++;
    }
    return n;
  }

  expect(slot: Slot): void {
    this.#entries.push(slot);
    // Extended-protocol messages leave the backend inside the batch (an implicit transaction, or
    // skipping to the next Sync after an error) until a Sync or Query is sent.
    this.#unsynced = !slot.sync;
  }

  /** Messages were sent since the last Sync or Query: the backend is mid-batch, whatever was answered. */
  #unsynced = false;

  /** Part of a message has been forwarded to the client and the rest is still to come. */
  get midMessage(): boolean {
    return (this.#headerBytes > 0 || this.#left > 0) && this.#pass;
  }

  /** An answer of Berth's own, sent once everything before it has been answered. */
  synthesize(bytes: Buffer): void {
    this.#entries.push({ synth: bytes });
    if (this.#atMessageBoundary()) this.#emitSynthesized();
  }

  /** Forgets everything pending (the backend is gone, or a new one comes). */
  clear(): void {
    if (this.#entries.length > 0) this.#entries = [];
    this.#head = 0;
    this.#headerBytes = 0;
    this.#left = 0;
    this.#pass = true;
    this.#unsynced = false;
    this.errors = 0;
    this.#held = undefined;
    this.fatal = undefined;
  }

  #atMessageBoundary(): boolean {
    return this.#headerBytes === 0 && this.#left === 0;
  }

  #emitSynthesized(): void {
    for (const bytes of this.#dueSynthesized()) this.sink.toClient(bytes);
  }

  /** Berth's own answers now at the head of the queue (everything before them answered). */
  #dueSynthesized(): Buffer[] {
    const due: Buffer[] = [];
    while (this.#head < this.#entries.length) {
      const e = this.#entries[this.#head]!;
      if (!("synth" in e)) break;
      due.push(e.synth);
      this.#head++;
    }
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    }
    return due;
  }

  #headSlot(): Slot | undefined {
    const e = this.#entries[this.#head];
    return e && !("synth" in e) ? e : undefined;
  }

  /** Decides a message's fate from its type, before any of its body is forwarded. */
  #begin(type: number): void {
    this.#type = type;
    const slot = this.#headSlot();
    const t = String.fromCharCode(type);
    // An injected Query (replayed settings) is dropped whole, its notices and errors included;
    // an injected Parse that fails shows its error: the client's own statement depends on it.
    if (!slot) this.#pass = true;
    else if (ASYNC.includes(t) || t === "E") this.#pass = !(slot.drop && slot.sync);
    else this.#pass = !slot.drop;
    if (t === "E" && this.#pass) {
      this.#pass = false;
      this.#held = [];
    }
    this.#readyStatus = t === "Z";
  }

  /** A whole ErrorResponse: forwarded, unless FATAL or PANIC (the backend's end, not the client's). */
  #release(message: Buffer): void {
    this.#held = undefined;
    const fields = readErrorFields(message.subarray(5));
    const severity = fields.get("V") ?? fields.get("S");
    if (severity === "FATAL" || severity === "PANIC")
      this.fatal = `${fields.get("C") ?? ""} ${fields.get("M") ?? ""}`.trim();
    else {
      this.sink.toClient(message);
      this.sink.serverError?.(fields.get("C") ?? "");
    }
  }

  /**
   * A whole message has gone by: its slot may be answered, or (an error) skipped to the next Sync.
   * Answers the client gets from Berth that are now due are returned, to follow this message.
   */
  #end(): Buffer[] {
    const t = String.fromCharCode(this.#type);
    const slot = this.#headSlot();
    if (slot && !ASYNC.includes(t)) {
      if (t === "E") {
        this.errors++;
        // Extended protocol: the backend discards everything up to the next Sync.
        if (!slot.sync) this.#skipToSync();
      } else if (slot.ends.includes(t)) {
        this.#head++;
        if (t === "Z") {
          slot.onReady?.(this.errors === 0, this.#status);
          this.errors = 0;
        }
      }
    } else if (t === "Z") this.errors = 0;
    return this.#dueSynthesized();
  }

  #skipToSync(): void {
    while (this.#head < this.#entries.length) {
      const e = this.#entries[this.#head]!;
      if ("sync" in e && e.sync) break;
      if ("onSkip" in e) e.onSkip?.();
      this.#head++;
    }
  }

  /** Reads a chunk from the backend; forwards what the client should see, as whole runs of it. */
  feed(chunk: Buffer): void {
    const n = chunk.length;
    let at = 0;
    // Start of the run of bytes to forward; -1 inside a dropped message.
    let run = this.#left > 0 || this.#headerBytes > 0 ? (this.#pass ? 0 : -1) : 0;
    const flush = (end: number) => {
      if (run >= 0 && end > run)
        this.sink.toClient(run === 0 && end === n ? chunk : chunk.subarray(run, end));
      run = end;
    };
    while (at < n) {
      if (this.#left === 0 && this.#headerBytes < 5) {
        if (this.#headerBytes === 0) {
          this.#begin(chunk[at]!);
          if (!this.#pass) {
            flush(at);
            run = -1;
          } else if (run < 0) run = at;
        }
        const take = Math.min(5 - this.#headerBytes, n - at);
        chunk.copy(this.#header, this.#headerBytes, at, at + take);
        this.#headerBytes += take;
        at += take;
        if (this.#headerBytes < 5) break;
        this.#left = this.#header.readInt32BE(1) - 4;
        if (this.#left < 0) throw new Error("the database sent a malformed message length");
      }
      const take = Math.min(this.#left, n - at);
      if (this.#held && take > 0) this.#held.push(chunk.subarray(at, at + take));
      if (this.#readyStatus && take > 0) this.#status = String.fromCharCode(chunk[at]!);
      at += take;
      this.#left -= take;
      if (this.#left > 0) break;
      this.#headerBytes = 0;
      if (!this.#pass) run = at;
      if (this.#held) this.#release(Buffer.concat([this.#header, ...this.#held]));
      const ready = this.#readyStatus;
      const seen = this.#pass;
      this.#readyStatus = false;
      const due = this.#end();
      if (due.length > 0) {
        flush(at);
        for (const bytes of due) this.sink.toClient(bytes);
      }
      if (ready) {
        flush(at);
        this.sink.ready(this.#status, seen);
      }
    }
    flush(at);
  }

  #status = "I";
}
