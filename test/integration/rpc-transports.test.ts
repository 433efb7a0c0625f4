import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../src/gen/berth/v1/auth_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { CheckFailureSchema } from "../../src/gen/berth/v1/errors_pb.js";
import { CheckOutcome, CheckStage, Engine } from "../../src/gen/berth/v1/types_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { HEALTH_CHECKED, SERVED } from "../../src/server/service-table.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");

let b: TestBerth;
let address: string;
beforeAll(async () => {
  b = await startTestBerth();
  address = `127.0.0.1:${b.berth.port}`;
});
afterAll(async () => b?.close());

const pg = (name: string) => ({
  name,
  type: Engine.POSTGRESQL,
  server: LOCAL.postgres.host,
  port: LOCAL.postgres.port,
  database: LOCAL.postgres.database,
  username: LOCAL.postgres.user,
  password: "",
});

describe("gRPC with a grpc-js client (h2c on the shared port)", () => {
  it("answers grpc.health.v1.Health", async () => {
    const health = grpcJsClient(Health, address);
    try {
      const r = await health.unary<{ status: HealthCheckResponse_ServingStatus }>("check", {
        service: "berth.v1.ConnectionService",
      });
      expect(r.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      health.close();
    }
  });

  it.skipIf(!hasPostgres || !hasMariadb)("signs in, creates, lists and tests connections", async () => {
    const auth = grpcJsClient(AuthService, address);
    const conns = grpcJsClient(ConnectionService, address);
    try {
      const login = await auth.unary<{ token: string }>("login", {
        username: "admin",
        password: ADMIN_PASSWORD,
      });
      const md = { authorization: `Bearer ${login.token}` };
      const created = await conns.unary<{ connection: { id: string; name: string } }>(
        "createConnection",
        { spec: pg("grpc-pg") },
        md,
      );
      expect(created.connection.name).toBe("grpc-pg");
      const maria = await conns.unary<{ connection: { id: string } }>(
        "createConnection",
        {
          spec: {
            ...pg("grpc-maria"),
            type: Engine.MYSQL,
            port: LOCAL.mariadb.port,
            username: "root",
            database: "test",
          },
        },
        md,
      );
      const list = await conns.unary<{ connections: { name: string }[] }>("listConnections", {}, md);
      expect(list.connections.map((c) => c.name)).toEqual(expect.arrayContaining(["grpc-pg", "grpc-maria"]));
      for (const id of [created.connection.id, maria.connection.id]) {
        const tested = await conns.unary<{ result: { ok: boolean; serverVersion: string } }>(
          "testConnection",
          { target: { case: "id", value: id } },
          md,
        );
        expect(tested.result.ok).toBe(true);
        expect(tested.result.serverVersion).not.toBe("");
      }
    } finally {
      auth.close();
      conns.close();
    }
  });

  it("carries ErrorInfo and every stage in grpc-status-details-bin when a test fails", async () => {
    const auth = grpcJsClient(AuthService, address);
    const conns = grpcJsClient(ConnectionService, address);
    try {
      const { token } = await auth.unary<{ token: string }>("login", {
        username: "admin",
        password: ADMIN_PASSWORD,
      });
      const err = (await conns
        .unary(
          "testConnection",
          { target: { case: "spec", value: { ...pg("refused"), port: 1 } } },
          { authorization: `Bearer ${token}` },
        )
        .catch((e) => e)) as grpc.ServiceError;
      expect(err.code).toBe(Code.FailedPrecondition);
      const status = fromBinary(StatusSchema, err.metadata.get("grpc-status-details-bin")[0] as Buffer);
      const info = status.details.map((d) => anyUnpack(d, ErrorInfoSchema)).find(Boolean);
      expect(info).toMatchObject({
        reason: "connection_operation_failed",
        metadata: { reason: "connection_refused", stage: "tcp" },
      });
      const failure = status.details.map((d) => anyUnpack(d, CheckFailureSchema)).find(Boolean);
      expect(failure?.result?.stages.find((s) => s.stage === CheckStage.TCP)?.outcome).toBe(
        CheckOutcome.FAILED,
      );
    } finally {
      auth.close();
      conns.close();
    }
  });

  it("refuses a call without a token with UNAUTHENTICATED", async () => {
    const conns = grpcJsClient(ConnectionService, address);
    try {
      const err = (await conns.unary("listConnections", {}).catch((e) => e)) as grpc.ServiceError;
      expect(err.code).toBe(Code.Unauthenticated);
    } finally {
      conns.close();
    }
  });
});

describe.each([
  ["Connect JSON over HTTP/1.1", () => createConnectTransport({ baseUrl: b.url, httpVersion: "1.1" })],
  [
    "Connect binary over h2c",
    () => createConnectTransport({ baseUrl: b.url, httpVersion: "2", useBinaryFormat: true }),
  ],
  ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: b.url, httpVersion: "1.1" })],
  ["gRPC via connect-node over h2c", () => createGrpcTransport({ baseUrl: b.url })],
])("%s", (_label, transport) => {
  it.skipIf(!hasPostgres)("signs in, creates, reads and tests a connection", async () => {
    const t = transport();
    const auth = createClient(AuthService, t);
    const conns = createClient(ConnectionService, t);
    const { token } = await auth.login({ username: "admin", password: ADMIN_PASSWORD });
    const headers = { authorization: `Bearer ${token}` };
    const name = `c-${Math.random().toString(36).slice(2)}`;
    const { connection } = await conns.createConnection({ spec: pg(name) }, { headers });
    expect((await conns.getConnection({ id: connection!.id }, { headers })).connection?.name).toBe(name);
    const { result } = await conns.testConnection(
      { target: { case: "id", value: connection!.id } },
      { headers },
    );
    expect(result?.ok).toBe(true);
  });

  it("reports a typed error with its ErrorInfo", async () => {
    const conns = createClient(ConnectionService, transport());
    const err = ConnectError.from(await conns.getConnection({ id: "x" }).catch((e) => e));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("unauthenticated");
  });
});

