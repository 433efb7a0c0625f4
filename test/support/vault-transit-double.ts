import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";

/**
 * A test double of HashiCorp Vault's transit secrets engine, written from Vault's public HTTP API
 * documentation (/v1/<mount>/encrypt|decrypt|rewrap|hmac|verify/:name, keys/:name, keys/:name/rotate,
 * keys/:name/config, auth/approle/login). What it reproduces, because Berth depends on it:
 * - ciphertexts `vault:v<N>:<base64>`, AES-256-GCM with `associated_data` authenticated (AEAD);
 * - key versions, rotation, `min_decryption_version` ("ciphertext or signature version is
 *   disallowed by policy (too old)"), and rewrap to the latest version;
 * - `{"errors": [...]}` bodies: 400 for bad input or a failed authentication tag, 403 "permission
 *   denied" for a bad token, 404 for a missing key, 503 "Vault is sealed";
 * - hmac: `{"input": <base64>}` → `{"data": {"hmac": "vault:v<latest>:<base64>"}}`, under a MAC key of
 *   its own per version (Vault's HMAC key is not the encryption key); verify: `{"input", "hmac"}` →
 *   `{"data": {"valid": true|false}}`, 400 for a malformed MAC or a version below min_decryption_version;
 * - encrypt creating a missing key on the fly (transit's upsert), which is why Berth checks first;
 * - X-Vault-Token and X-Vault-Namespace headers; AppRole login returning a client token.
 * It is not Vault: no policies, leases, storage or convergent/derived keys.
 */
export interface VaultDouble {
  url: string;
  port: number;
  token: string;
  /** TLS handshakes that failed (a client that does not trust the certificate). */
  tlsFailures: number;
  /** Requests seen, for assertions (method, path, namespace header). */
  requests: { method: string; path: string; namespace: string | undefined }[];
  /** A transit key; `rsa-2048` stands for a key type that takes no associated data. */
  createKey(name: string, type?: "aes256-gcm96" | "rsa-2048"): void;
  seal(): void;
  unseal(): void;
  /** Stops listening (connections refused) and, on start(), listens on the same port again. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Answer every request after this many milliseconds (a slow or black-holed Vault). */
  delayMs: number;
  /** Invalidate every token AppRole issued so far (as token expiry does); the root token stays. */
  expireTokens(): void;
  approle: { roleId: string; secretId: string };
  close(): Promise<void>;
}

interface Key {
  type: "aes256-gcm96" | "rsa-2048";
  versions: Map<number, Buffer>;
  latest: number;
  minDecryption: number;
}

