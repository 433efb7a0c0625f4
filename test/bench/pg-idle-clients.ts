import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { connect, type Socket } from "node:net";
import { promisify } from "node:util";

/**
 * Many idle PostgreSQL clients, as cheap as a client can be: a raw socket that speaks the v3
 * startup (PostgreSQL docs, "Message Flow" and "Message Formats"), signs in with whatever the server
 * asks — trust, cleartext, MD5 or SCRAM-SHA-256 — waits for ReadyForQuery and then sends nothing.
 * What it costs the server to hold such a client is what the bench measures.
 */
export interface PgClientTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface IdleClients {
  /** Clients that reached ReadyForQuery. */
  readonly ready: number;
  readonly failed: number;
  /** The first failure's reason (server's SQLSTATE and message, or the socket error). */
  readonly firstError?: string;
  /** Ready clients the server has closed since. */
  dropped(): number;
  /** Resets every socket (no TIME_WAIT left on the bench's side to hold ephemeral ports). */
  close(): void;
}

const PROTOCOL_3 = 196608;

/** Opens `count` clients, `parallel` handshakes at a time; failures are counted, not thrown. */
export async function openIdleClients(
  target: PgClientTarget,
  count: number,
  parallel = 100,
): Promise<IdleClients> {
  const sockets: Socket[] = [];
  let failed = 0;
  let dropped = 0;
  let firstError: string | undefined;
  let next = 0;
  const scram = new ScramKeys(target.password);
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        next++;
        try {
          const s = await startup(target, scram);
          s.once("close", () => dropped++);
          sockets.push(s);
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  return {
    ready: sockets.length,
    failed,
    firstError,
    dropped: () => dropped,
    close() {
      for (const s of sockets) {
        s.removeAllListeners("close");
        s.resetAndDestroy();
      }
    },
  };
}

/** One client through startup and authentication to its first ReadyForQuery. */
function startup(target: PgClientTarget, scram: ScramKeys): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port });
    let buf = Buffer.alloc(0);
    let sasl: ScramExchange | undefined;
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error("no ReadyForQuery within 30 s")), 30_000);
    socket.once("error", fail);
    socket.once("close", () => fail(new Error("closed by the server during startup")));
    socket.once("connect", () => {
      socket.setNoDelay(true);
      socket.write(startupMessage(target.user, target.database));
    });
    const onMessage = async (type: string, body: Buffer) => {
      if (type === "E") throw new Error(errorText(body));
      if (type === "Z") {
        clearTimeout(timer);
        socket.removeAllListeners("close");
        socket.removeAllListeners("error");
        socket.removeAllListeners("data");
        // Idle from here; a later error or close (the server dropping it) is only counted.
        socket.on("error", () => {});
        socket.on("data", () => {});
        resolve(socket);
        return;
      }
      if (type !== "R") return; // ParameterStatus, BackendKeyData, NoticeResponse
      const code = body.readInt32BE(0);
      if (code === 0) return;
      if (code === 3) socket.write(message("p", cstring(target.password)));
      else if (code === 5) socket.write(message("p", cstring(md5Password(target, body.subarray(4, 8)))));
      else if (code === 10) {
        if (!body.subarray(4).toString().split("\0").includes("SCRAM-SHA-256"))
          throw new Error("server offers no SCRAM-SHA-256");
        sasl = new ScramExchange(scram);
        socket.write(sasl.initialResponse());
      } else if (code === 11) socket.write(await sasl!.finalMessage(body.subarray(4).toString()));
      else if (code === 12) sasl!.verifyServer(body.subarray(4).toString());
      else throw new Error(`unsupported authentication request ${code}`);
    };
    let chain = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
        const len = buf.readInt32BE(1);
        const type = String.fromCharCode(buf[0]!);
        const body = buf.subarray(5, 1 + len);
        buf = buf.subarray(1 + len);
        // In order: the SCRAM step awaits the (cached) key derivation.
        chain = chain.then(() => onMessage(type, body)).catch(fail);
      }
    });
  });
}

function startupMessage(user: string, database: string): Buffer {
  const params = Buffer.concat([
    cstring("user"),
    cstring(user),
    cstring("database"),
    cstring(database),
    cstring("application_name"),
    cstring("berth-bench-idle"),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + params.length, 0);
  head.writeInt32BE(PROTOCOL_3, 4);
  return Buffer.concat([head, params]);
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

const cstring = (s: string) => Buffer.from(`${s}\0`, "utf8");

/** "SQLSTATE message" from an ErrorResponse's fields (C, M). */
function errorText(body: Buffer): string {
  const fields: Record<string, string> = {};
  for (const f of body.toString("utf8").split("\0")) if (f) fields[f[0]!] = f.slice(1);
  return `${fields.C ?? "?????"} ${fields.M ?? "error"}`;
}

function md5Password(t: PgClientTarget, salt: Buffer): string {
  const inner = createHash("md5")
    .update(t.password + t.user)
    .digest("hex");
  return `md5${createHash("md5")
    .update(Buffer.concat([Buffer.from(inner), salt]))
    .digest("hex")}`;
}

const pbkdf2Async = promisify(pbkdf2);
const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/**
 * The password's SCRAM keys by salt and iteration count: one user's clients all get the same salt,
 * so ten thousand sign-ins derive the key once (PBKDF2 with 4096 rounds is the expensive part).
 */
class ScramKeys {
  private readonly cache = new Map<string, Promise<Buffer>>();
  constructor(private readonly password: string) {}
  salted(salt: string, iterations: number): Promise<Buffer> {
    const key = `${salt}:${iterations}`;
    let p = this.cache.get(key);
    if (!p) {
      // SASLprep is skipped: the bench's passwords are plain ASCII.
      p = pbkdf2Async(this.password, Buffer.from(salt, "base64"), iterations, 32, "sha256");
      this.cache.set(key, p);
    }
    return p;
  }
}

/** One SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), without channel binding ("n,,"). */
class ScramExchange {
  private readonly clientFirstBare = `n=,r=${randomBytes(18).toString("base64")}`;
  private serverSignature?: Buffer;
  constructor(private readonly keys: ScramKeys) {}

  initialResponse(): Buffer {
    const data = Buffer.from(`n,,${this.clientFirstBare}`);
    const len = Buffer.alloc(4);
    len.writeInt32BE(data.length, 0);
    return message("p", Buffer.concat([cstring("SCRAM-SHA-256"), len, data]));
  }

  async finalMessage(serverFirst: string): Promise<Buffer> {
    const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
    const clientNonce = this.clientFirstBare.slice(this.clientFirstBare.indexOf("r=") + 2);
    if (!attrs.r?.startsWith(clientNonce) || !attrs.s || !attrs.i) throw new Error("bad SCRAM server-first");
    const salted = await this.keys.salted(attrs.s, Number(attrs.i));
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    this.serverSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return message("p", Buffer.from(`${withoutProof},p=${proof.toString("base64")}`));
  }

  /** The server proves it knew the verifier too: a server that does not is not the one asked for. */
  verifyServer(serverFinal: string): void {
    const v = Buffer.from(serverFinal.replace(/^v=/, ""), "base64");
    if (!this.serverSignature || v.length !== 32 || !timingSafeEqual(v, this.serverSignature))
      throw new Error("SCRAM server signature does not match");
  }
}
