import {
  create,
  type DescMessage,
  type DescMethod,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  type ContextValues,
  createHandlerContext,
  type HandlerContext,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";

type AnyImpl = (req: unknown, ctx: HandlerContext) => unknown;

/**
 * Runs a service method through Berth's interceptor chain outside connect-node's router: used by
 * the REST layer and the grpc-js port, so that every transport gets the same authentication,
 * logging and error mapping as the connect-node port.
 */
export async function invokeThroughChain(options: {
  method: DescMethod;
  impl: AnyImpl;
  interceptors: readonly Interceptor[];
  protocolName: string;
  header: Headers;
  contextValues: ContextValues;
  signal: AbortSignal;
  /** A single message (unary, server streaming) or the request stream (client/bidi streaming). */
  input: MessageShape<DescMessage> | AsyncIterable<MessageShape<DescMessage>>;
}): Promise<UnaryResponse | StreamResponse> {
  const { method, impl } = options;
  const service = method.parent;
  const streamingRequest = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
  const streamingResponse =
    method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
  const final = async (r: UnaryRequest | StreamRequest): Promise<UnaryResponse | StreamResponse> => {
    const ctx = createHandlerContext({
      service,
      method,
      protocolName: options.protocolName,
      requestMethod: r.requestMethod,
      url: r.url,
      requestHeader: r.header,
      contextValues: r.contextValues,
      requestSignal: options.signal,
    });
    let arg: unknown = r.message;
    if (r.stream && !streamingRequest) {
      // A server-streaming method receives one message, carried as a one-item stream.
      for await (const m of r.message) arg = m;
    }
    const out = impl(arg, ctx);
    if (streamingResponse) {
      return {
        stream: true,
        service,
        method: method as never,
        header: ctx.responseHeader,
        trailer: ctx.responseTrailer,
        message: toMessages(method.output, out as AsyncIterable<MessageInitShape<DescMessage>>),
      };
    }
    return {
      stream: false,
      service,
      method: method as never,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: create(method.output, (await out) as MessageInitShape<DescMessage>),
    };
  };
  let next = final;
  for (const i of [...options.interceptors].reverse()) next = i(next as never) as typeof next;
  const common = {
    service,
    requestMethod: "POST",
    url: `/${service.typeName}/${method.name}`,
    signal: options.signal,
    header: options.header,
    contextValues: options.contextValues,
  };
  if (streamingRequest || streamingResponse) {
    const message = streamingRequest
      ? (options.input as AsyncIterable<MessageShape<DescMessage>>)
      : once(options.input as MessageShape<DescMessage>);
    return next({ ...common, stream: true, method: method as never, message });
  }
  return next({
    ...common,
    stream: false,
    method: method as never,
    message: options.input as MessageShape<DescMessage>,
  });
}

async function* once<T>(m: T): AsyncIterable<T> {
  yield m;
}

async function* toMessages(desc: DescMessage, it: AsyncIterable<MessageInitShape<DescMessage>>) {
  for await (const m of it) yield "$typeName" in m ? (m as MessageShape<DescMessage>) : create(desc, m);
}
