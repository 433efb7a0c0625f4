import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../src/gen/berth/v1/auth_service_pb.js";
import { RetryInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { ADMIN_PASSWORD, requestJson, startTestBerth, type TestBerth } from "../support/test-berth.js";

let b: TestBerth;
beforeAll(async () => {
  // The failure floor (250 ms by default) would make 101 attempts slow; the limit is the default.
  b = await startTestBerth({ BERTH_LOGIN_FAILURE_DELAY_MS: "0" });
  await b.api("/api/users", { body: { username: "jack", password: "jack-right-password" } });
});
afterAll(async () => b?.close());

const login = (password: string) =>
  b.api("/api/auth/login", { body: { username: "jack", password }, token: null });

// Each test signs in wrongly a hundred times, and every attempt is a memory-hard scrypt hash (about
// 50 ms alone here, several times that on a loaded machine): a bound for the work, not a wait.
const HASHING_MS = 180_000;

describe("throttled sign-in", () => {
  it(
    "refuses the 101st wrong password within the hour, and the right one during the lockout, saying when to retry",
    async () => {
      for (let wave = 0; wave < 10; wave++) {
        const answers = await Promise.all(Array.from({ length: 10 }, () => login("wrong-password-x")));
        for (const a of answers) expect(a.status).toBe(401);
      }
      const refused = await login("wrong-password-x");
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({
        error: "rate_limited",
        details: { reason: "too_many_failed_logins" },
      });
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(3_000);
      expect(retryAfter).toBeLessThanOrEqual(3_600);
      expect(refused.body.message).toMatch(/retry in \d+ s/);

      const right = await login("jack-right-password");
      expect(right.status).toBe(429);

      // Over gRPC/Connect: RESOURCE_EXHAUSTED with google.rpc.RetryInfo.
      const auth = createClient(AuthService, createConnectTransport({ baseUrl: b.url, httpVersion: "1.1" }));
      const err = ConnectError.from(
        await auth.login({ username: "jack", password: "jack-right-password" }).catch((e) => e),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(Number(err.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds)).toBeGreaterThan(3_000);

      // Other accounts are untouched.
      expect(
        (
          await b.api("/api/auth/login", {
            body: { username: "admin", password: ADMIN_PASSWORD },
            token: null,
          })
        ).status,
      ).toBe(200);
    },
    HASHING_MS,
  );
});

describe("a lockout by someone else", () => {
  let c: TestBerth;
  beforeAll(async () => {
    c = await startTestBerth({ BERTH_LOGIN_FAILURE_DELAY_MS: "0" });
    await c.api("/api/users", { body: { username: "kim", password: "kim-right-password" } });
  });
  afterAll(async () => c?.close());

  const from = (localAddress: string, password: string, username = "kim") =>
    requestJson(`${c.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
      localAddress,
    });

  it(
    "100 wrong passwords from one address do not stop the right one from another, and an admin can lift the lock",
    async () => {
      for (let wave = 0; wave < 10; wave++) {
        const answers = await Promise.all(
          Array.from({ length: 10 }, () => from("127.0.0.1", "wrong-password-x")),
        );
        for (const a of answers) expect(a.status).toBe(401);
      }
      expect((await from("127.0.0.1", "kim-right-password")).status).toBe(429);
      expect((await from("127.0.0.2", "kim-right-password")).status).toBe(200);

      const cleared = await c.api("/api/sign-in-locks/KIM", { method: "DELETE" });
      expect(cleared.status).toBe(204);
      expect((await from("127.0.0.1", "kim-right-password")).status).toBe(200);
    },
    HASHING_MS,
  );

  it(
    "refuses an address that tries a password on many names",
    async () => {
      const d = await startTestBerth({
        BERTH_LOGIN_FAILURE_DELAY_MS: "0",
        BERTH_LOGIN_SOURCE_FAILURE_LIMIT: "20",
      });
      try {
        const names = Array.from({ length: 21 }, (_, i) => `nobody-${i}`);
        const answers = await Promise.all(
          names.map((username) =>
            requestJson(`${d.url}/api/auth/login`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ username, password: "guess-guess-guess" }),
              localAddress: "127.0.0.3",
            }),
          ),
        );
        expect(answers.filter((a) => a.status === 401)).toHaveLength(20);
        expect(answers.filter((a) => a.status === 429)).toHaveLength(1);
        expect(
          (
            await d.api("/api/auth/login", {
              body: { username: "admin", password: ADMIN_PASSWORD },
              token: null,
            })
          ).status,
        ).toBe(200);
      } finally {
        await d.close();
      }
    },
    HASHING_MS,
  );
});
