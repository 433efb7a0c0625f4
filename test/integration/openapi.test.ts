import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorJson } from "../../src/server/rest/schemas.js";
import { ROUTES } from "../../src/server/rest.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");

interface Operation {
  responses: Record<string, unknown>;
  security?: unknown[];
  "x-berth-rpc": string;
}
// biome-ignore lint/suspicious/noExplicitAny: the served document, walked field by field
let doc: any;
let b: TestBerth;
const NOTHING = "00000000-0000-4000-8000-000000000000";
let connectionId = NOTHING;
let adminId = "";

beforeAll(async () => {
  b = await startTestBerth();
  const res = await b.api("/api/openapi.json", { token: null });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  doc = res.body;
  adminId = (await b.api("/api/auth/me")).body.user.id;
  if (hasPostgres) {
    const created = await b.api("/api/connections", {
      body: {
        name: "openapi",
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        username: LOCAL.postgres.user,
        password: "",
        sslMode: "disable",
      },
    });
    expect(created.status).toBe(201);
    connectionId = created.body.id;
  }
});
afterAll(async () => b?.close());

const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, verbs]) =>
    Object.entries(verbs).map(([verb, op]) => ({ path, verb: verb.toUpperCase(), op })),
  );

describe("/api/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("has every route of the table, and nothing else", () => {
    const documented = operations().map((o) => `${o.verb} ${o.path}`);
    const routed = ROUTES.map((r) => `${r.verb} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(documented.sort()).toEqual([...new Set(routed)].sort());
    const ids = operations().map((o) => (o.op as unknown as { operationId: string }).operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z]+[A-Za-z0-9]+$/);
    for (const r of ROUTES) {
      const op = doc.paths[r.path.replace(/:(\w+)/g, "{$1}")][r.verb.toLowerCase()] as Operation;
      expect(op["x-berth-rpc"]).toBe(`${r.method.parent.typeName}/${r.method.name}`);
    }
  });

  it("gives every operation its success, the error envelope, and the statuses of its shape", () => {
    for (const { path, verb, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => s.startsWith("2")),
        `${verb} ${path}`,
      ).toBe(true);
      expect(statuses, `${verb} ${path}`).toEqual(expect.arrayContaining(["400", "429", "500", "503"]));
      if (path.includes("{")) expect(statuses, `${verb} ${path}`).toContain("404");
      if (verb !== "GET" && verb !== "DELETE") expect(statuses, `${verb} ${path}`).toContain("413");
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      if (!isPublic) expect(statuses, `${verb} ${path}`).toEqual(expect.arrayContaining(["401", "403"]));
    }
    // Only sign-in is open without a token.
    const open = operations().filter((o) => Array.isArray(o.op.security) && o.op.security.length === 0);
    expect(open.map((o) => o.path).sort()).toEqual(["/api/auth/google", "/api/auth/login"]);
    expect(doc.components.schemas.Error.properties.error.enum).toContain("validation_failed");
  });

  it("describes a body read as a message by its fields, with those read beside them", () => {
    const body = (path: string, verb: string) =>
      doc.paths[path][verb].requestBody.content["application/json"].schema.properties;
    expect(Object.keys(body("/api/connections/test", "post"))).toEqual(
      expect.arrayContaining(["name", "type", "server", "replicas", "sslMode", "timeoutMs"]),
    );
    expect(body("/api/connections/{id}", "put")).toHaveProperty("version");
    expect(body("/api/connections", "post").type.enum).toContain("postgresql");
    expect(body("/api/auth/login", "post")).toHaveProperty("password");
    // A GET's query is its request message.
    const query = doc.paths["/api/audit"].get.parameters.map((p: { name: string }) => p.name);
    expect(query).toEqual(expect.arrayContaining(["connectionId", "pageSize", "since", "afterSeq"]));
  });

  it("holds nothing of the instance (no secret, no path, no address)", async () => {
    const text = JSON.stringify(doc);
    expect(text).not.toContain(ADMIN_PASSWORD);
    expect(text).not.toContain(b.dataDir);
    expect(text).not.toContain(new URL(b.url).port);
  });

  it("is answered on every path with a documented status and body (no 404 for a missing route)", async () => {
    const checked: string[] = [];
    for (const { path, verb, op } of operations()) {
      // A DELETE names nothing real: the other checks keep their connection and the admin.
      const id = verb === "DELETE" ? NOTHING : path.startsWith("/api/users") ? adminId : connectionId;
      const concrete = path
        .replace("{id}", id)
        .replace("{who}", "nobody@example.com")
        .replace("{username}", "nobody");
      // Signing out ends the session it is sent with: a session of its own.
      const token =
        path === "/api/auth/logout"
          ? (
              await b.api("/api/auth/login", {
                body: { username: "admin", password: ADMIN_PASSWORD },
                token: null,
              })
            ).body.token
          : undefined;
      const res = await b.api(concrete, {
        method: verb,
        ...(verb === "GET" || verb === "DELETE" ? {} : { body: {} }),
        ...(token ? { token } : {}),
      });
      const where = `${verb} ${concrete} → ${res.status} ${res.text.slice(0, 200)}`;
      expect(res.text, where).not.toContain("No API route");
      expect(Object.keys(op.responses), where).toContain(String(res.status));
      expect(res.status, where).not.toBe(500);
      if (res.status >= 400) expect(ErrorJson.safeParse(res.body).success, where).toBe(true);
      else {
        const route = ROUTES.find((r) => r.verb === verb && r.path.replace(/:(\w+)/g, "{$1}") === path)!;
        if (route.reply && res.status !== 204) {
          const parsed = route.reply.safeParse(res.body);
          expect(parsed.error?.issues ?? [], where).toEqual([]);
        }
      }
      checked.push(`${verb} ${path} ${res.status}`);
    }
    expect(checked.length).toBe(ROUTES.length);
  });
});

describe("bodies are parsed with the schemas the document shows", () => {
  it("refuses a wrong type, an unknown field or a bad number with validation_failed and the field", async () => {
    const cases: [string, string, unknown, string, RegExp][] = [
      ["POST", "/api/auth/login", { username: 5, password: "x" }, "username", /must be a string/],
      [
        "POST",
        "/api/users",
        { username: "u", password: "p".repeat(16), role: "user", shoe: 1 },
        "shoe",
        /not a known field/,
      ],
      ["PATCH", `/api/users/${NOTHING}`, { disabled: "yes" }, "disabled", /true or false/],
      ["POST", "/api/admin/keys/retire", { minVersion: "one" }, "minVersion", /positive integer/],
      ["POST", `/api/connections/${NOTHING}/test`, { timeoutMs: -1 }, "timeoutMs", /whole number/],
      ["POST", "/api/connections/test", { timeoutMs: 1.5, name: "x" }, "timeoutMs", /whole number/],
      ["PUT", `/api/connections/${NOTHING}`, { version: "abc" }, "version", /positive integer/],
    ];
    for (const [verb, path, body, field, why] of cases) {
      const res = await b.api(path, {
        method: verb,
        body,
        ...(path === "/api/auth/login" ? { token: null } : {}),
      });
      const where = `${verb} ${path} → ${res.status} ${res.text.slice(0, 300)}`;
      expect(res.status, where).toBe(400);
      expect(res.body.error, where).toBe("validation_failed");
      expect(res.body.details.fields[field], where).toMatch(why);
      // The document says the same: the field is in the body's schema.
      const op = doc.paths[path.replace(NOTHING, "{id}")][verb.toLowerCase()];
      expect(Object.keys(op.requestBody.content["application/json"].schema.properties), where).toContain(
        field === "shoe" ? "username" : field,
      );
    }
  });
});

describe.skipIf(!hasPostgres)("the answers of a real connection match their schemas", () => {
  it("create, read, status, test and access of a PostgreSQL connection", async () => {
    const routeOf = (verb: string, path: string) => ROUTES.find((r) => r.verb === verb && r.path === path)!;
    const cases: [string, string, string, unknown?][] = [
      ["GET", "/api/connections", "/api/connections"],
      ["GET", "/api/connections/:id", `/api/connections/${connectionId}`],
      ["POST", "/api/connections/:id/test", `/api/connections/${connectionId}/test`, {}],
      ["GET", "/api/connections/:id/status", `/api/connections/${connectionId}/status`],
      [
        "POST",
        "/api/connections/:id/access",
        `/api/connections/${connectionId}/access`,
        { googleEmail: "reader@example.com", accessLevel: "viewer" },
      ],
      ["GET", "/api/connections/:id/access", `/api/connections/${connectionId}/access`],
      [
        "POST",
        "/api/tokens",
        "/api/tokens",
        { name: "t", connectionIds: [connectionId], accessLevel: "user" },
      ],
      ["GET", "/api/tokens", "/api/tokens"],
      ["GET", "/api/audit", "/api/audit?pageSize=5"],
    ];
    for (const [verb, path, concrete, body] of cases) {
      const res = await b.api(concrete, { method: verb, ...(body === undefined ? {} : { body }) });
      const where = `${verb} ${concrete} → ${res.status} ${res.text.slice(0, 300)}`;
      expect(res.status, where).toBeLessThan(300);
      expect(routeOf(verb, path).reply!.safeParse(res.body).error?.issues ?? [], where).toEqual([]);
    }
  });
});
