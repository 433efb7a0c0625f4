import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { z } from "zod";
import type { ErrorKind } from "../../errors/berth-error.js";

export type Json = Record<string, unknown>;

/** What a route reads from a request: path parameters, query, JSON body and headers. */
export interface Parsed<Body = Json> {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Body;
  header: Headers;
}

/**
 * One REST path and verb mapped onto one unary RPC: JSON → request message, response → JSON.
 * The schemas (`body`, `reply`, `query`) are what the route reads and answers, and what the OpenAPI
 * document at /api/openapi.json is generated from (rest/openapi.ts); a route without them is still
 * in the document, with its body described by its RPC's request message.
 */
export interface RestRoute<
  I extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> {
  verb: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  method: DescMethodUnary<I, O>;
  /** Success status (200 unless said). */
  status?: number;
  /** One line for the document (the RPC's name when absent). */
  summary?: string;
  /** The JSON body's schema: the body is parsed with it before `request` sees it. */
  body?: B;
  /**
   * Instead of `body`: the protobuf message `request` reads the body as (messageFromRestJson). With
   * neither, the body is documented as the RPC's request message less what the path supplies.
   */
  bodyMessage?: DescMessage;
  /** Query parameters beyond what a GET's request message names (documentation of `request`'s reads). */
  query?: z.ZodObject;
  /** The success body; `response` is checked against it by the compiler. */
  reply?: R;
  /** The media type of a success body that is not JSON (bytes, sent as they are). */
  replyMedia?: string;
  /** Error kinds this route answers beyond those every route of its shape can (see openapi.ts). */
  errors?: readonly ErrorKind[];
  request(p: Parsed<z.output<B>>): MessageInitShape<I>;
  response(
    res: MessageShape<O>,
    p: Parsed<z.output<B>>,
  ): { body?: z.input<R>; headers?: Record<string, string> };
}

/** Checks a route against its method's types and its schemas, then files it with the others. */
export function route<
  I extends DescMessage,
  O extends DescMessage,
  B extends z.ZodType = z.ZodType<Json>,
  R extends z.ZodType = z.ZodType<unknown>,
>(r: RestRoute<I, O, B, R>): RestRoute {
  return r as unknown as RestRoute;
}

interface CompiledRoute {
  route: RestRoute;
  segments: string[];
}

export type RouteMatch = { route: RestRoute; params: Record<string, string> } | "method_not_allowed";

/** A matcher over the routes, in order: the first route whose path and verb match wins. */
export function compileRoutes(routes: readonly RestRoute[]) {
  const compiled: CompiledRoute[] = routes.map((route) => ({
    route,
    segments: route.path.split("/").slice(1),
  }));
  return (verb: string, path: string): RouteMatch | undefined => {
    const parts = path.split("/").slice(1);
    let pathMatched = false;
    for (const c of compiled) {
      const params = matchSegments(c.segments, parts);
      if (!params) continue;
      pathMatched = true;
      if (c.route.verb === verb) return { route: c.route, params };
    }
    return pathMatched ? "method_not_allowed" : undefined;
  };
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = segments[i]!;
    if (seg.startsWith(":")) params[seg.slice(1)] = decodeURIComponent(parts[i]!);
    else if (seg !== parts[i]) return undefined;
  }
  return params;
}
