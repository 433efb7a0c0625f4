import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/berth-cli.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");

const RUN = randomBytes(4).toString("hex");
// The MariaDB user's password: a real sign-in on the fresh Berth proves it travelled in the bundle.
const CANARY = `bundle-canary-${RUN}-9c41d7`;
const MY_USER = `bundle_my_${RUN}`;
const PASSPHRASE = "a long bundle passphrase, 2026";

async function onMariadb(sqls: string[]) {
  const c = await mysql.createConnection({
    host: LOCAL.mariadb.host,
    port: LOCAL.mariadb.port,
    user: "root",
  });
  try {
    for (const sql of sqls) await c.query(sql);
  } finally {
    await c.end();
  }
}

const mariadb = (name: string) => ({
  name,
  type: "mysql",
  server: LOCAL.mariadb.host,
  port: LOCAL.mariadb.port,
  database: "test",
  username: MY_USER,
  password: CANARY,
  sslMode: "disable",
});

/** POST /api/bundles/export, answering the raw bytes (the test helper's api decodes text). */
async function exportBytes(b: TestBerth, body: unknown, token = b.adminToken) {
  const res = await fetch(`${b.url}/api/bundles/export`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString("utf8")) };
}

const importBody = (bundle: Buffer, dryRun: boolean, passphrase = PASSPHRASE) => ({
  bundle: bundle.toString("base64"),
  passphrase,
  dryRun,
});

async function connectionNames(b: TestBerth): Promise<string[]> {
  const r = await b.api("/api/connections");
  return r.body.connections.map((c: { name: string }) => c.name).sort();
}

