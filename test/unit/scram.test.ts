import { createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decoyVerifySecret,
  deriveScramVerifier,
  formatScramVerifier,
  makeScramVerifier,
  parseScramVerifier,
  ScramError,
  type ScramFailure,
  ScramServerExchange,
  type ScramVerifier,
  verifySecretWithVerifier,
} from "../../src/identity/scram.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

/** node-postgres's own SCRAM client, so the server side is checked against a real client. */
interface PgSaslSession {
  mechanism: string;
  clientNonce: string;
  response: string;
  message: string;
}
const sasl = createRequire(import.meta.url)("pg/lib/crypto/sasl.js") as {
  startSession(mechanisms: string[], stream?: object): PgSaslSession;
  continueSession(
    session: PgSaslSession,
    password: string,
    serverData: string,
    stream?: object,
  ): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
};

const PASSWORD = "correct horse battery staple";

function failure(fn: () => unknown): { reason: ScramFailure; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ScramError);
    const e = err as ScramError;
    return { reason: e.reason, message: e.message };
  }
  throw new Error("expected a ScramError");
}

/** One whole exchange with pg's client; `stream` makes pg send the "y,," header (TLS without -PLUS). */
async function signIn(verifier: ScramVerifier | undefined, password: string, stream?: object) {
  const client = sasl.startSession(["SCRAM-SHA-256"], stream);
  const server = new ScramServerExchange(verifier, "alice");
  const serverFirst = server.start(client.response);
  await sasl.continueSession(client, password, serverFirst, stream);
  const serverFinal = server.finish(client.response);
  sasl.finalizeSession(client, serverFinal);
  return { client, serverFirst, serverFinal };
}

let verifier: ScramVerifier;
beforeAll(async () => {
  verifier = parseScramVerifier(await makeScramVerifier(PASSWORD))!;
});

describe("SCRAM-SHA-256 verifiers", () => {
  it("are PostgreSQL's format and keep nothing that replays as the secret", async () => {
    const text = await makeScramVerifier(PASSWORD, 4096);
    expect(text).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(text).not.toContain(PASSWORD);
    const parsed = parseScramVerifier(text)!;
    expect(parsed.iterations).toBe(4096);
    expect(parsed.salt).toHaveLength(16);
    expect(formatScramVerifier(parsed)).toBe(text);
    // A fresh salt each time: the same password never gives the same verifier.
    expect(await makeScramVerifier(PASSWORD)).not.toBe(text);
  });

  it("check a cleartext secret", async () => {
    expect(await verifySecretWithVerifier(verifier, PASSWORD)).toBe(true);
    expect(await verifySecretWithVerifier(verifier, `${PASSWORD} `)).toBe(false);
    expect(await verifySecretWithVerifier(verifier, "")).toBe(false);
  });

  it("have a decoy check for names that are no account, which never holds", async () => {
    expect(await decoyVerifySecret(PASSWORD, "nobody")).toBe(false);
  });

  it("parse only the real thing", () => {
    const good = formatScramVerifier(verifier);
    for (const bad of [
      undefined,
      null,
      "",
      "md5abcdef",
      "scrypt$32768$8$1$abc$def",
      good.replace("SCRAM-SHA-256", "SCRAM-SHA-1"),
      good.replace("$4096:", "$0:"),
      good.replace("$4096:", "$-1:"),
      good.replace("$4096:", "$99999999999:"),
      good.replace("$4096:", "$:"),
      `${good}:x`,
      good.slice(0, -4),
      good.replace(/:([^:$]+)$/, ":AAAA"),
      good.replace("$4096:", "$4096:!!!!"),
    ]) {
      expect(parseScramVerifier(bad), String(bad)).toBeUndefined();
    }
  });

  it("refuse a silly iteration count instead of hanging", async () => {
    await expect(makeScramVerifier(PASSWORD, 0)).rejects.toThrow(RangeError);
    await expect(makeScramVerifier(PASSWORD, 1.5)).rejects.toThrow(RangeError);
  });
});

