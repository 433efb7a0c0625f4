import { Code, ConnectError } from "@connectrpc/connect";
import type { StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINES, type EngineId } from "../../src/engines/index.js";
import type { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { brokerClients, collect, leaseTransactionRoundTrip, plain, stmt } from "../support/broker-client.js";
import { containerRuntime } from "../support/containers.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

export interface EngineUnderTest {
  name: EngineId;
  engine: Engine;
  start(): Promise<StartedTestContainer>;
  /** The connection spec for the container's mapped port, with the right password. */
  spec(host: string, port: number): Record<string, unknown>;
  badPasswordCode: string;
  series100k: string;
  sleep10s: string;
  createTable(table: string): string;
}

/**
 * The same checks for every engine that only runs in a container: create, test with a good and a
 * bad password, stream 100,000 rows, cancel by deadline, transactions on a lease, and pool reset.
 */
export async function engineContainerSuite(e: EngineUnderTest): Promise<void> {
  const runtime = await containerRuntime();
  describe.skipIf(!runtime.available)(
    `${e.name} in a container (${runtime.reason || "engine found"})`,
    () => {
      let container: StartedTestContainer;
      let b: TestBerth;
      let client: ReturnType<typeof brokerClients>;
      let id: string;
      const run = (sql: string, extra: { timeoutMs?: number } = {}) =>
        collect(
          client.broker.execute(
            { target: { case: "connectionId", value: id }, statement: stmt(sql, [], extra) },
            client.call,
          ),
        );

      beforeAll(async () => {
        container = await e.start();
        b = await startTestBerth({ BERTH_CANCEL_GRACE_MS: "2000" });
        client = brokerClients(b.url, b.adminToken);
        const spec = e.spec(container.getHost(), container.getFirstMappedPort());
        const { connection } = await client.connections.createConnection(
          { spec: { ...spec, name: `ct-${e.name}`, type: e.engine } },
          client.call,
        );
        id = connection!.id;
      }, 600_000);
      afterAll(async () => {
        await b?.close();
        await container?.stop();
      });

      it("tests green with the right password, and names the failure with the wrong one", async () => {
        const ok = await b.api(`/api/connections/${id}/test`, { body: {} });
        expect(ok.status, ok.text).toBe(200);
        const spec = e.spec(container.getHost(), container.getFirstMappedPort());
        const bad = await b.api("/api/connections/test", {
          body: { ...spec, name: "wrong", type: e.name, password: "definitely-wrong-pw" },
        });
        expect(bad.text).toContain("authentication_failed");
        expect(bad.text).toContain(e.badPasswordCode);
        expect(bad.text).not.toContain("definitely-wrong-pw");
      });

      it("streams 100,000 rows", async () => {
        let rows = 0;
        let last: unknown;
        for await (const m of client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt(e.series100k) },
          client.call,
        )) {
          rows += m.rows?.rows.length ?? 0;
          const batch = m.rows?.rows;
          if (batch?.length) last = plain(batch[batch.length - 1]!.values[0]);
        }
        expect(rows).toBe(100_000);
        expect(String(last)).toBe("100000");
      });

      it("cancels a statement past its deadline, and the pool stays usable", async () => {
        const started = performance.now();
        const err = await run(e.sleep10s, { timeoutMs: 500 }).then(
          () => undefined,
          (x: unknown) => ConnectError.from(x),
        );
        expect(err?.code).toBe(Code.DeadlineExceeded);
        expect(performance.now() - started).toBeLessThan(4000);
        expect((await run(ENGINES[e.name].probeQuery)).rows).toHaveLength(1);
      });

      it("commits and rolls back on a lease", async () => {
        const table = `berth_ct_${Date.now()}`;
        await run(e.createTable(table));
        await leaseTransactionRoundTrip(client, id, table);
        const r = await run(`SELECT id FROM ${table}`);
        expect(r.rows.map((x) => String(plain(x.values[0])))).toEqual(["2"]);
      });

      it("resets the pool and serves again", async () => {
        const reset = await b.api(`/api/connections/${id}/reset`, { body: {} });
        expect(reset.status, reset.text).toBe(200);
        expect((await run(ENGINES[e.name].probeQuery)).rows).toHaveLength(1);
      });
    },
  );
}
