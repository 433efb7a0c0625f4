import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

let b: TestBerth;
beforeAll(async () => {
  b = await startTestBerth();
});
afterAll(async () => b?.close());

const login = async (username: string, password: string) =>
  b.api("/api/auth/login", { body: { username, password }, token: null });

describe("user management on /api/users (global admins only)", () => {
  it("creates a member who can sign in, and refuses bad input", async () => {
    const created = await b.api("/api/users", { body: { username: "erin", password: "erin-password-1" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: "erin", role: "member" });
    expect(created.text).not.toContain("erin-password-1");
    expect((await login("erin", "erin-password-1")).status).toBe(200);

    expect(
      (await b.api("/api/users", { body: { username: "erin", password: "another-password" } })).status,
    ).toBe(409);
    const weak = await b.api("/api/users", { body: { username: "frank", password: "short" } });
    expect(weak.status).toBe(400);
    expect(weak.body.details.fields.password).toMatch(/12 characters/);
    const badName = await b.api("/api/users", {
      body: { username: "bad name!", password: "long-enough-pw" },
    });
    expect(badName.body.details.fields.username).toBeTypeOf("string");
    expect(
      (await b.api("/api/users", { body: { username: "gina", password: "long-enough-pw", role: "root" } }))
        .status,
    ).toBe(400);
  });

  it("is closed to members", async () => {
    await b.api("/api/users", { body: { username: "hank", password: "hank-password-1" } });
    const token = (await login("hank", "hank-password-1")).body.token;
    const r = await b.api("/api/users", { token });
    expect(r.status).toBe(403);
    expect(r.body.details.reason).toBe("not_admin");
  });

  it("disabling a user signs them out at once; a new password ends old sessions", async () => {
    const ivy = (await b.api("/api/users", { body: { username: "ivy", password: "ivy-password-12" } })).body;
    const token = (await login("ivy", "ivy-password-12")).body.token;
    expect((await b.api("/api/auth/me", { token })).status).toBe(200);
    expect((await b.api(`/api/users/${ivy.id}`, { method: "PATCH", body: { disabled: true } })).status).toBe(
      200,
    );
    expect((await b.api("/api/auth/me", { token })).status).toBe(401);
    expect((await login("ivy", "ivy-password-12")).status).toBe(401);
    await b.api(`/api/users/${ivy.id}`, {
      method: "PATCH",
      body: { disabled: false, password: "ivy-new-password" },
    });
    expect((await login("ivy", "ivy-password-12")).status).toBe(401);
    expect((await login("ivy", "ivy-new-password")).status).toBe(200);
    expect((await b.api(`/api/users/${ivy.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await login("ivy", "ivy-new-password")).status).toBe(401);
  });

  it("keeps at least one enabled admin", async () => {
    const admin = (await b.api("/api/users")).body.users.find(
      (u: { username: string }) => u.username === "admin",
    );
    for (const change of [{ role: "member" }, { disabled: true }]) {
      const r = await b.api(`/api/users/${admin.id}`, { method: "PATCH", body: change });
      expect(r.status).toBe(409);
      expect(r.body.details.reason).toBe("last_admin");
    }
    expect((await b.api(`/api/users/${admin.id}`, { method: "DELETE" })).status).toBe(409);
    expect(
      (await b.api("/api/users/00000000-0000-4000-8000-000000000000", { method: "DELETE" })).status,
    ).toBe(404);
  });
});
