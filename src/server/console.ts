import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ENGINES } from "../engines/index.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/** The built console: dist/web next to the compiled server, or from the source tree (tests, tsx). */
function consoleDir(): string | undefined {
  for (const candidate of ["../web/", "../../dist/web/"]) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return undefined;
}

/** Every file of the build, read once: a small, fixed set, and no path from a request touches the disk. */
function loadFiles(dir: string): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else
        files.set(`/${relative(dir, full).split(sep).join("/")}`, {
          body: readFileSync(full),
          type: TYPES[extname(name)] ?? "application/octet-stream",
        });
    }
  };
  walk(dir);
  return files;
}

/**
 * The web console at `/`: static files, the page for every client-side route, and a small config
 * document (whether Google sign-in is on, and each engine's row of the engine table). A strict Content-Security-Policy: scripts only from
 * Berth (and Google Identity Services when configured), no inline script, no framing.
 */
export function createConsoleHandler(options: { googleClientId: string | undefined }) {
  // What the console needs to know of each engine comes from the engine tables themselves.
  const engines = Object.values(ENGINES).map((e) => ({
    id: e.id,
    label: e.label,
    defaultPort: e.defaultPort,
    databaseMeaning: e.databaseMeaning,
    sslModes: e.sslModes,
    defaultSslMode: e.defaultSslMode,
    supportsTlsServerName: e.supportsTlsServerName,
  }));
  const dir = consoleDir();
  const files = dir ? loadFiles(dir) : new Map();
  const google = options.googleClientId ? " https://accounts.google.com/gsi/" : "";
  const headers = {
    "content-security-policy": [
      "default-src 'self'",
      `script-src 'self'${google}`,
      `style-src 'self' 'unsafe-inline'${google}`,
      `connect-src 'self'${google}`,
      `frame-src${google || " 'none'"}`,
      "img-src 'self' data:",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };
  const config = Buffer.from(JSON.stringify({ googleClientId: options.googleClientId ?? null, engines }));

  return function serveConsole(
    req: Pick<IncomingMessage | Http2ServerRequest, "method">,
    res: {
      writeHead(status: number, headers: Record<string, string>): unknown;
      end(body: Buffer | string): unknown;
    },
    path: string,
  ): void {
    const send = (status: number, type: string, body: Buffer | string, cache: string) => {
      res.writeHead(status, { ...headers, "content-type": type, "cache-control": cache });
      res.end(req.method === "HEAD" ? "" : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(
        404,
        "application/json",
        '{"error":"not_found","message":"No such path","details":{}}',
        "no-store",
      );
      return;
    }
    const file = files.get(path === "/" ? "/index.html" : path);
    const index = files.get("/index.html");
    if (path === "/console/config.json") send(200, "application/json", config, "no-store");
    // Hashed assets never change; the page itself is always revalidated.
    else if (file)
      send(
        200,
        file.type,
        file.body,
        path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      );
    // A client-side route (no file extension) gets the page; anything else is a 404.
    else if (index && extname(path) === "") send(200, index.type, index.body, "no-cache");
    else if (!index && path === "/")
      send(
        404,
        "text/plain; charset=utf-8",
        "The web console is not built: run `npm run build` (it builds the server and the console).\n",
        "no-store",
      );
    else
      send(
        404,
        "application/json",
        '{"error":"not_found","message":"No such path","details":{}}',
        "no-store",
      );
  };
}
