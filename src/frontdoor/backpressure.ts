import type { Duplex } from "node:stream";

/**
 * When a client is read, and when its backend is. Neither Berth nor the kernel buffers more than
 * one socket's worth on either side: a client that does not read what it asked for stops its
 * backend being read (and stops being read itself: it would only send more queries), and a
 * backend that does not take what the client sends stops the client being read. Reading the
 * client resumes only when nothing holds it: no backend awaited, neither socket full, not closed.
 * One drain listener per socket at a time.
 */
export class Backpressure {
  readonly #client: Duplex;
  /** The client's backend socket, while it has one. */
  #backend: Duplex | undefined;
  /** The client waits for a backend: what it sends next has nowhere to go yet. */
  #waitingForBackend = false;
  /** The client's socket is full: its backend and the client wait for it to drain. */
  #clientFull = false;
  /** The backend's socket is full: the client waits for it to drain. */
  #backendFull = false;
  /** The backend paused for a full client socket, while it is still this client's. */
  #pausedBackend: Duplex | undefined;
  #closed = false;

  constructor(client: Duplex) {
    this.#client = client;
  }

  /** A backend is this client's: what the client sends goes to it. */
  attach(backend: Duplex): void {
    this.#backend = backend;
    this.#pausedBackend = undefined;
  }

  /**
   * The backend is no longer this client's. A paused one is not resumed here: one given back is
   * resumed by the pool's wire channel, one destroyed never reads again.
   */
  detach(): void {
    this.#backend = undefined;
    this.#pausedBackend = undefined;
  }

  toClient(bytes: Buffer): void {
    if (this.#client.write(bytes) || this.#clientFull) return;
    this.#clientFull = true;
    const backend = this.#backend;
    if (backend) {
      this.#pausedBackend = backend;
      backend.pause();
    }
    this.#client.pause();
    this.#client.once("drain", () => {
      this.#clientFull = false;
      const paused = this.#pausedBackend;
      if (paused) {
        this.#pausedBackend = undefined;
        paused.resume();
      }
      this.#resumeReading();
    });
  }

  /** To the attached backend; several buffers go out corked, as one write. */
  toBackend(out: Buffer[]): void {
    const backend = this.#backend!;
    if (out.length === 1) {
      if (!backend.write(out[0])) this.#waitForBackendDrain(backend);
      return;
    }
    backend.cork();
    let full = false;
    for (const b of out) full = !backend.write(b) || full;
    backend.uncork();
    if (full) this.#waitForBackendDrain(backend);
  }

  #waitForBackendDrain(backend: Duplex): void {
    if (this.#backendFull) return;
    this.#backendFull = true;
    this.#client.pause();
    backend.once("drain", () => {
      this.#backendFull = false;
      this.#resumeReading();
    });
  }

  /** The backend died: it will never drain, so the client no longer waits for it (it hung so once). */
  backendWillNotDrain(): void {
    if (!this.#backendFull) return;
    this.#backendFull = false;
    this.#resumeReading();
  }

  /** The client waits for a backend: it is not read meanwhile. */
  waitForBackend(): void {
    this.#waitingForBackend = true;
    this.#client.pause();
  }

  /** The wait for a backend is over (one came, or the statement failed without one). */
  backendWaitOver(): void {
    this.#waitingForBackend = false;
    this.#resumeReading();
  }

  /** The client is closed: nothing resumes reading it. */
  close(): void {
    this.#closed = true;
  }

  #resumeReading(): void {
    if (this.#closed || this.#waitingForBackend || this.#clientFull || this.#backendFull) return;
    this.#client.resume();
  }
}
