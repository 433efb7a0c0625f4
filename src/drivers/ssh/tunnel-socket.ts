import { Duplex } from "node:stream";

/**
 * A database driver's socket through an SSH tunnel: handed over at once (drivers create their
 * socket synchronously: pg's and mysql2's `stream` factories), carrying bytes once the forwarded
 * channel is open. It speaks enough of net.Socket for the drivers: `connect` (pg waits for its
 * event), and keep-alive and no-delay calls, which mean nothing on a channel (the tunnel keeps
 * itself alive). A channel that fails to open or closes ends the socket with that error, which the
 * driver sees as a lost connection.
 */
export class TunnelSocket extends Duplex {
  #channel: Duplex | undefined;
  #pending: { chunk: Buffer; encoding: BufferEncoding; callback: (err?: Error | null) => void } | undefined;
  #ending: (() => void) | undefined;
  connecting = true;

  constructor(opening: Promise<Duplex>) {
    super({ allowHalfOpen: false });
    opening.then(
      (channel) => this.#attach(channel),
      (err: Error) => this.destroy(err),
    );
  }

  #attach(channel: Duplex): void {
    if (this.destroyed) {
      channel.destroy();
      return;
    }
    this.#channel = channel;
    channel.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) channel.pause();
    });
    channel.on("end", () => this.push(null));
    channel.on("close", () => this.destroy());
    channel.on("error", (err: Error) => this.destroy(err));
    this.connecting = false;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) channel.write(pending.chunk, pending.encoding, pending.callback);
    if (this.#ending) this.#ending();
    this.emit("connect");
    this.emit("ready");
  }

  override _read(): void {
    this.#channel?.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.#channel) this.#channel.write(chunk, encoding, callback);
    // Writable calls _write one at a time: at most one chunk waits for the channel.
    else this.#pending = { chunk, encoding, callback };
  }

  override _final(callback: (err?: Error | null) => void): void {
    const end = () => {
      this.#channel?.end();
      callback();
    };
    if (this.#channel) end();
    else this.#ending = end;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#channel?.destroy();
    this.#pending?.callback(err ?? new Error("The tunnel socket was closed"));
    this.#pending = undefined;
    callback(err);
  }

  /** pg calls connect(port, host) on the socket it was given: the channel is already on its way. */
  connect(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
