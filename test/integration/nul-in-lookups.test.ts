import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

/**
 * A NUL character in a path or a sign-in name finds nothing, on either store: PostgreSQL's text
 * cannot hold U+0000, and a lookup that carries one must not fail the call.
 */
let b: TestBerth;
beforeAll(async () => {
  b = await startTestBerth();
});
afterAll(async () => b?.close());

describe("NUL in what callers send", () => {
  it("finds nothing where a path names a resource", async () => {
    expect((await b.api("/api/connections/%00")).status).toBe(404);
    expect((await b.api("/api/connections/a%00b", { method: "DELETE" })).status).toBe(404);
    expect((await b.api("/api/connections/a%00b/access")).status).toBe(404);
    expect((await b.api("/api/users/%00", { method: "DELETE" })).status).toBe(404);
    const audit = await b.api("/api/audit?actorId=%00&target=a%00");
    expect(audit.status).toBe(200);
    expect(audit.body.events).toEqual([]);
  });

  it("signs nobody in, and the chain that recorded it still verifies", async () => {
    const login = await b.api("/api/auth/login", {
      body: { username: "ad\u0000min", password: "test-admin-password-0001" },
      token: null,
    });
    expect(login.status).toBe(401);
    // The denied calls above were recorded with what they named (a NUL stands as U+FFFD): the
    // chain verifies on both stores.
    const events = (await b.api("/api/audit?pageSize=1000")).body.events as { target: string }[];
    expect(events.map((e) => e.target)).toContain("a\uFFFDb");
    expect((await b.api("/api/audit/verify", { body: {} })).body).toMatchObject({ ok: true });
  });
});
