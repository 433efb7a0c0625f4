import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FrontDoorBerth, sendCancelRequest, startFrontDoorBerth } from "../support/frontdoor.js";
import { serviceAvailable } from "../support/services.js";

/**
 * A client's CancelRequest must only ever stop that client's statement. The front door forwards it
 * to the backend serving the client now, over a new connection to the database; if the statement
 * ends meanwhile and the backend goes to another client, the cancel must not land there (the race
 * PgBouncer fixed in pgbouncer/pgbouncer#717: the backend is not reused until the forwarded cancel
 * has been handled). Statistical by nature: many cancels timed around the end of short statements,
 * over a pool of 1 that another client waits on.
 */
const hasPostgres = await serviceAvailable("postgres");

let fd: FrontDoorBerth;

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err: { code?: string }) => err.code ?? "error",
  );

describe.skipIf(!hasPostgres)("cancel through the front door, backends shared", () => {
  beforeAll(async () => {
    fd = await startFrontDoorBerth({ maxPoolSize: 1 });
  });

  afterAll(async () => {
    await fd?.close();
  });

  it("a cancel sent for one client's short statement never cancels another client's statement", async () => {
    const canceller = await fd.client();
    const bystander = await fd.client();
    const keys = canceller as unknown as { processID: number; secretKey: number };
    let stop = false;
    const bystanderOutcomes = new Map<string, number>();
    const bystanderLoop = (async () => {
      while (!stop) {
        const code = await codeOf(bystander.query("SELECT pg_sleep(0.02)"));
        bystanderOutcomes.set(code, (bystanderOutcomes.get(code) ?? 0) + 1);
      }
    })();
    const cancellerOutcomes = new Map<string, number>();
    for (let i = 0; i < 150; i++) {
      const q = codeOf(canceller.query("SELECT pg_sleep(0.001)"));
      // Cancels at varied moments: before, during and just after the statement runs on a backend.
      await new Promise((r) => setTimeout(r, (i * 7) % 25));
      await sendCancelRequest(fd.port, keys.processID, keys.secretKey);
      const code = await q;
      cancellerOutcomes.set(code, (cancellerOutcomes.get(code) ?? 0) + 1);
    }
    stop = true;
    await bystanderLoop;
    // The canceller's own statements may or may not be cancelled; the bystander's never.
    expect([...cancellerOutcomes.keys()].every((k) => k === "ok" || k === "57014")).toBe(true);
    expect(Object.fromEntries(bystanderOutcomes)).toEqual({ ok: expect.any(Number) });
    await canceller.end();
    await bystander.end();
  });

  it("nor when the cancelling client disconnects right after its statement ended", async () => {
    const bystander = await fd.client();
    let stop = false;
    const bystanderOutcomes = new Map<string, number>();
    const bystanderLoop = (async () => {
      while (!stop) {
        const code = await codeOf(bystander.query("SELECT pg_sleep(0.02)"));
        bystanderOutcomes.set(code, (bystanderOutcomes.get(code) ?? 0) + 1);
      }
    })();
    for (let i = 0; i < 100; i++) {
      const canceller = await fd.client();
      const keys = canceller as unknown as { processID: number; secretKey: number };
      const q = codeOf(canceller.query("SELECT pg_sleep(0.001)"));
      await new Promise((r) => setTimeout(r, (i * 7) % 25));
      await sendCancelRequest(fd.port, keys.processID, keys.secretKey);
      await q;
      // Gone at once: its backend goes back to the pool while its cancel may still be on the way.
      await canceller.end();
    }
    stop = true;
    await bystanderLoop;
    expect(Object.fromEntries(bystanderOutcomes)).toEqual({ ok: expect.any(Number) });
    await bystander.end();
  });
});
