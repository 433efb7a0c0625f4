import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { type DescMethod, fromBinary } from "@bufbuild/protobuf";
import { SERVED } from "./service-table.js";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/**
 * connect-node reports a Connect unary body that is not valid protobuf as `internal` (HTTP 500):
 * the client's mistake would read as Berth's fault, and fill the error metrics. For those requests
 * (POST, `application/proto`, a unary method), the body is read first (up to maxBytes) and checked;
 * garbage answers 400 `invalid_argument`, and a good body is replayed to connect-node as it came.
 * Answers how it answered the request itself (its outcome), or false when connect-node is to.
 */
export function createProtoBodyCheck(defaultMaxBytes: number, limits: Readonly<Record<string, number>> = {}) {
  const unary = new Map<string, DescMethod>();
  for (const service of SERVED)
    for (const m of service.methods)
      if (m.methodKind === "unary") unary.set(`/${service.typeName}/${m.name}`, m);

  return async (
    req: NodeRequest,
    res: NodeResponse,
    pathname: string,
  ): Promise<false | "invalid_argument" | "resource_exhausted"> => {
    const method = unary.get(pathname);
    // The method's own limit when it has one (it must match connect-node's, or a body over the
    // default would be replayed cut short).
    const maxBytes = limits[pathname.slice(1)] ?? defaultMaxBytes;
    if (!method || req.method !== "POST" || req.headers["content-type"] !== "application/proto") return false;
    if (req.headers["content-encoding"] && req.headers["content-encoding"] !== "identity") return false;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxBytes) break;
    }
    // Too large: answered here. (Leaving it to connect-node, from replayed chunks, left the client
    // waiting until its deadline: the loop's break had already destroyed the request stream.)
    if (size > maxBytes) {
      res.writeHead(429, { "content-type": "application/json", connection: "close" });
      res.end(
        JSON.stringify({
          code: "resource_exhausted",
          message: `The request body is larger than ${maxBytes} bytes (BERTH_MAX_BODY_BYTES, or BERTH_MAX_BUNDLE_BYTES for a bundle import)`,
        }),
      );
      return "resource_exhausted";
    }
    try {
      fromBinary(method.input, Buffer.concat(chunks));
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          code: "invalid_argument",
          message: `The request body is not a valid ${method.input.typeName} message`,
        }),
      );
      return "invalid_argument";
    }
    Object.defineProperty(req, Symbol.asyncIterator, {
      value: async function* () {
        yield* chunks;
      },
    });
    return false;
  };
}