describe("the server side of a SCRAM exchange, with node-postgres as the client", () => {
  it("signs in with the right password, and the client accepts the server's signature", async () => {
    const { client, serverFirst, serverFinal } = await signIn(verifier, PASSWORD);
    expect(client.response).toMatch(/^c=biws,r=/);
    const nonce = /^r=([^,]+),s=([^,]+),i=4096$/.exec(serverFirst)!;
    expect(nonce[1]!.startsWith(client.clientNonce)).toBe(true);
    // At least 18 random bytes of server nonce, base64.
    expect(nonce[1]!.length - client.clientNonce.length).toBeGreaterThanOrEqual(24);
    expect(Buffer.from(nonce[2]!, "base64")).toEqual(verifier.salt);
    expect(serverFinal).toMatch(/^v=[A-Za-z0-9+/]{43}=$/);
  });

  it('accepts the "y,," header (the client could bind, thinks the server cannot) echoed as c=eSws', async () => {
    const { client } = await signIn(verifier, PASSWORD, {});
    expect(client.response).toMatch(/^c=eSws,r=/);
  });

  it("refuses a wrong password at the proof, saying neither the password nor the proof", async () => {
    const client = sasl.startSession(["SCRAM-SHA-256"]);
    const server = new ScramServerExchange(verifier);
    await sasl.continueSession(client, "wrong password", server.start(client.response));
    const proof = /,p=(.+)$/.exec(client.response)![1]!;
    const f = failure(() => server.finish(client.response));
    expect(f.reason).toBe("invalid_proof");
    expect(f.message).not.toContain(proof);
    expect(f.message).not.toContain("wrong password");
    // The exchange is over: the same object never gets a second try.
    expect(failure(() => server.finish(client.response)).reason).toBe("malformed");
  });

  it("runs an unknown account through the same exchange, failing only at the proof", async () => {
    const first = "n,,n=,r=abcdefghijklmnop";
    const s1 = new ScramServerExchange(undefined, "nobody").start(first);
    const s2 = new ScramServerExchange(undefined, "nobody").start(first);
    const s3 = new ScramServerExchange(undefined, "somebody").start(first);
    const salt = (s: string) => /,s=([^,]+),/.exec(s)![1];
    // Same shape as a real account's: a stable 16-byte salt per name, 4096 iterations.
    expect(s1).toMatch(/^r=abcdefghijklmnop[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096$/);
    expect(salt(s1)).toBe(salt(s2));
    expect(salt(s1)).not.toBe(salt(s3));
    // Whatever the password, the proof fails: pg's client goes all the way to the final message.
    const client = sasl.startSession(["SCRAM-SHA-256"]);
    const mock = new ScramServerExchange(undefined, "nobody");
    await sasl.continueSession(client, PASSWORD, mock.start(client.response));
    expect(failure(() => mock.finish(client.response)).reason).toBe("invalid_proof");
  });

  it("refuses channel binding it does not offer, with a reason a person can act on", () => {
    const f = failure(() => new ScramServerExchange(verifier).start("p=tls-server-end-point,,n=,r=abc"));
    expect(f.reason).toBe("channel_binding_unsupported");
    expect(f.message).toMatch(/channel_binding=/);
  });

  it("refuses malformed client-first-messages", () => {
    const bad = [
      "",
      "x,,n=,r=abc",
      "n",
      "n,",
      "n,a=someone,n=,r=abc",
      "n,x,n=,r=abc",
      "n,,m=ext,n=,r=abc",
      "n,,r=abc",
      "n,,n=",
      "n,,n=,r=",
      "n,,n=,r=ab,c",
      "n,,n=,r=ab c",
      "n,,n=,r=abc,1=x",
      `n,,n=,r=${"a".repeat(4096)}`,
    ];
    for (const message of bad) {
      expect(failure(() => new ScramServerExchange(verifier).start(message)).reason, message).toBe(
        "malformed",
      );
    }
    // Extensions after the nonce are ignored, as RFC 5802 asks.
    expect(new ScramServerExchange(verifier).start("n,,n=user,r=abc,x=ext")).toMatch(/^r=abc/);
    // Not a string at all (a driver handing over bytes by mistake) is malformed too, not a crash.
    expect(failure(() => new ScramServerExchange(verifier).start(42 as unknown as string)).reason).toBe(
      "malformed",
    );
  });

  it("refuses a client-final-message that does not follow from the first, or is out of order", async () => {
    const exchange = async () => {
      const client = sasl.startSession(["SCRAM-SHA-256"]);
      const server = new ScramServerExchange(verifier);
      await sasl.continueSession(client, PASSWORD, server.start(client.response));
      return { server, final: client.response };
    };
    const cases: Array<[string, (final: string) => string]> = [
      ["channel binding echo of another header", (m) => m.replace("c=biws", "c=eSws")],
      [
        "channel binding data",
        (m) => m.replace("c=biws", `c=${Buffer.from("p=tls-server-end-point,,x").toString("base64")}`),
      ],
      ["a changed nonce", (m) => m.replace(/,r=([^,]+)/, (_all, n: string) => `,r=${n.slice(0, -2)}AA`)],
      ["no proof", (m) => m.replace(/,p=.*$/, "")],
      ["a short proof", (m) => m.replace(/,p=.*$/, ",p=AAAA")],
      ["a proof that is not base64", (m) => m.replace(/,p=.*$/, ",p=!!!")],
      ["an attribute after the proof", (m) => `${m},x=1`],
      ["no c=", (m) => m.replace(/^c=biws,/, "")],
      ["an oversized message", (m) => m.replace(",p=", `,x=${"a".repeat(4096)},p=`)],
    ];
    for (const [what, change] of cases) {
      const { server, final } = await exchange();
      expect(failure(() => server.finish(change(final))).reason, what).toBe("malformed");
    }
    expect(failure(() => new ScramServerExchange(verifier).finish("c=biws,r=abc,p=AAAA")).reason).toBe(
      "malformed",
    );
    const started = new ScramServerExchange(verifier);
    started.start("n,,n=,r=abc");
    expect(failure(() => started.start("n,,n=,r=abc")).reason).toBe("malformed");
  });

  it("refuses a proof replayed into another exchange (fresh server nonce each time)", async () => {
    const { client } = await signIn(verifier, PASSWORD);
    const server = new ScramServerExchange(verifier);
    server.start(`n,,n=*,r=${client.clientNonce}`);
    expect(failure(() => server.finish(client.response)).reason).toBe("malformed");
  });

  it("ignores extensions in the client-final-message but signs them, as RFC 5802 says", async () => {
    // Built by hand: a client that adds an extension before the proof.
    const salted = pbkdf2Sync(PASSWORD, verifier.salt, verifier.iterations, 32, "sha256");
    const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();
    const clientNonce = randomBytes(18).toString("base64");
    const server = new ScramServerExchange(verifier);
    const serverFirst = server.start(`n,,n=,r=${clientNonce}`);
    const nonce = /^r=([^,]+)/.exec(serverFirst)![1]!;
    const withoutProof = `c=biws,r=${nonce},x=extension`;
    const authMessage = `n=,r=${clientNonce},${serverFirst},${withoutProof}`;
    const clientKey = hmac(salted, "Client Key");
    const signature = hmac(verifier.storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    const answer = server.finish(`${withoutProof},p=${proof.toString("base64")}`);
    expect(answer).toBe(`v=${hmac(hmac(salted, "Server Key"), authMessage).toString("base64")}`);
  });
});

const hasPostgres = await serviceAvailable("postgres");

/** PostgreSQL's own verifiers, read from pg_authid, against ours; a throwaway role, dropped after. */
describe.skipIf(!hasPostgres)("interoperability with PostgreSQL's SCRAM verifiers", () => {
  const role = `berth_scram_${randomBytes(4).toString("hex")}`;
  let db: pg.Client;

  beforeAll(async () => {
    db = new pg.Client({ ...LOCAL.postgres });
    await db.connect();
    await db.query("SET password_encryption = 'scram-sha-256'");
    await db.query(`CREATE ROLE ${role} LOGIN`);
  });
  afterAll(async () => {
    await db?.query(`DROP ROLE IF EXISTS ${role}`);
    await db?.end();
  });

  async function postgresVerifier(password: string): Promise<string> {
    await db.query(`ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(password)}`);
    const r = await db.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [role],
    );
    return r.rows[0]!.rolpassword;
  }

  /** The verifier we derive with PostgreSQL's salt and iterations: equal means the same keys. */
  async function oursWithItsSalt(theirs: ScramVerifier, password: string): Promise<string> {
    return formatScramVerifier(await deriveScramVerifier(password, theirs.salt, theirs.iterations));
  }

  // pgClient: whether node-postgres's client derives the same keys. It skips SASLprep's prohibition
  // check, so for a password with a prohibited character it differs from PostgreSQL (and libpq) —
  // against PostgreSQL itself as much as against Berth.
  it.each([
    ["ASCII", "p4ssw0rd-for-postgres", true],
    ["decomposed Unicode (NFKC by SASLprep)", "pa\u0308sswo\u0308rd", true],
    ["a non-ASCII space (mapped to a space)", "pass\u00A0word\u200B!", true],
    ["a soft hyphen (mapped to nothing)", "pass\u00ADword", true],
    ["a prohibited character (PostgreSQL then uses the raw bytes)", "pa\u0308ss\uE000word", false],
    ["a service token", `berth_t_${randomBytes(32).toString("base64url")}`, true],
  ])(
    "PostgreSQL's verifier of a password with %s is accepted, and ours is the same",
    async (_what, password, pgClient) => {
      const text = await postgresVerifier(password);
      const theirs = parseScramVerifier(text);
      expect(theirs).toBeDefined();
      expect(await verifySecretWithVerifier(theirs!, password)).toBe(true);
      expect(await verifySecretWithVerifier(theirs!, `${password}x`)).toBe(false);
      expect(await oursWithItsSalt(theirs!, password)).toBe(text);
      // And node-postgres signs in against it through our exchange.
      if (pgClient) await signIn(theirs, password);
    },
  );

  it("PostgreSQL takes a verifier we made as a verifier (stores it as is, no re-hash)", async () => {
    const ours = await makeScramVerifier(PASSWORD);
    await db.query(`ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(ours)}`);
    const r = await db.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role]);
    expect(r.rows[0].rolpassword).toBe(ours);
  });
});

/** The strongest check: a PostgreSQL cluster that enforces scram-sha-256 lets pg sign in with our verifier. */
describe.skipIf(!postgresBinDir())("a verifier Berth made, in a PostgreSQL that enforces SCRAM", () => {
  let cluster: ThrowawayPostgres | undefined;
  afterAll(async () => {
    await cluster?.destroy();
  });

  it("signs node-postgres in with the password, and refuses another", async () => {
    cluster = await startThrowawayPostgres();
    const secret = "pa\u0308ssword made by Berth";
    await cluster.sql(`CREATE ROLE berth_scram LOGIN PASSWORD '${await makeScramVerifier(secret)}'`);
    const connect = async (password: string) => {
      const c = new pg.Client({
        host: cluster!.host,
        port: cluster!.port,
        user: "berth_scram",
        password,
        database: "postgres",
      });
      try {
        await c.connect();
        return (await c.query("SELECT current_user AS u")).rows[0].u as string;
      } finally {
        await c.end().catch(() => {});
      }
    };
    expect(await connect(secret)).toBe("berth_scram");
    await expect(connect("wrong password")).rejects.toMatchObject({ code: "28P01" });
  });
});