describe("the dedicated grpc-js port (BERTH_GRPC_PORT)", () => {
  it.skipIf(!hasPostgres)("serves the same services through the same interceptors", async () => {
    const g = await startTestBerth({ BERTH_GRPC_PORT: "0" });
    try {
      const addr = `127.0.0.1:${g.berth.grpcPort}`;
      const health = grpcJsClient(Health, addr);
      const conns = grpcJsClient(ConnectionService, addr);
      try {
        const h = await health.unary<{ status: HealthCheckResponse_ServingStatus }>("check", {});
        expect(h.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
        // Same authn: no token, no answer; and the error carries the same ErrorInfo detail.
        const denied = (await conns.unary("listConnections", {}).catch((e) => e)) as grpc.ServiceError;
        expect(denied.code).toBe(Code.Unauthenticated);
        const status = fromBinary(StatusSchema, denied.metadata.get("grpc-status-details-bin")[0] as Buffer);
        expect(status.details.map((d) => anyUnpack(d, ErrorInfoSchema)).find(Boolean)?.reason).toBe(
          "unauthenticated",
        );
        const md = { authorization: `Bearer ${g.adminToken}` };
        const created = await conns.unary<{ connection: { id: string } }>(
          "createConnection",
          { spec: pg("via-grpc-js") },
          md,
        );
        const tested = await conns.unary<{ result: { ok: boolean } }>(
          "testConnection",
          { target: { case: "id", value: created.connection.id } },
          md,
        );
        expect(tested.result.ok).toBe(true);
        // And one log line per request, marked with its transport.
        expect(g.logs.some((l) => l.includes('"transport":"grpc-js"') && l.includes("TestConnection"))).toBe(
          true,
        );
      } finally {
        health.close();
        conns.close();
      }
    } finally {
      await g.close();
    }
  });
});

describe("the service table feeds every transport", () => {
  it("both gRPC ports serve every service in the table, and Health lists the ones it checks", async () => {
    const g = await startTestBerth({ BERTH_GRPC_PORT: "0" });
    try {
      for (const addr of [`127.0.0.1:${g.berth.port}`, `127.0.0.1:${g.berth.grpcPort}`]) {
        // Reflection has only a stream: its own suite (grpc-reflection.test.ts) checks both ports.
        for (const service of SERVED.filter((s) => s.methods.some((m) => m.methodKind === "unary"))) {
          // Any unary method but a sign-in (whose failures are slowed down on purpose), without a token.
          const method = service.methods.find(
            (m) => m.methodKind === "unary" && !m.name.startsWith("Login"),
          )!;
          const client = grpcJsClient(service, addr);
          try {
            const got = await client.unary(method.localName, {}).then(
              () => Code[0],
              (e: grpc.ServiceError) => Code[e.code],
            );
            expect(got, `${addr} ${service.typeName}/${method.name}`).not.toBe(Code[Code.Unimplemented]);
          } finally {
            client.close();
          }
        }
        const health = grpcJsClient(Health, addr);
        try {
          const listed = await health.unary<{ statuses: Record<string, unknown> }>(
            "list",
            {},
            { authorization: `Bearer ${g.adminToken}` },
          );
          expect(Object.keys(listed.statuses).sort()).toEqual(
            ["", ...HEALTH_CHECKED.map((s) => s.typeName)].sort(),
          );
        } finally {
          health.close();
        }
      }
    } finally {
      await g.close();
    }
  });
});
