import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleService } from "../../src/gen/berth/v1/bundle_service_pb.js";
import { makeCertificates } from "../support/certs.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const PASSPHRASE = "a long bundle passphrase, 2026";

// Nothing listens on port 1: each staged test fails at once, and costs what a real one costs.
const spec = (name: string) => ({
  name,
  type: "postgresql",
  server: "127.0.0.1",
  port: 1,
  database: "d",
  username: "u",
  password: "p",
  sslMode: "disable",
});

/** A bundle of `n` connections, exported from `source` (where rate limits are off). */
async function bundleOf(
  source: TestBerth,
  prefix: string,
  n: number,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await source.api("/api/connections", { body: { ...spec(`${prefix}-${i}`), ...extra } });
    expect(r.status, r.text).toBe(201);
    ids.push(r.body.id);
  }
  // The export answers the file's bytes; the import takes them in base64.
  const res = await fetch(`${source.url}/api/bundles/export`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${source.adminToken}` },
    body: JSON.stringify({ connectionIds: ids, passphrase: PASSPHRASE }),
  });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer()).toString("base64");
}

const importing = (bundle: string, dryRun: boolean) => ({ body: { bundle, passphrase: PASSPHRASE, dryRun } });

describe("bundle imports pay the RFC's rate limits per connection", () => {
  let source: TestBerth;
  let limited: TestBerth;
  let small: string;
  let tests25: string;
  let creates11: string;

  beforeAll(async () => {
    [source, limited] = await Promise.all([startTestBerth(), startTestBerth({ BERTH_RATE_LIMITS: "rfc" })]);
    small = await bundleOf(source, "small", 3);
    tests25 = await bundleOf(source, "tests", 25);
    creates11 = await bundleOf(source, "creates", 11);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([source?.close(), limited?.close()]);
  });

  it("no more than 100 connections per bundle", async () => {
    const ids = Array.from({ length: 101 }, () => crypto.randomUUID());
    const r = await source.api("/api/bundles/export", {
      body: { connectionIds: ids, passphrase: PASSPHRASE },
    });
    expect(r.status).toBe(400);
    expect(r.body.details.fields.connectionIds).toContain("at most 100");
  });

  it("a real import short of creations is refused before anything is tested, and costs no test", async () => {
    const r = await limited.api("/api/bundles/import", importing(creates11, false));
    expect(r.status, r.text).toBe(429);
    expect(r.body.details).toMatchObject({
      reason: "rate_limited",
      rule: "connection_create",
      needed: 11,
      remaining: 10,
      limit: 10,
    });
    // Nothing was tested (no test budget spent), nothing created (the creations were given back).
    const names = (await limited.api("/api/connections")).body.connections;
    expect(names).toEqual([]);
    // Refused for its test: nothing created, so the 3 creations paid are given back.
    const refused = await limited.api("/api/bundles/import", importing(small, false));
    expect(refused.status, refused.text).toBe(409);
    expect(refused.body.details.test_failed).toHaveLength(3);
    const create = await limited.api("/api/connections", { body: { ...spec("after"), port: 5432 } });
    expect(create.status, create.text).toBe(201);
    expect(create.headers.get("x-ratelimit-remaining")).toBe("9");
  }, 60_000);

  it("a dry run pays one test per connection it tests: the budget of 30 is not a free probe", async () => {
    // 3 tests were spent above; 25 more leaves 2.
    const first = await limited.api("/api/bundles/import", importing(tests25, true));
    expect(first.status, first.text).toBe(200);
    expect(first.body.connections.every((c: { outcome: string }) => c.outcome === "test_failed")).toBe(true);
    const second = await limited.api("/api/bundles/import", importing(tests25, true));
    expect(second.status, second.text).toBe(429);
    expect(second.body.error).toBe("rate_limited");
    expect(second.body.details).toMatchObject({
      rule: "connection_test",
      needed: 25,
      remaining: 2,
      limit: 30,
    });
    expect(second.body.message).toContain("needs 25");
    // The refusal took nothing: the 2 left are still there for TestConnection.
    for (let i = 0; i < 2; i++) {
      const t = await limited.api("/api/connections/test", { body: spec(`probe-${i}`) });
      expect(t.status, t.text).not.toBe(429);
    }
    const t = await limited.api("/api/connections/test", { body: spec("probe-3") });
    expect(t.status).toBe(429);
  }, 60_000);
});

describe("bundles over BERTH_MAX_BODY_BYTES (1 MiB) import, up to BERTH_MAX_BUNDLE_BYTES", () => {
  let source: TestBerth;
  let target: TestBerth;
  let narrow: TestBerth;
  let big: string;

  beforeAll(async () => {
    [source, target, narrow] = await Promise.all([
      startTestBerth(),
      startTestBerth(),
      startTestBerth({ BERTH_MAX_BUNDLE_BYTES: String(64 * 1024) }),
    ]);
    // A CA bundle of ~60 KiB per connection (one real certificate, repeated): 20 make ~1.2 MiB.
    const ca = makeCertificates().caPem.trim();
    const caCertificate = Array.from({ length: Math.floor(60_000 / (ca.length + 1)) }, () => ca).join("\n");
    big = await bundleOf(source, "big", 20, { caCertificate, sslMode: "verify-full" });
    expect(Buffer.from(big, "base64").length).toBeGreaterThan(1024 * 1024);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([source?.close(), target?.close(), narrow?.close()]);
  });

  it("a bundle of more than 1 MiB exported is accepted back over REST (base64 in JSON)", async () => {
    const r = await target.api("/api/bundles/import", importing(big, true));
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    expect(r.body.connections).toHaveLength(20);
  }, 60_000);

  it("and over Connect, binary and JSON", async () => {
    for (const useBinaryFormat of [true, false]) {
      const client = createClient(
        BundleService,
        createConnectTransport({
          baseUrl: target.url,
          httpVersion: "1.1",
          useBinaryFormat,
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${target.adminToken}`);
              return next(req);
            },
          ],
        }),
      );
      const r = await client.importBundle({
        bundle: Buffer.from(big, "base64"),
        passphrase: PASSPHRASE,
        dryRun: true,
      });
      expect(r.connections).toHaveLength(20);
    }
  }, 60_000);

  it("the larger limit is the import's alone, and BERTH_MAX_BUNDLE_BYTES bounds it", async () => {
    const other = await target.api("/api/bundles/export", {
      body: { connectionIds: ["x".repeat(2 * 1024 * 1024)], passphrase: PASSPHRASE },
    });
    expect(other.status).toBe(413);
    const refused = await narrow.api("/api/bundles/import", importing(big, true));
    expect(refused.status).toBe(413);
    // Over Connect too, in both encodings, at once (a binary body over the limit used to leave the
    // client waiting until its deadline).
    for (const useBinaryFormat of [true, false]) {
      const client = createClient(
        BundleService,
        createConnectTransport({ baseUrl: narrow.url, httpVersion: "1.1", useBinaryFormat }),
      );
      const err = await client
        .importBundle(
          { bundle: Buffer.from(big, "base64"), passphrase: PASSPHRASE, dryRun: true },
          { timeoutMs: 10_000 },
        )
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(err?.code).toBe(Code.ResourceExhausted);
    }
  }, 60_000);
});
