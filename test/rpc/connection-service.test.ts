import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { Engine, SslMode } from "../../src/gen/berth/v1/types_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { inMemoryBerth } from "../support/in-memory.js";

type Mem = Awaited<ReturnType<typeof inMemoryBerth>>;
let m: Mem;

const spec = (name: string) => ({
  name,
  type: Engine.POSTGRESQL,
  server: "db.internal",
  database: "orders",
  username: "app",
  password: "pw-canary-rpc",
});

async function rejection(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  m = await inMemoryBerth();
});

describe("ConnectionService over the in-memory RPC stack", () => {
  it("refuses anonymous calls with UNAUTHENTICATED", async () => {
    const err = await rejection(m.connections.listConnections({}));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("unauthenticated");
  });

  it("creates, reads and lists without ever returning credentials", async () => {
    const { connection } = await m.connections.createConnection({ spec: spec("orders") }, m.alice);
    expect(connection).toMatchObject({
      name: "orders",
      type: Engine.POSTGRESQL,
      port: 5432,
      sslMode: SslMode.PREFER,
      version: 1,
    });
    const got = await m.connections.getConnection({ id: connection!.id }, m.alice);
    expect(JSON.stringify(got, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
      "pw-canary-rpc",
    );
    const list = await m.connections.listConnections({}, m.alice);
    expect(list.connections.map((c) => c.name)).toContain("orders");
  });

  it("answers INVALID_ARGUMENT with a BadRequest naming each field", async () => {
    const err = await rejection(
      m.connections.createConnection({ spec: { ...spec(""), port: 70000 } }, m.alice),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    const fields = err.findDetails(BadRequestSchema)[0]!.fieldViolations.map((v) => v.field);
    expect(fields).toEqual(expect.arrayContaining(["name", "port"]));
  });

  it("refuses a second connection with the same name, case-insensitively", async () => {
    await m.connections.createConnection({ spec: spec("Inventory") }, m.alice);
    const err = await rejection(m.connections.createConnection({ spec: spec("inventory") }, m.alice));
    expect(err.code).toBe(Code.Aborted);
    expect(err.findDetails(ErrorInfoSchema)[0]?.metadata.reason).toBe("name_taken");
  });

  it("updates with optimistic concurrency: a stale version gets ABORTED and changes nothing", async () => {
    const { connection } = await m.connections.createConnection({ spec: spec("billing") }, m.alice);
    const id = connection!.id;
    const { username: _u, password: _p, ...noCreds } = spec("billing");
    const updated = await m.connections.updateConnection(
      { id, spec: { ...noCreds, maxPoolSize: 20 }, expectedVersion: 1 },
      m.alice,
    );
    expect(updated.connection).toMatchObject({ maxPoolSize: 20, version: 2 });
    const stale = await rejection(
      m.connections.updateConnection(
        { id, spec: { ...noCreds, maxPoolSize: 30 }, expectedVersion: 1 },
        m.alice,
      ),
    );
    expect(stale.code).toBe(Code.Aborted);
    expect(stale.findDetails(ErrorInfoSchema)[0]?.metadata.current_version).toBe("2");
    expect((await m.connections.getConnection({ id }, m.alice)).connection?.maxPoolSize).toBe(20);
  });

  it("hides other members' connections as NOT_FOUND, and shows everything to admins", async () => {
    const { connection } = await m.connections.createConnection({ spec: spec("alice-only") }, m.alice);
    const err = await rejection(m.connections.getConnection({ id: connection!.id }, m.bob));
    expect(err.code).toBe(Code.NotFound);
    expect((await m.connections.listConnections({}, m.bob)).connections.map((c) => c.name)).not.toContain(
      "alice-only",
    );
    expect((await m.connections.getConnection({ id: connection!.id }, m.admin)).connection?.name).toBe(
      "alice-only",
    );
    expect((await rejection(m.connections.deleteConnection({ id: connection!.id }, m.bob))).code).toBe(
      Code.NotFound,
    );
  });

  it("pages through a long list without gaps or repeats", async () => {
    const names = Array.from({ length: 7 }, (_, i) => `page-${i}`);
    for (const n of names) await m.connections.createConnection({ spec: spec(n) }, m.bob);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await m.connections.listConnections({ pageSize: 3, pageToken }, m.bob);
      seen.push(...page.connections.map((c) => c.name));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(names);
    const bad = await rejection(m.connections.listConnections({ pageToken: "garbage!" }, m.bob));
    expect(bad.code).toBe(Code.InvalidArgument);
  });

  it("deletes, and the id is gone", async () => {
    const { connection } = await m.connections.createConnection({ spec: spec("doomed") }, m.alice);
    await m.connections.deleteConnection({ id: connection!.id }, m.alice);
    expect((await rejection(m.connections.getConnection({ id: connection!.id }, m.alice))).code).toBe(
      Code.NotFound,
    );
  });

  it("gives each engine its own defaults and keeps its own fields", async () => {
    const sql = await m.connections.createConnection(
      { spec: { ...spec("mssql-named"), type: Engine.SQLSERVER, instanceName: "SQLEXPRESS" } },
      m.alice,
    );
    expect(sql.connection).toMatchObject({
      port: 0,
      instanceName: "SQLEXPRESS",
      sslMode: SslMode.VERIFY_FULL,
      strictEncryption: false,
    });
    const ora = await m.connections.createConnection(
      { spec: { ...spec("ora-sid"), type: Engine.ORACLE, database: "", oracleSid: "ORCL" } },
      m.alice,
    );
    expect(ora.connection).toMatchObject({ port: 1521, oracleSid: "ORCL", sslMode: SslMode.DISABLE });
    const fetched = await m.connections.getConnection({ id: ora.connection!.id }, m.alice);
    expect(fetched.connection?.oracleSid).toBe("ORCL");
  });

  it("refuses engine fields on the wrong engine, and TLS modes an engine's driver cannot honour", async () => {
    const err = await rejection(
      m.connections.createConnection(
        { spec: { ...spec("mixed"), instanceName: "X", oracleSid: "ORCL", strictEncryption: true } },
        m.alice,
      ),
    );
    const fields = err.findDetails(BadRequestSchema)[0]!.fieldViolations.map((v) => v.field);
    expect(fields).toEqual(expect.arrayContaining(["instanceName", "oracleSid", "strictEncryption"]));
    const prefer = await rejection(
      m.connections.createConnection(
        { spec: { ...spec("ora-prefer"), type: Engine.ORACLE, sslMode: SslMode.PREFER } },
        m.alice,
      ),
    );
    const violation = prefer.findDetails(BadRequestSchema)[0]!.fieldViolations[0]!;
    expect(violation.field).toBe("sslMode");
    expect(violation.description).toMatch(/not available for Oracle.*TCP or TCPS/);
    const both = await rejection(
      m.connections.createConnection(
        { spec: { ...spec("mssql-both"), type: Engine.SQLSERVER, instanceName: "A", port: 1433 } },
        m.alice,
      ),
    );
    expect(both.findDetails(BadRequestSchema)[0]!.fieldViolations[0]!.field).toBe("port");
  });

  it("logs one line per request with request id, principal, method, outcome and duration", async () => {
    m.logs.length = 0;
    await m.connections.listConnections({}, m.alice);
    const line = JSON.parse(m.logs.find((l) => l.includes("ListConnections"))!);
    expect(line).toMatchObject({
      method: "berth.v1.ConnectionService/ListConnections",
      principal: "user:alice",
      outcome: "ok",
    });
    expect(line.request_id).toBeTypeOf("string");
    expect(line.duration_ms).toBeTypeOf("number");
  });
});

describe("AuthService over the in-memory RPC stack", () => {
  it("signs in, says who I am, and signs out for good", async () => {
    const token = await m.tokenOf("alice", "alice-password-1");
    const me = await m.auth.whoAmI({}, m.headersFor(token));
    expect(me.user).toMatchObject({ username: "alice", role: "member" });
    await m.auth.logout({}, m.headersFor(token));
    expect((await rejection(m.auth.whoAmI({}, m.headersFor(token)))).code).toBe(Code.Unauthenticated);
  });

  it("gives the same answer for an unknown user and a wrong password", async () => {
    const a = await rejection(m.auth.login({ username: "alice", password: "wrong" }));
    const b = await rejection(m.auth.login({ username: "nobody", password: "wrong" }));
    expect(a.code).toBe(Code.Unauthenticated);
    expect(a.rawMessage).toBe(b.rawMessage);
  });

  it("rejects malformed and unknown tokens", async () => {
    expect((await rejection(m.auth.whoAmI({}, m.headersFor("nope")))).code).toBe(Code.Unauthenticated);
    const forged = `berth_s_${"A".repeat(43)}`;
    expect((await rejection(m.auth.whoAmI({}, m.headersFor(forged)))).code).toBe(Code.Unauthenticated);
  });
});
