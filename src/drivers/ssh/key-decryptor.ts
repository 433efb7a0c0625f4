import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * Decrypts an encrypted OpenSSH private key (bcrypt KDF) in a worker thread and hands back the same
 * key unencrypted (openssh-key-v1, cipher and kdf "none"), which ssh2 then parses at once: the
 * KDF's seconds are spent off the main thread, which keeps serving. One worker per key, ended when
 * it answers or at the timeout (bcrypt cannot be interrupted otherwise).
 */
const require = createRequire(import.meta.url);
const ssh2Dir = require.resolve("ssh2").replace(/lib[\\/]index\.js$/, "");
const paths = {
  cipherInfo: `${ssh2Dir}lib/protocol/crypto.js`,
  bcrypt: createRequire(`${ssh2Dir}package.json`).resolve("bcrypt-pbkdf"),
};

/** CommonJS, run with eval: no file to ship next to the compiled module. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { createDecipheriv } = require("node:crypto");
const { CIPHER_INFO } = require(workerData.paths.cipherInfo);
const { pbkdf } = require(workerData.paths.bcrypt);
function str(buf, at) {
  if (at + 4 > buf.length) throw new Error("malformed");
  const n = buf.readUInt32BE(at);
  if (at + 4 + n > buf.length) throw new Error("malformed");
  return [buf.subarray(at + 4, at + 4 + n), at + 4 + n];
}
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const sshString = (b) => Buffer.concat([u32(b.length), b]);
try {
  const data = Buffer.from(workerData.body, "base64");
  let at = 15;
  let cipher, kdfOptions, blob;
  [cipher, at] = str(data, at);
  [, at] = str(data, at);
  [kdfOptions, at] = str(data, at);
  const [salt, next] = str(kdfOptions, 0);
  const rounds = kdfOptions.readUInt32BE(next);
  const count = data.readUInt32BE(at);
  const publicStart = at;
  at += 4;
  for (let i = 0; i < count; i++) [, at] = str(data, at);
  const publics = data.subarray(publicStart, at);
  [blob, at] = str(data, at);
  const info = CIPHER_INFO[cipher.toString("latin1")];
  if (!info) throw new Error("malformed");
  const pass = Buffer.from(workerData.passphrase);
  const derived = Buffer.alloc(info.keyLen + info.ivLen);
  if (pbkdf(pass, pass.length, salt, salt.length, derived, derived.length, rounds) !== 0) throw new Error("malformed");
  const decipher = createDecipheriv(info.sslName, derived.subarray(0, info.keyLen), derived.subarray(info.keyLen), { authTagLength: info.authLen });
  decipher.setAutoPadding(false);
  if (info.authLen > 0) decipher.setAuthTag(data.subarray(at, at + info.authLen));
  const plain = Buffer.concat([decipher.update(blob), decipher.final()]);
  if (plain.length < 8 || plain.readUInt32BE(0) !== plain.readUInt32BE(4)) {
    parentPort.postMessage({ wrongPassphrase: true });
  } else {
    const none = sshString(Buffer.from("none"));
    const out = Buffer.concat([data.subarray(0, 15), none, none, sshString(Buffer.alloc(0)), publics, sshString(plain)]);
    parentPort.postMessage({ body: out.toString("base64") });
  }
} catch (err) {
  // An auth tag that does not match (aes-gcm) is a wrong passphrase too; anything else, ssh2 says.
  parentPort.postMessage(/auth/i.test(String(err && err.message)) ? { wrongPassphrase: true } : { failed: true });
}
`;

export type Decrypted =
  | { unencrypted: string }
  | { wrongPassphrase: true }
  | { failed: true }
  | { timedOut: true };

/**
 * At most this many decryptions at once; the rest wait their turn. Each is up to 64 bcrypt rounds of
 * CPU in its own thread: many requests at once with different encrypted keys must not start a thread
 * apiece and take every core from the event loop.
 */
const MAX_CONCURRENT_DECRYPTIONS = 2;
let running = 0;
const waiting: (() => void)[] = [];

/** Decryption threads running now (for the tests of the bound). */
export function decryptionsRunning(): number {
  return running;
}

/** `body`: the key's base64 between the armor lines (a sound header, checked by the caller). */
export async function decryptInWorker(
  body: string,
  passphrase: string,
  timeoutMs: number,
): Promise<Decrypted> {
  // A slot is handed straight to the next waiter, so no newcomer slips in between.
  if (running < MAX_CONCURRENT_DECRYPTIONS) running++;
  else await new Promise<void>((go) => waiting.push(go));
  try {
    return await decryptNow(body, passphrase, timeoutMs);
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function decryptNow(body: string, passphrase: string, timeoutMs: number): Promise<Decrypted> {
  return new Promise((resolve) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { body, passphrase, paths } });
    const timer = setTimeout(() => {
      resolve({ timedOut: true });
      void worker.terminate();
    }, timeoutMs);
    const done = (answer: Decrypted) => {
      clearTimeout(timer);
      resolve(answer);
      void worker.terminate();
    };
    worker.once("message", (m: { body?: string; wrongPassphrase?: boolean }) => {
      if (m.body) {
        const lines = m.body.match(/.{1,70}/g) ?? [];
        done({
          unencrypted: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----`,
        });
      } else if (m.wrongPassphrase) done({ wrongPassphrase: true });
      else done({ failed: true });
    });
    worker.once("error", () => done({ failed: true }));
  });
}
