import type { Server as NetServer, Socket } from "node:net";
import type { Readable } from "node:stream";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { toConnectError } from "../errors/mapping.js";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import { invokeThroughChain } from "./interceptor-chain.js";
import { contextValuesFor, requestIdFrom } from "./request-info.js";
import { methodsByPath, type Services, servedServices } from "./service-table.js";

export interface GrpcJsServer {
  readonly port: number;
  close(graceMs: number): Promise<void>;
}

/**
 * The dedicated gRPC port for internal callers: @grpc/grpc-js serving the same service
 * implementations as the HTTP port, through the same interceptor chain, with protobuf-es doing the
 * (de)serialization. grpc-js measured faster than connect-node for gRPC clients (DESIGN §3).
 */
export async function startGrpcJsServer(options: {
  host: string;
  port: number;
  services: Services;
  interceptors: readonly Interceptor[];
  /** The largest message received (16 MiB, or more for a bundle import's own limit). */
  maxReceiveBytes?: number;
}): Promise<GrpcJsServer> {
  const server = new grpc.Server({
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_receive_message_length": options.maxReceiveBytes ?? 16 * 1024 * 1024,
  });
  const methods = methodsByPath(options.services);
  for (const { service } of servedServices(options.services)) {
    const definition: grpc.ServiceDefinition = {};
    const handlers: Record<string, grpc.UntypedHandleCall> = {};
    for (const method of service.methods) {
      const requestStream =
        method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
      const responseStream =
        method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
      (definition as Record<string, grpc.MethodDefinition<unknown, unknown>>)[method.localName] = {
        path: `/${service.typeName}/${method.name}`,
        requestStream,
        responseStream,
        requestSerialize: (m: unknown) => asBuffer(toBinary(method.input, m as MessageShape<DescMessage>)),
        requestDeserialize: (b: Buffer) => fromBinary(method.input, b),
        responseSerialize: (m: unknown) => asBuffer(toBinary(method.output, m as MessageShape<DescMessage>)),
        responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
      };
      const fn = methods.get(`${service.typeName}/${method.name}`)!;
      handlers[method.localName] = (
        call: grpc.ServerUnaryCall<unknown, unknown> & grpc.ServerWritableStream<unknown, unknown>,
        callback?: grpc.sendUnaryData<unknown>,
      ) => {
        const abort = new AbortController();
        call.on("cancelled", () => abort.abort());
        const header = new Headers();
        for (const [k, v] of Object.entries(call.metadata.getMap()))
          if (typeof v === "string") header.set(k, v);
        const requestId = requestIdFrom(header.get("x-request-id") ?? undefined);
        const run = invokeThroughChain({
          method,
          impl: fn as never,
          interceptors: options.interceptors,
          protocolName: "grpc",
          header,
          contextValues: contextValuesFor({ requestId, peer: call.getPeer(), transport: "grpc-js" }),
          signal: abort.signal,
          // A Readable's own async iterator destroys the stream when the reading ends — here the
          // whole call, so a client that half-closes would never get the answers still to come
          // nor its status. Reading must end only the reading.
          input: requestStream
            ? (call as unknown as Readable).iterator({ destroyOnReturn: false })
            : (call.request as MessageShape<DescMessage>),
        });
        if (!responseStream) {
          run.then(
            (res) => callback!(null, (res as { message: unknown }).message, metadataOf(res.header)),
            (err) => callback!(serviceError(err, requestId)),
          );
          return;
        }
        // A write into a call the client already cancelled is the client's doing, not a fault.
        call.on("error", () => abort.abort());
        void (async () => {
          const res = await run.catch((err) => {
            if (!abort.signal.aborted) call.emit("error", serviceError(err, requestId));
          });
          if (!res) return;
          const messages = (res.message as AsyncIterable<unknown>)[Symbol.asyncIterator]();
          try {
            for (;;) {
              if (abort.signal.aborted) {
                // The client cancelled: the chain sees it (logged, counted, audited as cancelled).
                await messages.throw?.(abort.signal.reason).catch(() => {});
                return;
              }
              const next = await messages.next();
              if (next.done) break;
              // A cancelled call never drains: waiting for that alone would hold its session forever.
              if (!call.write(next.value)) await drainedOrAborted(call, abort.signal);
            }
            if (!abort.signal.aborted) call.end();
          } catch (err) {
            if (!abort.signal.aborted) call.emit("error", serviceError(err, requestId));
          } finally {
            // Stop the producer (a statement is cancelled on the server) when the caller is gone.
            await messages.return?.(undefined).catch(() => {});
          }
        })();
      };
    }
    server.addService(definition, handlers as grpc.UntypedServiceImplementation);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`,
      grpc.ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  noDelayOnAccept(server);
  return {
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/**
 * TCP_NODELAY on every accepted connection. grpc-js sets it on its client sockets but not on the
 * server's, so Nagle's algorithm held each small response frame back until the client's delayed ACK
 * (up to 40 ms) whenever another was in flight on the same HTTP/2 connection: several calls at once
 * (one-shot calls, session streams sharing a channel) stalled with Berth and the database idle.
 * grpc-js has no option for it; its HTTP/2 servers are reached through its (private) server list
 * (pinned version; without the list the sockets keep Node's default, slower under concurrency).
 */
function noDelayOnAccept(server: grpc.Server): void {
  const servers = (server as unknown as { http2Servers?: Map<NetServer, unknown> }).http2Servers;
  for (const s of servers?.keys() ?? []) s.on("connection", (socket: Socket) => socket.setNoDelay(true));
}

/** The encoded bytes as a Buffer over the same memory: no copy per message. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function drainedOrAborted(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

function metadataOf(headers: Headers): grpc.Metadata {
  const md = new grpc.Metadata();
  headers.forEach((v, k) => {
    md.set(k, v);
  });
  return md;
}

/** A ConnectError as grpc-js wants it, with google.rpc.Status in grpc-status-details-bin. */
function serviceError(err: unknown, requestId: string): Partial<grpc.ServiceError> {
  const ce = err instanceof ConnectError ? err : toConnectError(err, requestId);
  const md = metadataOf(ce.metadata);
  const details = ce.details.flatMap((d) => ("desc" in d ? [anyPack(d.desc, d.value as never)] : []));
  md.set(
    "grpc-status-details-bin",
    Buffer.from(
      toBinary(StatusSchema, {
        $typeName: "google.rpc.Status",
        code: ce.code,
        message: ce.rawMessage,
        details,
      }),
    ),
  );
  return { code: ce.code as number as grpc.status, details: ce.rawMessage, metadata: md };
}
