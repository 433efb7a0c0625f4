import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { Backpressure } from "../../src/frontdoor/backpressure.js";

/** A socket whose writes report full while `full` is set, and which says whether it is read. */
class FakeSocket extends EventEmitter {
  full = false;
  paused = false;
  written: Buffer[] = [];
  write(b: Buffer): boolean {
    this.written.push(b);
    return !this.full;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  cork(): void {}
  uncork(): void {}
  drain(): void {
    this.full = false;
    this.emit("drain");
  }
  get duplex(): Duplex {
    return this as unknown as Duplex;
  }
}

const bytes = Buffer.from("x");

function setup() {
  const client = new FakeSocket();
  const backend = new FakeSocket();
  const flow = new Backpressure(client.duplex);
  flow.attach(backend.duplex);
  return { client, backend, flow };
}

describe("Backpressure", () => {
  it("a full client stops its backend and itself being read until it drains; one drain listener", () => {
    const { client, backend, flow } = setup();
    client.full = true;
    flow.toClient(bytes);
    flow.toClient(bytes);
    expect(client.listenerCount("drain")).toBe(1);
    expect(backend.paused).toBe(true);
    expect(client.paused).toBe(true);
    client.drain();
    expect(backend.paused).toBe(false);
    expect(client.paused).toBe(false);
  });

  it("a backend given back while the client was full is not resumed by the client's drain", () => {
    const { client, backend, flow } = setup();
    client.full = true;
    flow.toClient(bytes);
    flow.detach();
    // The pool's wire channel resumes it when it is given back; another client may pause it since.
    backend.paused = true;
    client.drain();
    expect(backend.paused).toBe(true);
    expect(client.paused).toBe(false);
  });

  it("a full backend stops the client being read until the backend drains, or dies", () => {
    const { client, backend, flow } = setup();
    backend.full = true;
    flow.toBackend([bytes, bytes]);
    expect(client.paused).toBe(true);
    backend.drain();
    expect(client.paused).toBe(false);

    backend.full = true;
    flow.toBackend([bytes]);
    expect(client.paused).toBe(true);
    flow.detach();
    flow.backendWillNotDrain();
    expect(client.paused).toBe(false);
  });

  it("reading resumes only when nothing holds it: not while a backend is awaited, never once closed", () => {
    const { client, backend, flow } = setup();
    backend.full = true;
    flow.toBackend([bytes]);
    flow.detach();
    flow.waitForBackend();
    backend.drain();
    expect(client.paused).toBe(true);
    flow.backendWaitOver();
    expect(client.paused).toBe(false);

    client.full = true;
    flow.toClient(bytes);
    flow.close();
    client.drain();
    expect(client.paused).toBe(true);
  });
});
