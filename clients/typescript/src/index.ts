/**
 * Berth's client SDK: `createBerthClient` and the types of its calls. The generated protobuf-es
 * code for every Berth service is under `@berth/client/gen/berth/v1/*_pb`.
 */
export { type BerthClient, type BerthClientOptions, createBerthClient } from "./client.js";
export { BerthError, type BerthErrorCode, type FieldViolation } from "./errors.js";
export type { CallOptions, QueryOptions, StatementOptions } from "./one-shot.js";
export type { Completion, QueryResult, RowStream } from "./results.js";
export type { RetryOptions } from "./retry.js";
export type {
  Isolation,
  Session,
  SessionOptions,
  SessionQueries,
  SessionStatementOptions,
  Transaction,
  TransactionOptions,
} from "./session.js";
export type { TlsOptions, TransportOptions } from "./transport.js";
export { type Column, type Json, param, type Row, type SqlParam, type SqlValue } from "./values.js";
