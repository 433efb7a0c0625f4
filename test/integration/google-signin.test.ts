import { generateKeyPair, SignJWT } from "jose";
import { OAuth2Server } from "oauth2-mock-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { freePort } from "../support/throwaway-postgres.js";

/**
 * Google itself cannot be reached from here: oauth2-mock-server is the double, publishing a JWKS and
 * signing ID tokens the way Google's documentation describes them.
 */
const CLIENT_ID = "berth-test-client.apps.googleusercontent.com";
let google: OAuth2Server;
let b: TestBerth;

beforeAll(async () => {
  google = new OAuth2Server();
  await google.issuer.keys.generate("RS256");
  await google.start(await freePort(), "127.0.0.1");
  b = await startTestBerth({
    BERTH_GOOGLE_CLIENT_IDS: `other-client,${CLIENT_ID}`,
    BERTH_GOOGLE_JWKS_URL: `${google.issuer.url}/jwks`,
    BERTH_GOOGLE_ISSUERS: google.issuer.url!,
    BERTH_GOOGLE_HOSTED_DOMAIN: "example.com",
  });
});
afterAll(async () => {
  await b?.close();
  await google?.stop();
});

const claims = (extra: Record<string, unknown> = {}) => ({
  aud: CLIENT_ID,
  sub: "110169484474386276334",
  email: "Dev@Example.com",
  email_verified: true,
  hd: "example.com",
  ...extra,
});

const token = (extra: Record<string, unknown> = {}, expiresIn = 600) =>
  google.issuer.buildToken({
    expiresIn,
    scopesOrTransform: (_header, payload) => {
      Object.assign(payload, claims(extra));
    },
  });

const signIn = (idToken: string, berth = b) =>
  berth.api("/api/auth/google", { body: { idToken }, token: null });

describe("Google sign-in (against a double of Google)", () => {
  it("signs in, provisions a member keyed by sub, and recognises them next time", async () => {
    const first = await signIn(await token());
    expect(first.status).toBe(200);
    expect(first.body.user).toMatchObject({
      username: "google:110169484474386276334",
      role: "member",
      googleEmail: "dev@example.com",
    });
    const again = await signIn(await token({ email: "dev@example.com" }));
    expect(again.body.user.id).toBe(first.body.user.id);
    expect((await b.api("/api/auth/me", { token: again.body.token })).status).toBe(200);
  });

  it.each([
    ["an expired token", () => token({}, -60), "token_expired"],
    ["another audience", () => token({ aud: "someone-else" }), "invalid_aud"],
    ["another issuer", () => token({ iss: "https://accounts.evil.example" }), "invalid_iss"],
    ["an unverified email", () => token({ email_verified: false }), "email_not_verified"],
    ["another hosted domain", () => token({ hd: "elsewhere.com" }), "wrong_hosted_domain"],
  ])("refuses %s", async (_label, make, reason) => {
    const r = await signIn(await make());
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: "unauthenticated", details: { reason } });
  });

  it("refuses a token signed with a key Google does not publish", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT(claims())
      .setProtectedHeader({ alg: "RS256", kid: "not-published" })
      .setIssuer(google.issuer.url!)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(privateKey);
    const r = await signIn(forged);
    expect(r.status).toBe(401);
    expect(r.body.details.reason).toBe("unknown_key");
  });

  it("answers UNAVAILABLE, not 'invalid token', when the keys cannot be fetched", async () => {
    const offline = await startTestBerth({
      BERTH_GOOGLE_CLIENT_IDS: CLIENT_ID,
      BERTH_GOOGLE_JWKS_URL: `http://127.0.0.1:${await freePort()}/jwks`,
      BERTH_GOOGLE_ISSUERS: google.issuer.url!,
    });
    try {
      const r = await signIn(await token(), offline);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: "unavailable", details: { reason: "jwks_unavailable" } });
    } finally {
      await offline.close();
    }
  });

  it("activates a grant made to the Google address, and no local account can take the identity", async () => {
    const created = await b.api("/api/connections", {
      body: {
        name: "for-dev",
        type: "postgresql",
        server: "127.0.0.1",
        database: "d",
        username: "u",
        password: "p",
      },
    });
    await b.api(`/api/connections/${created.body.id}/access`, {
      body: { googleEmail: "dev@example.com", accessLevel: "viewer" },
    });
    const session = await signIn(await token());
    const seen = await b.api(`/api/connections/${created.body.id}`, { token: session.body.token });
    expect(seen.status).toBe(200);
    // Local names cannot look like Google identities or addresses.
    for (const username of ["google:110169484474386276334", "dev@example.com"]) {
      expect((await b.api("/api/users", { body: { username, password: "takeover-password" } })).status).toBe(
        400,
      );
    }
  });
});
