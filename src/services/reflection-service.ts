import {
  create,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Request = v1.ServerReflectionRequest;
type Answer = MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"];

/** gRPC's NOT_FOUND and INVALID_ARGUMENT, as ErrorResponse.error_code carries them. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * What reflection knows: every file the served services are defined in and the files they import,
 * with every symbol (message, enum, service, method, extension) by its full name. Built from the
 * descriptors protoc-gen-es embeds in src/gen, so no .proto is read at run time.
 */
class Descriptors {
  readonly files = new Map<string, DescFile>();
  readonly symbols = new Map<string, DescFile>();
  readonly extensions: DescExtension[] = [];
  readonly messages = new Map<string, DescMessage>();

  constructor(readonly services: readonly DescService[]) {
    for (const s of services) this.add(s.file);
  }

  private add(file: DescFile) {
    // (DescFile.name drops ".proto"; clients ask by the path as imported.)
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const type of nestedTypes(file)) {
      this.symbols.set(type.typeName, file);
      if (type.kind === "service")
        for (const m of type.methods) this.symbols.set(`${type.typeName}.${m.name}`, file);
      if (type.kind === "extension") this.extensions.push(type);
      if (type.kind === "message") this.messages.set(type.typeName, type);
    }
    for (const dep of file.dependencies) this.add(dep);
  }

  /**
   * The file (always) and each file it imports, transitively, less those this stream has already
   * sent: a client keeps what it was sent (as grpc-go's reflection does).
   */
  withImports(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (sent.has(f.proto.name) && out.length > 0) return;
      sent.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return out;
  }
}

function answer(d: Descriptors, req: Request, sent: Set<string>): Answer {
  const files = (file: DescFile | undefined, what: string): Answer =>
    file
      ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: d.withImports(file, sent) } }
      : { case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } };
  const m = req.messageRequest;
  switch (m.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: d.services.map((s) => ({ name: s.typeName })) },
      };
    case "fileByFilename":
      return files(d.files.get(m.value), `File ${m.value}`);
    case "fileContainingSymbol":
      return files(d.symbols.get(m.value.replace(/^\./, "")), `Symbol ${m.value}`);
    case "fileContainingExtension": {
      const ext = d.extensions.find(
        (e) => e.extendee.typeName === m.value.containingType && e.number === m.value.extensionNumber,
      );
      return files(ext?.file, `Extension ${m.value.extensionNumber} of ${m.value.containingType}`);
    }
    case "allExtensionNumbersOfType": {
      if (!d.messages.has(m.value))
        return {
          case: "errorResponse",
          value: { errorCode: NOT_FOUND, errorMessage: `Type ${m.value} not found` },
        };
      const numbers = d.extensions.filter((e) => e.extendee.typeName === m.value).map((e) => e.number);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: m.value, extensionNumber: numbers },
      };
    }
    default:
      return { case: "errorResponse", value: { errorCode: INVALID_ARGUMENT, errorMessage: "Empty request" } };
  }
}

/**
 * gRPC server reflection (grpc.reflection.v1, and v1alpha, which older tools still ask for: the
 * same messages in another package) over the services Berth serves, so grpcurl, Postman and
 * `buf curl --reflect` work without the protos. One answer per request, in order, on one stream.
 */
export function createReflectionServices(services: readonly DescService[]): {
  reflection: ServiceImpl<typeof v1.ServerReflection>;
  reflectionV1Alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
} {
  const d = new Descriptors(services);
  return {
    reflection: {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const req of requests)
          yield create(v1.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(d, req, sent),
          });
      },
    },
    reflectionV1Alpha: {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const req of requests)
          yield create(v1alpha.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            // The same shapes under another package name.
            messageResponse: answer(d, req as unknown as Request, sent) as never,
          });
      },
    },
  };
}
