import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type CallOptions, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  BrokerService,
  type ExecuteResponse,
  type SessionRequest,
  SessionRequestSchema,
  type SessionResponse,
} from "../../src/gen/berth/v1/broker_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import type { Column, Row, Value } from "../../src/gen/berth/v1/values_pb.js";

/** A gRPC client of a running Berth, as an internal service would hold one. */
export function brokerClients(baseUrl: string, token: string) {
  const transport = createGrpcTransport({ baseUrl });
  const headers = { authorization: `Bearer ${token}` };
  return {
    broker: createClient(BrokerService, transport),
    connections: createClient(ConnectionService, transport),
    call: { headers } satisfies CallOptions,
  };
}

export interface Collected {
  columns: Column[];
  rows: Row[];
  batches: number;
  complete?: ExecuteResponse["complete"];
  /** Wire messages received (a small result is one). */
  messages: number;
}

/** Drains an Execute stream into memory (for small results). */
export async function collect(events: AsyncIterable<ExecuteResponse>): Promise<Collected> {
  const out: Collected = { columns: [], rows: [], batches: 0, messages: 0 };
  for await (const e of events) {
    out.messages++;
    if (e.columns) out.columns = e.columns.columns;
    if (e.rows) {
      out.rows.push(...e.rows.rows);
      out.batches++;
    }
    if (e.complete) out.complete = e.complete;
  }
  return out;
}

/** The plain JS value of a typed Value, for assertions. */
export function plain(v: Value | undefined): unknown {
  const k = v?.kind;
  if (!k || k.case === undefined || k.case === "null") return null;
  if (k.case === "array") return k.value.values.map(plain);
  if (k.case === "timestamp")
    return new Date(Number(k.value.seconds) * 1000 + k.value.nanos / 1e6).toISOString();
  return k.value;
}

export const stmt = (
  sql: string,
  params: Value[] = [],
  extra: { maxRows?: bigint; timeoutMs?: number } = {},
) => ({
  sql,
  params,
  ...extra,
});

/**
 * A session stream driven by hand: push requests, read responses. `close()` ends the request side;
 * `abort()` tears the call down as a crashing client would.
 */
export function openSession(client: ReturnType<typeof brokerClients>) {
  const queue: SessionRequest[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const abort = new AbortController();
  async function* requests() {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (ended) return;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  }
  const responses = client.broker
    .session(requests(), { ...client.call, signal: abort.signal })
    [Symbol.asyncIterator]();
  const send = (r: MessageInitShape<typeof SessionRequestSchema>["request"]) => {
    queue.push(create(SessionRequestSchema, { request: r }));
    wake?.();
  };
  async function next(): Promise<SessionResponse> {
    const r = await responses.next();
    if (r.done) throw new Error("session ended");
    return r.value;
  }
  /** Reads events until a statement's completion or error. */
  async function result(): Promise<{
    rows: Row[];
    error?: { reason: string; errorCode: string; message: string };
  }> {
    const rows: Row[] = [];
    for (;;) {
      const e = (await next()).event;
      if (e.case === "result") {
        rows.push(...(e.value.rows?.rows ?? []));
        if (e.value.complete) return { rows };
      } else if (e.case === "error") return { rows, error: e.value };
    }
  }
  return {
    send,
    next,
    result,
    close() {
      ended = true;
      wake?.();
    },
    abort() {
      abort.abort();
    },
  };
}

/**
 * A transaction round trip on a lease: insert 1 and roll back, insert 2 and commit. What the table
 * holds afterwards ("2" only) shows that both were honoured on one server session.
 */
export async function leaseTransactionRoundTrip(
  client: ReturnType<typeof brokerClients>,
  connectionId: string,
  table: string,
): Promise<void> {
  const { lease } = await client.broker.acquireLease({ connectionId }, client.call);
  const onLease = (sql: string) =>
    collect(
      client.broker.execute(
        { target: { case: "leaseId", value: lease!.id }, statement: stmt(sql) },
        client.call,
      ),
    );
  await client.broker.begin({ leaseId: lease!.id }, client.call);
  await onLease(`INSERT INTO ${table} VALUES (1)`);
  await client.broker.rollback({ leaseId: lease!.id }, client.call);
  await client.broker.begin({ leaseId: lease!.id }, client.call);
  await onLease(`INSERT INTO ${table} VALUES (2)`);
  await client.broker.commit({ leaseId: lease!.id }, client.call);
  await client.broker.releaseLease({ leaseId: lease!.id }, client.call);
}
