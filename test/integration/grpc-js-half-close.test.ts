import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionResponse } from "../../src/gen/berth/v1/broker_service_pb.js";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
let connectionId: string;
beforeAll(async () => {
  b = await startTestBerth({ BERTH_GRPC_PORT: "0" });
  const created = await b.api("/api/connections", {
    body: {
      name: "half-close",
      type: "postgresql",
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      username: LOCAL.postgres.user,
      password: "",
      sslMode: "disable",
    },
  });
  connectionId = created.body.id;
});
afterAll(async () => b?.close());

describe.skipIf(!hasPostgres)("a Session on the dedicated grpc-js port", () => {
  it("answers the statements sent before a half-close, then ends with status OK", async () => {
    const broker = grpcJsClient(BrokerService, `127.0.0.1:${b.berth.grpcPort}`);
    try {
      const call = broker.bidi("session", { authorization: `Bearer ${b.adminToken}` });
      const events: string[] = [];
      const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      call.on("data", (r: SessionResponse) => {
        events.push(
          r.event.case === "result"
            ? `result:${r.event.value.complete ? "complete" : "part"}`
            : `${r.event.case}`,
        );
      });
      call.on("error", () => {});
      call.write({ request: { case: "open", value: { connectionId } } });
      call.write({ request: { case: "execute", value: { sql: "SELECT 1", params: [] } } });
      call.end();
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000));
      const ended = await Promise.race([status, timeout]);
      expect(ended).not.toBe("timeout");
      expect((ended as grpc.StatusObject).code).toBe(0);
      expect(events[0]).toBe("opened");
      expect(events).toContain("result:complete");
    } finally {
      broker.close();
    }
  });
});
