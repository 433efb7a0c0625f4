import { randomBytes } from "node:crypto";
import { type Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { startBerthProcess } from "../bench/berth-process.js";
import { brokerClients, collect, stmt } from "./broker-client.js";
import { LOCAL } from "./services.js";
import { createTestDatabase } from "./test-store.js";

export type BerthProcess = Awaited<ReturnType<typeof startBerthProcess>>;

/**
 * Berth processes (dist/main.js) in shared mode on one fresh PostgreSQL database and the local
 * Redis, all started at the same moment, with one master key.
 */
export async function startBerthCluster(count: number, env: Record<string, string> = {}) {
  const store = await createTestDatabase();
  const shared = {
    BERTH_STORE_URL: store.url,
    BERTH_REDIS_URL: `redis://${LOCAL.redis.host}:${LOCAL.redis.port}`,
    BERTH_MASTER_KEY: randomBytes(32).toString("base64"),
    ...env,
  };
  const started = await Promise.allSettled(Array.from({ length: count }, () => startBerthProcess(shared)));
  const members = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    await Promise.all(members.map((m) => m.stop()));
    await store.drop();
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { members, storeUrl: store.url, stop };
}

/** REST on one member: status and JSON body (never throws on a status). */
export async function rest(
  on: { url: string },
  token: string,
  path: string,
  init: { method?: string; body?: unknown; requestId?: string } = {},
) {
  const res = await fetch(on.url + path, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${token}`,
      ...(init.requestId ? { "x-request-id": init.requestId } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  // JSON of any shape: the tests read the fields they expect.
  const body = text ? JSON.parse(text) : {};
  return { status: res.status, body };
}

export type QueryOutcome =
  | { ok: true; ms: number }
  | { ok: false; ms: number; code: Code; reason: string; message: string };

/** One Execute through a member's gRPC (HTTP port, h2c): how it went and how long it took. */
export function queryOn(on: { url: string }, token: string) {
  const clients = brokerClients(on.url, token);
  return async (connectionId: string, sql: string, requestId?: string): Promise<QueryOutcome> => {
    const started = performance.now();
    try {
      await collect(
        clients.broker.execute(
          { target: { case: "connectionId", value: connectionId }, statement: stmt(sql) },
          { headers: { ...clients.call.headers, ...(requestId ? { "x-request-id": requestId } : {}) } },
        ),
      );
      return { ok: true, ms: performance.now() - started };
    } catch (err) {
      const e = ConnectError.from(err);
      const info = e.findDetails(ErrorInfoSchema)[0];
      const reason = info?.metadata.reason ?? info?.reason ?? "";
      return { ok: false, ms: performance.now() - started, code: e.code, reason, message: e.rawMessage };
    }
  };
}
