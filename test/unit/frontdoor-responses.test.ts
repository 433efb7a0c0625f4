import { describe, expect, it } from "vitest";
import { ResponseTracker } from "../../src/frontdoor/responses.js";
import {
  closeComplete,
  errorResponse,
  message,
  parseComplete,
  readyForQuery,
} from "../../src/frontdoor/wire.js";

const bind = () => message("2");
const row = (s: string) => message("D", Buffer.from(s));
const done = () => message("C", Buffer.from("SELECT 1\0"));
const error = () => errorResponse({ severity: "ERROR", code: "42P01", message: "no such table" });

/** Feeds the backend's bytes in every way they could be cut, and answers what the client saw each time. */
function seenByClient(
  setup: (t: ResponseTracker) => void,
  backend: Buffer[],
): { out: Buffer; ready: string[] }[] {
  const all = Buffer.concat(backend);
  const cuts = [[all.length], [1], [3], [7]];
  return cuts.map(([step]) => {
    const out: Buffer[] = [];
    const ready: string[] = [];
    const t = new ResponseTracker({ toClient: (b) => out.push(Buffer.from(b)), ready: (s) => ready.push(s) });
    setup(t);
    for (let at = 0; at < all.length; at += step!) t.feed(all.subarray(at, at + step!));
    return { out: Buffer.concat(out), ready };
  });
}

describe("ResponseTracker", () => {
  it("drops the answer to an injected Parse and keeps everything else, however the bytes are cut", () => {
    const results = seenByClient(
      (t) => {
        t.expect({ ends: "1", sync: false, drop: true });
        t.expect({ ends: "2", sync: false, drop: false });
        t.expect({ ends: "CIs", sync: false, drop: false });
        t.expect({ ends: "Z", sync: true, drop: false });
      },
      [parseComplete(), bind(), row("a"), row("b"), done(), readyForQuery("I")],
    );
    for (const r of results) {
      expect(r.out).toEqual(Buffer.concat([bind(), row("a"), row("b"), done(), readyForQuery("I")]));
      expect(r.ready).toEqual(["I"]);
    }
  });

  it("puts Berth's own ParseComplete and CloseComplete exactly where the client expects them", () => {
    const results = seenByClient(
      (t) => {
        t.expect({ ends: "2", sync: false, drop: false });
        t.synthesize(parseComplete());
        t.expect({ ends: "CIs", sync: false, drop: false });
        t.synthesize(closeComplete());
        t.expect({ ends: "Z", sync: true, drop: false });
      },
      [bind(), done(), readyForQuery("T")],
    );
    for (const r of results)
      expect(r.out).toEqual(
        Buffer.concat([bind(), parseComplete(), done(), closeComplete(), readyForQuery("T")]),
      );
  });

  it("after an error skips Berth's answers up to the Sync, as the server skips the messages", () => {
    let skipped = 0;
    const results = seenByClient(
      (t) => {
        t.expect({ ends: "2", sync: false, drop: false });
        t.expect({ ends: "CIs", sync: false, drop: false, onSkip: () => skipped++ });
        t.synthesize(closeComplete());
        t.expect({ ends: "Z", sync: true, drop: false });
      },
      [bind(), error(), readyForQuery("E")],
    );
    expect(skipped).toBe(results.length);
    for (const r of results) expect(r.out).toEqual(Buffer.concat([bind(), error(), readyForQuery("E")]));
  });

  it("drops an injected Query whole: its notices, parameter statuses and error included", () => {
    const status = message("S", Buffer.from("application_name\0x\0"));
    const results = seenByClient(
      (t) => {
        t.expect({ ends: "Z", sync: true, drop: true });
        t.expect({ ends: "Z", sync: true, drop: false });
      },
      [status, message("C", Buffer.from("SET\0")), error(), readyForQuery("I"), row("r"), readyForQuery("I")],
    );
    for (const r of results) {
      expect(r.out).toEqual(Buffer.concat([row("r"), readyForQuery("I")]));
      expect(r.ready).toEqual(["I", "I"]);
    }
  });

  it("tells a Sync slot whether its batch failed", () => {
    const seen: boolean[] = [];
    const t = new ResponseTracker({ toClient: () => {}, ready: () => {} });
    t.expect({ ends: "Z", sync: true, drop: false, onReady: (ok) => seen.push(ok) });
    t.expect({ ends: "Z", sync: true, drop: false, onReady: (ok) => seen.push(ok) });
    t.feed(Buffer.concat([error(), readyForQuery("I"), done(), readyForQuery("I")]));
    expect(seen).toEqual([false, true]);
    expect(t.settled).toBe(true);
  });

  it("keeps the database's FATAL from the client (the backend ends, the client does not) and says why", () => {
    const fatal = errorResponse({
      severity: "FATAL",
      code: "57P01",
      message: "terminating connection due to administrator command",
    });
    const results = seenByClient(
      (t) => {
        t.expect({ ends: "CIs", sync: false, drop: false });
        t.expect({ ends: "Z", sync: true, drop: false });
      },
      [row("a"), error(), fatal],
    );
    for (const r of results) expect(r.out).toEqual(Buffer.concat([row("a"), error()]));
    const t = new ResponseTracker({ toClient: () => {}, ready: () => {} });
    t.feed(fatal);
    expect(t.fatal).toBe("57P01 terminating connection due to administrator command");
  });

  it("is not settled mid-batch: answered extended messages without their Sync keep the backend", () => {
    const t = new ResponseTracker({ toClient: () => {}, ready: () => {} });
    t.expect({ ends: "1", sync: false, drop: false });
    t.expect({ ends: "2", sync: false, drop: false });
    t.feed(Buffer.concat([parseComplete(), bind()]));
    expect(t.pending).toBe(0);
    expect(t.settled).toBe(false);
    t.expect({ ends: "Z", sync: true, drop: false });
    t.feed(readyForQuery("T"));
    expect(t.settled).toBe(true);
  });

  it("knows when half a message has gone to the client", () => {
    const t = new ResponseTracker({ toClient: () => {}, ready: () => {} });
    t.expect({ ends: "CIs", sync: false, drop: false });
    const r = row("a long row");
    t.feed(r.subarray(0, 7));
    expect(t.midMessage).toBe(true);
    t.feed(r.subarray(7));
    expect(t.midMessage).toBe(false);
  });

  it("refuses a malformed length from the database", () => {
    const t = new ResponseTracker({ toClient: () => {}, ready: () => {} });
    expect(() => t.feed(Buffer.from([0x5a, 0, 0, 0, 2]))).toThrow(/malformed/);
  });
});
