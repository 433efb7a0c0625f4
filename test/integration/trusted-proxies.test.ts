import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestJson, startTestBerth, type TestBerth } from "../support/test-berth.js";

/**
 * Behind a reverse proxy every request comes from the proxy's address: without BERTH_TRUSTED_PROXIES
 * one client's wrong passwords would lock every user out for all the others. From a trusted proxy,
 * X-Forwarded-For names the client (read from the right); from anyone else it is ignored.
 */
describe("sign-in behind a trusted reverse proxy", () => {
  let b: TestBerth;
  beforeAll(async () => {
    b = await startTestBerth({
      BERTH_TRUSTED_PROXIES: "127.0.0.1",
      BERTH_LOGIN_FAILURE_LIMIT: "5",
      BERTH_LOGIN_FAILURE_DELAY_MS: "0",
      BERTH_MAX_CONNECTIONS_PER_SOURCE: "4",
    });
    await b.api("/api/users", { body: { username: "lee", password: "lee-right-password" } });
  });
  afterAll(async () => b?.close());

  const login = (localAddress: string, forwardedFor: string | undefined, password: string) =>
    requestJson(`${b.url}/api/auth/login`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor }),
      },
      body: JSON.stringify({ username: "lee", password }),
      localAddress,
    });

  it("locks the client the proxy names, not every client behind the proxy", async () => {
    for (let i = 0; i < 5; i++)
      expect((await login("127.0.0.1", "203.0.113.7", "wrong-password-x")).status).toBe(401);
    expect((await login("127.0.0.1", "203.0.113.7", "lee-right-password")).status).toBe(429);
    // Entries left of the proxy's own were written by the client: they change nothing.
    expect((await login("127.0.0.1", "198.51.100.1, 203.0.113.7", "lee-right-password")).status).toBe(429);
    // Another client behind the same proxy signs in.
    expect((await login("127.0.0.1", "203.0.113.8", "lee-right-password")).status).toBe(200);
    // The audit log names the client, and the proxy it came through.
    const events = (await b.api("/api/audit?pageSize=50")).body.events as {
      source: string;
      action: string;
    }[];
    expect(events.map((e) => e.source)).toContain("203.0.113.8 via 127.0.0.1");
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    // 127.0.0.2 is not trusted: whatever it claims, its failures count against 127.0.0.2.
    for (let i = 0; i < 5; i++)
      expect((await login("127.0.0.2", `192.0.2.${i + 1}`, "wrong-password-x")).status).toBe(401);
    expect((await login("127.0.0.2", "192.0.2.200", "lee-right-password")).status).toBe(429);
    expect((await login("127.0.0.3", undefined, "lee-right-password")).status).toBe(200);
  });

  it("does not cap a trusted proxy's connections per source (it carries many clients)", async () => {
    const many = await Promise.all(
      Array.from({ length: 12 }, () =>
        requestJson(`${b.url}/healthz`, { method: "GET", headers: {}, localAddress: "127.0.0.1" }),
      ),
    );
    expect(many.map((r) => r.status)).toEqual(Array(12).fill(200));
  });
});