async function makeUser(b: TestBerth, username: string): Promise<string> {
  const r = await b.api("/api/users", { body: { username, password: `${username}-password-1234` } });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function signIn(b: TestBerth, username: string): Promise<string> {
  const r = await b.api("/api/auth/login", {
    body: { username, password: `${username}-password-1234` },
    token: null,
  });
  return r.body.token;
}

describe.skipIf(!hasPostgres || !hasMariadb)("portable bundles between two Berths", () => {
  let source: TestBerth;
  let target: TestBerth;
  let ids: string[];
  let bundle: Buffer;

  beforeAll(async () => {
    await onMariadb(
      ["%", "localhost", "127.0.0.1"].flatMap((host) => [
        `CREATE USER '${MY_USER}'@'${host}' IDENTIFIED BY '${CANARY}'`,
        `GRANT SELECT ON test.* TO '${MY_USER}'@'${host}'`,
      ]),
    );
    [source, target] = await Promise.all([startTestBerth(), startTestBerth()]);
    const specs = [
      {
        name: `orders-${RUN}`,
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        username: LOCAL.postgres.user,
        password: CANARY,
        sslMode: "disable",
        maxPoolSize: 7,
        description: "the orders database",
      },
      mariadb(`billing-${RUN}`),
      { ...mariadb(`reports-${RUN}`), replicas: [{ server: "localhost", port: LOCAL.mariadb.port }] },
    ];
    ids = [];
    for (const spec of specs) {
      const r = await source.api("/api/connections", { body: spec });
      expect(r.status, r.text).toBe(201);
      ids.push(r.body.id);
    }
    const alice = await makeUser(source, "alice");
    const bob = await makeUser(source, "bob");
    await makeUser(target, "alice");
    const grant = (id: string, body: unknown) => source.api(`/api/connections/${id}/access`, { body });
    expect((await grant(ids[0]!, { userId: alice, accessLevel: "user" })).status).toBeLessThan(300);
    expect(
      (await grant(ids[1]!, { googleEmail: "carol@example.com", accessLevel: "viewer" })).status,
    ).toBeLessThan(300);
    expect((await grant(ids[2]!, { userId: bob, accessLevel: "admin" })).status).toBeLessThan(300);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
    await onMariadb(["%", "localhost", "127.0.0.1"].map((h) => `DROP USER IF EXISTS '${MY_USER}'@'${h}'`));
  });

  it("exports three connections into one encrypted file with no secret in it", async () => {
    const r = await exportBytes(source, { connectionIds: ids, passphrase: PASSPHRASE });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(r.headers.get("x-berth-bundle-connections")).toBe("3");
    bundle = r.bytes;
    expect(bundle.subarray(0, 8).toString("ascii")).toBe("BERTHBDL");
    const encodings = [CANARY, Buffer.from(CANARY).toString("base64"), Buffer.from(CANARY).toString("hex")];
    for (const view of [bundle.toString("latin1"), bundle.toString("base64"), bundle.toString("hex")]) {
      for (const secret of [...encodings, MY_USER, PASSPHRASE, "alice", "orders-"])
        expect(view).not.toContain(secret);
    }
    // Nor in the source's logs.
    expect(source.logs.join("")).not.toContain(CANARY);
    expect(source.logs.join("")).not.toContain(PASSPHRASE);
  }, 30_000);

  it("refuses a wrong passphrase, flipped bytes and a truncated file, writing nothing", async () => {
    const refused = async (b: Buffer, passphrase = PASSPHRASE) => {
      const r = await target.api("/api/bundles/import", { body: importBody(b, false, passphrase) });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe("validation_failed");
      expect(r.text).not.toContain(CANARY);
      return r.body.details.reason as string;
    };
    expect(await refused(bundle, "not the right passphrase")).toBe("bundle_authentication_failed");
    const flip = (at: number) => {
      const b = Buffer.from(bundle);
      b[at]! ^= 0x40;
      return b;
    };
    expect(await refused(flip(20))).toBe("bundle_authentication_failed"); // header (salt)
    expect(await refused(flip(3))).toBe("bundle_malformed"); // header (magic)
    expect(await refused(flip(100))).toBe("bundle_authentication_failed"); // ciphertext
    expect(await refused(flip(bundle.length - 3))).toBe("bundle_authentication_failed"); // tag
    expect(await refused(bundle.subarray(0, bundle.length - 1))).toBe("bundle_malformed");
    expect(await refused(bundle.subarray(0, 30))).toBe("bundle_malformed");
    expect(await connectionNames(target)).toEqual([]);
  }, 60_000);

  it("a dry run tests each connection and reports what would be created, writing nothing", async () => {
    const r = await target.api("/api/bundles/import", { body: importBody(bundle, true) });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ applied: false, dryRun: true, ok: true, exportedBy: "admin" });
    expect(r.body.connections.map((c: { outcome: string }) => c.outcome)).toEqual([
      "would_create",
      "would_create",
      "would_create",
    ]);
    for (const c of r.body.connections) expect(c.test.ok).toBe(true);
    const reports = r.body.connections.find((c: { name: string }) => c.name === `reports-${RUN}`);
    // bob has no account on the target: his grant is reported and skipped.
    expect(reports.grants).toContainEqual({
      principalKind: "user",
      principal: "bob",
      accessLevel: "admin",
      applied: false,
      skippedReason: "unknown_principal",
    });
    expect(r.text).not.toContain(CANARY);
    expect(await connectionNames(target)).toEqual([]);
  }, 60_000);

  it("imports all three: they test green on the fresh Berth, grants by name, nothing retyped", async () => {
    const r = await target.api("/api/bundles/import", { body: importBody(bundle, false) });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ applied: true, ok: true });
    const created = r.body.connections.map((c: { id: string }) => c.id);
    expect(created.every((id: string) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    for (const id of created) {
      const t = await target.api(`/api/connections/${id}/test`, { body: {} });
      expect(t.status, t.text).toBe(200);
      expect(t.body.ok).toBe(true);
    }
    const orders = await target.api(`/api/connections/${created[0]}`);
    expect(orders.body).toMatchObject({ name: `orders-${RUN}`, maxPoolSize: 7, status: "healthy" });
    const reports = await target.api(`/api/connections/${created[2]}`);
    expect(reports.body.replicas).toEqual([{ server: "localhost", port: LOCAL.mariadb.port }]);
    // alice (who exists on both) got her grant; carol's Google address too.
    const access0 = await target.api(`/api/connections/${created[0]}/access`);
    const alice = await target.api("/api/users");
    const aliceId = alice.body.users.find((u: { username: string }) => u.username === "alice").id;
    expect(access0.body.access).toContainEqual(
      expect.objectContaining({ userId: aliceId, accessLevel: "user" }),
    );
    const access1 = await target.api(`/api/connections/${created[1]}/access`);
    expect(access1.body.access).toContainEqual(
      expect.objectContaining({ googleEmail: "carol@example.com", accessLevel: "viewer" }),
    );
    // Audited, by connection.
    const audit = await target.api("/api/audit?pageSize=200");
    const imported = audit.body.events.filter((e: { action: string }) => e.action === "bundle.import");
    expect(imported.map((e: { target: string }) => e.target).sort()).toEqual([...created].sort());
    // Each grant the import wrote is an event of its own (GrantAccess, bypassed, would have made one).
    const grants = audit.body.events.filter((e: { action: string }) => e.action === "bundle.import.grant");
    expect(grants.map((e: { target: string; reason: string }) => [e.target, e.reason]).sort()).toEqual(
      [
        [created[0], `granted user to user alice on "orders-${RUN}" (from a bundle)`],
        [created[1], `granted viewer to google carol@example.com on "billing-${RUN}" (from a bundle)`],
      ].sort(),
    );
    const exported = (await source.api("/api/audit?pageSize=200")).body.events.filter(
      (e: { action: string }) => e.action === "bundle.export",
    );
    expect(exported.map((e: { target: string }) => e.target).sort()).toEqual([...ids].sort());
    expect(target.logs.join("")).not.toContain(CANARY);
  }, 60_000);

  it("a second import conflicts by name: refused whole, with every name, nothing written", async () => {
    const before = await connectionNames(target);
    const dry = await target.api("/api/bundles/import", { body: importBody(bundle, true) });
    expect(dry.body.ok).toBe(false);
    expect(dry.body.connections.map((c: { outcome: string }) => c.outcome)).toEqual([
      "name_taken",
      "name_taken",
      "name_taken",
    ]);
    const r = await target.api("/api/bundles/import", { body: importBody(bundle, false) });
    expect(r.status).toBe(409);
    expect(r.body.details.reason).toBe("bundle_not_importable");
    expect(r.body.details.name_taken).toEqual([`orders-${RUN}`, `billing-${RUN}`, `reports-${RUN}`]);
    expect(await connectionNames(target)).toEqual(before);
  }, 60_000);

  it("one failing test refuses the whole import (all or nothing)", async () => {
    const third = await startTestBerth();
    try {
      const ok = await third.api("/api/connections", { body: mariadb(`fine-${RUN}`) });
      const broken = await third.api("/api/connections", {
        body: { ...mariadb(`broken-${RUN}`), port: 1 },
      });
      expect(broken.status).toBe(201);
      const b = (
        await exportBytes(third, { connectionIds: [ok.body.id, broken.body.id], passphrase: PASSPHRASE })
      ).bytes;
      const r = await target.api("/api/bundles/import", { body: importBody(b, false) });
      expect(r.status).toBe(409);
      expect(r.body.details.test_failed).toEqual([`broken-${RUN}`]);
      expect(await connectionNames(target)).not.toContain(`fine-${RUN}`);
    } finally {
      await third.close();
    }
  }, 60_000);

  it("gives clear errors for bad input", async () => {
    const bad = async (path: string, body: unknown) => (await source.api(path, { body })).body;
    expect(
      (await bad("/api/bundles/import", { bundle: "not base64!!", passphrase: PASSPHRASE })).details.fields,
    ).toHaveProperty("bundle");
    expect(
      (await bad("/api/bundles/import", { bundle: "", passphrase: PASSPHRASE })).details.fields,
    ).toHaveProperty("bundle");
    expect(
      (await bad("/api/bundles/import", { bundle: "AAAA", passphrase: PASSPHRASE, dryrun: true })).details
        .fields,
    ).toHaveProperty("dryrun");
    expect(
      (await bad("/api/bundles/export", { connectionIds: [], passphrase: PASSPHRASE })).details.fields,
    ).toHaveProperty("connectionIds");
    expect(
      (await bad("/api/bundles/export", { connectionIds: ids, passphrase: "short" })).details.reason,
    ).toBe("passphrase_too_short");
    const unknown = await source.api("/api/bundles/export", {
      body: { connectionIds: ["00000000-0000-4000-8000-000000000000"], passphrase: PASSPHRASE },
    });
    expect(unknown.status).toBe(404);
    // Larger than the request body may be: refused before it is read in full. (The import's own,
    // larger limit is tested in bundle-limits.test.ts.)
    const huge = await source.api("/api/bundles/export", {
      body: { connectionIds: ["A".repeat(2 * 1024 * 1024)], passphrase: PASSPHRASE },
    });
    expect(huge.status).toBe(413);
  }, 30_000);

  it("export takes the admin level on each connection; members export what they administer", async () => {
    await makeUser(source, "dave");
    const daveId = (await source.api("/api/users")).body.users.find(
      (u: { username: string }) => u.username === "dave",
    ).id;
    await source.api(`/api/connections/${ids[0]}/access`, {
      body: { userId: daveId, accessLevel: "editor" },
    });
    await source.api(`/api/connections/${ids[1]}/access`, { body: { userId: daveId, accessLevel: "admin" } });
    const dave = await signIn(source, "dave");
    const refused = await exportBytes(
      source,
      { connectionIds: [ids[0], ids[1]], passphrase: PASSPHRASE },
      dave,
    );
    expect(refused.status).toBe(403);
    const all = await exportBytes(source, { all: true, passphrase: PASSPHRASE }, dave);
    expect(all.status).toBe(200);
    expect(all.headers.get("x-berth-bundle-connections")).toBe("1");
    const none = await exportBytes(
      source,
      { all: true, passphrase: PASSPHRASE },
      await signIn(source, "alice"),
    );
    expect(none.status).toBe(400);
  }, 60_000);

  it("the CLI exports to a file and imports it (dry run and for real)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-bundle-cli-"));
    const fresh = await startTestBerth();
    try {
      const file = join(dir, "b.bin");
      const passFile = join(dir, "pass");
      await writeFile(passFile, `${PASSPHRASE}\n`);
      const out = await runCli(
        ["bundle", "export", "--id", ids[0]!, "--id", ids[1]!, "--out", file, "--passphrase-file", passFile],
        { url: source.url, token: source.adminToken },
      );
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toMatch(/2 connections/);
      expect((await readFile(file)).toString("latin1")).not.toContain(CANARY);
      const env = { url: fresh.url, token: fresh.adminToken };
      const dry = await runCli(
        ["bundle", "import", "--in", file, "--dry-run", "--passphrase-file", passFile],
        env,
      );
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/would_create/);
      expect(await connectionNames(fresh)).toEqual([]);
      const real = await runCli(["bundle", "import", "--in", file, "--passphrase-file", passFile], env);
      expect(real.code, real.stderr).toBe(0);
      expect(await connectionNames(fresh)).toEqual([`billing-${RUN}`, `orders-${RUN}`]);
      const again = await runCli(["bundle", "import", "--in", file, "--passphrase-file", passFile], env);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/Nothing was imported/);
    } finally {
      await fresh.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