export async function startVaultDouble(
  options: { token?: string; mount?: string; tls?: { cert: string; key: string } } = {},
): Promise<VaultDouble> {
  const mount = options.mount ?? "transit";
  const keys = new Map<string, Key>();
  const rootToken = options.token ?? "double-root-token";
  const tokens = new Set<string>();
  const approle = { roleId: randomUUID(), secretId: randomUUID() };
  let sealed = false;
  const requests: VaultDouble["requests"] = [];
  const sockets = new Set<Socket>();

  const newKey = (): Key => ({
    type: "aes256-gcm96",
    versions: new Map([[1, randomBytes(32)]]),
    latest: 1,
    minDecryption: 1,
  });
  const info = (name: string, k: Key) => ({
    name,
    type: "aes256-gcm96",
    latest_version: k.latest,
    min_decryption_version: k.minDecryption,
    min_encryption_version: 0,
    keys: Object.fromEntries([...k.versions.keys()].map((v) => [String(v), 1_700_000_000 + v])),
    derived: false,
    deletion_allowed: false,
    supports_encryption: true,
    supports_decryption: true,
  });
  const seal = (k: Key, version: number, plaintext: Buffer, ad: Buffer) => {
    const nonce = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", k.versions.get(version)!, nonce);
    c.setAAD(ad);
    const body = Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
    return `vault:v${version}:${body.toString("base64")}`;
  };
  /** Opens a ciphertext, or returns Vault's error text. */
  const open = (k: Key, ciphertext: unknown, ad: Buffer): Buffer | string => {
    if (typeof ciphertext !== "string" || !ciphertext.startsWith("vault:"))
      return "invalid ciphertext: no prefix";
    const m = /^vault:v(\d+):(.*)$/.exec(ciphertext);
    if (!m) return "invalid ciphertext: wrong number of fields";
    const version = Number(m[1]);
    if (version < k.minDecryption) return "ciphertext or signature version is disallowed by policy (too old)";
    if (version > k.latest || !k.versions.has(version)) return "invalid ciphertext: version is too new";
    const body = Buffer.from(m[2]!, "base64");
    if (body.length < 28) return "invalid ciphertext: unable to decrypt";
    try {
      const d = createDecipheriv("aes-256-gcm", k.versions.get(version)!, body.subarray(0, 12));
      d.setAAD(ad);
      d.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]);
    } catch {
      return "cipher: message authentication failed";
    }
  };

  const double: VaultDouble = {
    url: "",
    port: 0,
    token: rootToken,
    requests,
    tlsFailures: 0,
    approle,
    delayMs: 0,
    createKey: (name, type = "aes256-gcm96") => keys.set(name, { ...newKey(), type }),
    seal: () => {
      sealed = true;
    },
    unseal: () => {
      sealed = false;
    },
    expireTokens: () => tokens.clear(),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
    start: async () => {
      await new Promise<void>((r) => server.listen(double.port, "127.0.0.1", r));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (double.delayMs > 0) await new Promise((r) => setTimeout(r, double.delayMs));
    const path = (req.url ?? "").split("?")[0]!;
    const ns = req.headers["x-vault-namespace"];
    requests.push({ method: req.method ?? "", path, namespace: typeof ns === "string" ? ns : undefined });
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, ...errors: string[]) => reply(status, { errors });
    if (sealed) return fail(503, "Vault is sealed");
    let body: Record<string, unknown> = {};
    try {
      body = chunks.length
        ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>)
        : {};
    } catch {
      return fail(400, "failed to parse JSON input");
    }
    if (path === "/v1/auth/approle/login" && req.method === "POST") {
      if (body.role_id !== approle.roleId || body.secret_id !== approle.secretId)
        return fail(400, "invalid role or secret ID");
      const token = `hvs.${randomBytes(12).toString("hex")}`;
      tokens.add(token);
      return reply(200, { auth: { client_token: token, lease_duration: 3600, renewable: true } });
    }
    const token = String(req.headers["x-vault-token"] ?? "");
    if (token !== rootToken && !tokens.has(token)) return fail(403, "permission denied");
    const prefix = `/v1/${mount}/`;
    if (!path.startsWith(prefix)) return fail(404, `no handler for route "${path.slice(4)}"`);
    const [op, name, sub] = path.slice(prefix.length).split("/").map(decodeURIComponent);
    if (!name) return fail(400, "missing key name");
    const ad = Buffer.from(typeof body.associated_data === "string" ? body.associated_data : "", "base64");
    if (op === "keys") {
      const k = keys.get(name);
      if (!k) return fail(404);
      if (req.method === "GET" && !sub) return reply(200, { data: info(name, k) });
      if (req.method === "POST" && sub === "rotate") {
        k.latest++;
        k.versions.set(k.latest, randomBytes(32));
        return reply(200, { data: info(name, k) });
      }
      if (req.method === "POST" && sub === "config") {
        const min = Number(body.min_decryption_version ?? k.minDecryption);
        if (!Number.isInteger(min) || min < 1 || min > k.latest)
          return fail(400, "cannot set min decryption version above the latest version");
        k.minDecryption = min;
        return reply(200, { data: info(name, k) });
      }
      return fail(405, "unsupported operation");
    }
    if (req.method !== "POST") return fail(405, "unsupported operation");
    if (op === "encrypt") {
      if (typeof body.plaintext !== "string") return fail(400, "missing plaintext to encrypt");
      // Transit creates a missing key on encrypt (upsert) unless policy forbids it.
      const k = keys.get(name) ?? keys.set(name, newKey()).get(name)!;
      // Only AEAD key types authenticate associated data; Vault refuses it for the others.
      if (k.type !== "aes256-gcm96" && typeof body.associated_data === "string")
        return fail(400, `key type ${k.type} does not support associated data`);
      return reply(200, {
        data: {
          ciphertext: seal(k, k.latest, Buffer.from(body.plaintext, "base64"), ad),
          key_version: k.latest,
        },
      });
    }
    const k = keys.get(name);
    if (!k) return fail(400, "encryption key not found");
    if (op === "hmac" || op === "verify") return macOp(op, k, body, reply, fail);
    const opened = open(k, body.ciphertext, ad);
    if (typeof opened === "string") return fail(400, opened);
    if (op === "decrypt") return reply(200, { data: { plaintext: opened.toString("base64") } });
    if (op === "rewrap")
      return reply(200, { data: { ciphertext: seal(k, k.latest, opened, ad), key_version: k.latest } });
    return fail(404, `no handler for route "${path.slice(4)}"`);
  };

  /** HMAC-SHA-256 under a per-version MAC key derived from the key material. */
  const hmacOf = (k: Key, version: number, input: Buffer) =>
    createHmac("sha256", createHash("sha256").update("hmac").update(k.versions.get(version)!).digest())
      .update(input)
      .digest();
  const macOp = (
    op: "hmac" | "verify",
    k: Key,
    body: Record<string, unknown>,
    reply: (status: number, body: unknown) => void,
    fail: (status: number, ...errors: string[]) => void,
  ) => {
    if (typeof body.input !== "string") return fail(400, "missing input for HMAC");
    const input = Buffer.from(body.input, "base64");
    if (op === "hmac")
      return reply(200, {
        data: { hmac: `vault:v${k.latest}:${hmacOf(k, k.latest, input).toString("base64")}` },
      });
    const m = typeof body.hmac === "string" ? /^vault:v(\d+):(.+)$/.exec(body.hmac) : null;
    if (!m) return fail(400, "invalid HMAC: wrong number of fields");
    const version = Number(m[1]);
    if (version < k.minDecryption)
      return fail(400, "ciphertext or signature version is disallowed by policy (too old)");
    if (!k.versions.has(version)) return fail(400, "invalid HMAC: version is too new");
    const given = Buffer.from(m[2]!, "base64");
    const expected = hmacOf(k, version, input);
    return reply(200, {
      data: { valid: given.length === expected.length && timingSafeEqual(given, expected) },
    });
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      res.writeHead(500);
      res.end('{"errors":["internal error"]}');
    });
  };
  // With TLS (a certificate for "localhost"), as Vault is run in production.
  const server: Server = options.tls
    ? createHttpsServer(
        { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) },
        listener,
      )
    : createServer(listener);
  server.on("tlsClientError", () => {
    double.tlsFailures++;
  });
  server.on(options.tls ? "secureConnection" : "connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  double.port = (server.address() as { port: number }).port;
  double.url = options.tls ? `https://localhost:${double.port}` : `http://127.0.0.1:${double.port}`;
  return double;
}
