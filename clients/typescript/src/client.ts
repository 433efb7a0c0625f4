import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  type CallOptions as ConnectCallOptions,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import { toBerthError } from "./errors.js";
import { BrokerService } from "./gen/berth/v1/broker_service_pb.js";
import { checkedTimeout, type OneShotContext, type QueryOptions, query, stream } from "./one-shot.js";
import type { QueryResult, RowStream } from "./results.js";
import { type RetryOptions, retryPolicy } from "./retry.js";
import { runSession, type Session, type SessionOptions } from "./session.js";
import { createTransport, type TransportOptions } from "./transport.js";
import type { Row, SqlParam } from "./values.js";

export interface BerthClientOptions extends TransportOptions {
  /** The deadline of every call unless the call gives its own, in ms (default 30000). */
  timeoutMs?: number;
  /** Back-off for one-shot calls that failed before reaching the database (never inside a session). */
  retry?: RetryOptions;
}

export interface BerthClient {
  /** Runs one statement on a pooled session and collects its result. */
  query<R = Row>(
    connection: string,
    sql: string,
    params?: readonly SqlParam[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
  /** Runs one statement on a pooled session; rows are read as they arrive, and a slow reader slows the server. */
  stream<R = Row>(
    connection: string,
    sql: string,
    params?: readonly SqlParam[],
    options?: QueryOptions,
  ): RowStream<R>;
  /** Leases a pooled session for `fn` (see Session); its result is `fn`'s. */
  session<T>(connection: string, fn: (s: Session) => Promise<T>, options?: SessionOptions): Promise<T>;
  /**
   * A generated client for any Berth service (ConnectionService, TokenService, ...) on this
   * client's connection and credentials, with the default deadline and BerthError failures.
   */
  service<S extends DescService>(service: S): Client<S>;
  /** Closes the connection to Berth (open calls fail with CANCELLED or UNAVAILABLE). */
  close(): void;
}

type AnyCall = (req: unknown, options?: ConnectCallOptions) => unknown;

async function* rethrowing(messages: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  try {
    yield* messages;
  } catch (e) {
    throw toBerthError(e);
  }
}

function serviceClient<S extends DescService>(desc: S, transport: Transport, timeoutMs: number): Client<S> {
  const inner = createClient(desc, transport) as unknown as Record<string, AnyCall>;
  const wrapped: Record<string, AnyCall> = {};
  for (const method of desc.methods) {
    const call = inner[method.localName]!;
    const withDeadline = (o?: ConnectCallOptions) => ({ ...o, timeoutMs: o?.timeoutMs ?? timeoutMs });
    wrapped[method.localName] =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? (req, o) =>
            (call(req, withDeadline(o)) as Promise<unknown>).catch((e: unknown) => {
              throw toBerthError(e);
            })
        : (req, o) => rethrowing(call(req, withDeadline(o)) as AsyncIterable<unknown>);
  }
  return wrapped as unknown as Client<S>;
}

/**
 * A client for Berth's data plane. One HTTP/2 connection is shared by every call; create one
 * client per process and reuse it.
 *
 * @example
 * const berth = createBerthClient({ url: "http://127.0.0.1:9090", token: process.env.BERTH_TOKEN });
 * const { rows } = await berth.query(connectionId, "SELECT id, total FROM orders WHERE id = $1", [42n]);
 */
export function createBerthClient(options: BerthClientOptions): BerthClient {
  const timeoutMs = checkedTimeout(options.timeoutMs ?? 30_000);
  const { transport, close } = createTransport(options);
  const ctx: OneShotContext = {
    broker: createClient(BrokerService, transport),
    timeoutMs,
    retry: retryPolicy(options.retry),
  };
  return {
    query: (connection, sql, params, o) => query(ctx, connection, sql, params, o),
    stream: (connection, sql, params, o) => stream(ctx, connection, sql, params, o),
    session: (connection, fn, o) => runSession(ctx, connection, fn, o),
    service: (desc) => serviceClient(desc, transport, timeoutMs),
    close,
  };
}
