import { randomUUID } from "node:crypto";
import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";

/** Facts about the request that every layer may want: for logs, audit and error messages. */
export interface RequestInfo {
  readonly requestId: string;
  /** Remote address of the caller. */
  readonly peer: string;
  /** "grpc" | "connect" | "grpc-web" | "rest". */
  readonly transport: string;
  /** For REST: "POST /api/connections". */
  readonly route?: string;
}

export const requestInfoKey = createContextKey<RequestInfo>(
  { requestId: "unknown", peer: "", transport: "unknown" },
  { description: "berth request info" },
);

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honours a caller's x-request-id when it is sane (so traces join up); otherwise makes one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  return v && SAFE_ID.test(v) ? v : randomUUID();
}

export function transportOf(contentType: string | undefined): string {
  const ct = contentType ?? "";
  if (ct.startsWith("application/grpc-web")) return "grpc-web";
  if (ct.startsWith("application/grpc")) return "grpc";
  return "connect";
}

export function contextValuesFor(info: RequestInfo): ContextValues {
  return createContextValues().set(requestInfoKey, info);
}
