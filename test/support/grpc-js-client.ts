import type { DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { create, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

/**
 * A plain grpc-js client for a protobuf-es service: what an internal service written against
 * @grpc/grpc-js would use. Serializes with protobuf-es (toBinary/fromBinary).
 */
export function grpcJsClient(service: DescService, address: string) {
  const definition: Record<
    string,
    grpc.MethodDefinition<MessageShape<DescMessage>, MessageShape<DescMessage>>
  > = {};
  for (const m of service.methods) {
    definition[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: (msg: MessageShape<DescMessage>) =>
        Buffer.from(toBinary(m.input, isMessage(msg, m.input) ? msg : create(m.input, msg))),
      requestDeserialize: (buf: Buffer) => fromBinary(m.input, buf),
      responseSerialize: (msg: MessageShape<DescMessage>) => Buffer.from(toBinary(m.output, msg)),
      responseDeserialize: (buf: Buffer) => fromBinary(m.output, buf),
    };
  }
  const Ctor = grpc.makeGenericClientConstructor(definition, service.typeName);
  const client = new Ctor(address, grpc.credentials.createInsecure());
  return {
    raw: client,
    /** Calls a unary method; rejects with the grpc ServiceError (code, details, metadata). */
    unary<T>(method: string, request: unknown, metadata: Record<string, string> = {}): Promise<T> {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      return new Promise((resolve, reject) => {
        (client as unknown as Record<string, (...args: unknown[]) => void>)[method]!.call(
          client,
          request,
          md,
          (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)),
        );
      });
    },
    /** A server-streaming call; resolves with every response once the stream ends. */
    serverStream(
      method: string,
      request: unknown,
      metadata: Record<string, string> = {},
    ): grpc.ClientReadableStream<unknown> {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      return (
        client as unknown as Record<
          string,
          (r: unknown, m: grpc.Metadata) => grpc.ClientReadableStream<unknown>
        >
      )[method]!.call(client, request, md);
    },
    /** A bidirectional call. */
    bidi(method: string, metadata: Record<string, string> = {}): grpc.ClientDuplexStream<unknown, unknown> {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      return (
        client as unknown as Record<string, (m: grpc.Metadata) => grpc.ClientDuplexStream<unknown, unknown>>
      )[method]!.call(client, md);
    },
    close() {
      client.close();
    },
  };
}
