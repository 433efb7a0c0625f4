import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";

export type Json = Record<string, unknown>;

/** What a route reads from a request: path parameters, query, JSON body and headers. */
export interface Parsed {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Json;
  header: Headers;
}

/** One REST path and verb mapped onto one unary RPC: JSON → request message, response → JSON. */
export interface RestRoute<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  verb: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  method: DescMethodUnary<I, O>;
  /** Success status (200 unless said). */
  status?: number;
  request(p: Parsed): MessageInitShape<I>;
  response(res: MessageShape<O>, p: Parsed): { body?: unknown; headers?: Record<string, string> };
}

/** Checks a route against its method's types, then files it with the others. */
export function route<I extends DescMessage, O extends DescMessage>(r: RestRoute<I, O>): RestRoute {
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
