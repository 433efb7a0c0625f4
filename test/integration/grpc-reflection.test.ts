import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
} from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { SERVED } from "../../src/server/service-table.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const run = promisify(execFile);
const BUF = "node_modules/.bin/buf";

let b: TestBerth;
let ports: { name: string; port: number }[];
beforeAll(async () => {
  b = await startTestBerth({ BERTH_GRPC_PORT: "0" });
  ports = [
    { name: "HTTP port (connect-node)", port: b.berth.port },
    { name: "gRPC port (grpc-js)", port: b.berth.grpcPort! },
  ];
});
afterAll(async () => b?.close());

/** `buf curl` with reflection: an independent client (Go's grpc reflection), as grpcurl would be. */
async function bufCurl(args: string[], token: string | null) {
  const auth = token
    ? ["--reflect-header", `authorization: Bearer ${token}`, "-H", `authorization: Bearer ${token}`]
    : [];
  return run(BUF, ["curl", "--http2-prior-knowledge", "--protocol", "grpc", ...auth, ...args], {
    timeout: 20_000,
  }).then(
    (r) => ({ ok: true, out: r.stdout, err: r.stderr }),
    (e: { stdout: string; stderr: string }) => ({ ok: false, out: e.stdout, err: e.stderr }),
  );
}

describe("gRPC server reflection, by buf curl, on both ports", () => {
  for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
    it(`lists every served service (${protocol})`, async () => {
      for (const { name, port } of ports) {
        const r = await bufCurl(
          ["--reflect-protocol", protocol, "--list-services", `http://127.0.0.1:${port}`],
          b.adminToken,
        );
        expect(r.err, name).toBe("");
        expect(r.out.trim().split("\n").sort(), name).toEqual(SERVED.map((s) => s.typeName).sort());
      }
    });
  }

  it("lists a service's methods and calls one from the schema it described", async () => {
    for (const { name, port } of ports) {
      // Every method of every service: each service's file and imports, described by reflection.
      const methods = await bufCurl(["--list-methods", `http://127.0.0.1:${port}`], b.adminToken);
      expect(methods.err, name).toBe("");
      expect(methods.out.trim().split("\n").sort(), name).toEqual(
        SERVED.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)).sort(),
      );
      // The request and response types of WhoAmI come from reflection alone (no --schema).
      const call = await bufCurl(
        ["-d", "{}", `http://127.0.0.1:${port}/berth.v1.AuthService/WhoAmI`],
        b.adminToken,
      );
      expect(call.err, name).toBe("");
      expect(JSON.parse(call.out).user.username, name).toBe("admin");
    }
  });

  it("refuses a caller without a token, like every other method", async () => {
    for (const { name, port } of ports) {
      const r = await bufCurl(["--list-services", `http://127.0.0.1:${port}`], null);
      expect(r.ok, name).toBe(false);
      expect(r.err.toLowerCase(), name).toMatch(/unauthenticated|not authenticated/);
      expect(r.out, name).not.toContain("berth.v1");
    }
  });
});

describe("reflection answers (grpc.reflection.v1 by a Connect client)", () => {
  async function ask(requests: MessageInitShape<typeof ServerReflectionRequestSchema>[]) {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: b.url }));
    async function* send() {
      for (const r of requests) yield create(ServerReflectionRequestSchema, r);
    }
    const answers = [];
    for await (const a of client.serverReflectionInfo(send(), {
      headers: { authorization: `Bearer ${b.adminToken}` },
    }))
      answers.push(a);
    return answers;
  }

  it("gives a method's file with its imports, in order, then only what it has not sent", async () => {
    const [first, again, missing] = await ask([
      {
        host: "h",
        messageRequest: { case: "fileContainingSymbol", value: "berth.v1.BrokerService.Session" },
      },
      { messageRequest: { case: "fileByFilename", value: "berth/v1/broker_service.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: "berth.v1.NoSuchThing" } },
    ]);
    expect(first!.validHost).toBe("h");
    expect(first!.originalRequest?.messageRequest.value).toBe("berth.v1.BrokerService.Session");
    const r = first!.messageResponse;
    if (r.case !== "fileDescriptorResponse") throw new Error(`got ${r.case}`);
    const files = r.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    expect(files[0]!.name).toBe("berth/v1/broker_service.proto");
    const session = files[0]!.service
      .find((s) => s.name === "BrokerService")!
      .method.find((m) => m.name === "Session")!;
    expect(session.inputType).toBe(".berth.v1.SessionRequest");
    expect(session.clientStreaming && session.serverStreaming).toBe(true);
    // Every import is there, so a client can build the descriptors without asking again.
    const names = new Set(files.map((f) => f.name));
    for (const f of files)
      for (const dep of f.dependency) expect(names, `${f.name} imports ${dep}`).toContain(dep);
    // Asked again on the same stream: the file itself, not its imports again.
    const a2 = again!.messageResponse;
    if (a2.case !== "fileDescriptorResponse") throw new Error(`got ${a2.case}`);
    expect(a2.value.fileDescriptorProto.length).toBe(1);
    const m = missing!.messageResponse;
    expect(m.case).toBe("errorResponse");
    if (m.case === "errorResponse") expect(m.value.errorCode).toBe(Code.NotFound);
  });

  it("refuses without a token with UNAUTHENTICATED", async () => {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: b.url }));
    async function* one() {
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    }
    const err = await (async () => {
      for await (const _ of client.serverReflectionInfo(one()));
    })().catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unauthenticated);
  });
});
