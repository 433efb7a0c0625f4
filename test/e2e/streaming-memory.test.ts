import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { startBerthProcess } from "../bench/berth-process.js";
import { serviceAvailable } from "../support/services.js";

const hasPostgres = await serviceAvailable("postgres");

let berth: Awaited<ReturnType<typeof startBerthProcess>> | undefined;
beforeAll(async () => {
  // A heap far smaller than the result: if Berth buffered the stream instead of holding back, it
  // would run out of memory and die.
  if (hasPostgres) berth = await startBerthProcess({}, ["--max-old-space-size=64"]);
}, 60_000);
afterAll(async () => berth?.stop());

describe.skipIf(!hasPostgres)("streaming a large result through the Berth process", () => {
  it.each([
    ["the grpc-js port", () => `http://${berth!.grpcAddress}`],
    ["the HTTP port (connect-node)", () => berth!.url],
  ])(
    "delivers 100,000 rows (~100 MB) in order to a slow reader on %s while Berth's memory stays flat",
    async (_port, baseUrl) => {
      const b = berth!;
      const { id } = await b.api("/api/connections", {
        name: `big-stream-${Math.random().toString(36).slice(2)}`,
        type: "postgresql",
        server: "127.0.0.1",
        port: 5432,
        database: "test",
        username: "postgres",
        password: "",
      });
      const broker = createClient(BrokerService, createGrpcTransport({ baseUrl: baseUrl() }));
      const rssBefore = b.rssMiB();
      let peak = rssBefore;
      let expected = 1;
      let bytes = 0;
      const events = broker.execute(
        {
          target: { case: "connectionId", value: id as string },
          statement: {
            sql: "SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 100000) g",
            params: [],
          },
        },
        { headers: { authorization: `Bearer ${b.token}` }, timeoutMs: 120_000 },
      );
      for await (const e of events) {
        if (!e.rows) continue;
        for (const r of e.rows.rows) {
          const k = r.values[0]!.kind;
          expect(k.case === "int64" ? Number(k.value) : -1).toBe(expected++);
          const pad = r.values[1]!.kind;
          bytes += pad.case === "text" ? pad.value.length : 0;
        }
        // A slow reader: Berth must hold back rather than buffer the whole result for it.
        await new Promise((r) => setTimeout(r, 2));
        peak = Math.max(peak, b.rssMiB());
      }
      expect(expected - 1).toBe(100_000);
      expect(bytes).toBe(100_000 * 1000);
      // ~100 MB went through; Berth grew by far less than that.
      expect(peak - rssBefore).toBeLessThan(60);
    },
    120_000,
  );
});
