import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { issueCertificate, makeCertificates } from "../support/certs.js";

// Exactly what `npm start` runs: the compiled build (made once by test/support/global-setup.ts).
// Under tsx, tsx's own signal relay would kill the process on SIGTERM before Berth could drain,
// which is one reason start does not use it.

/** Berth as a real process, started the way `npm start` starts it. */
function spawnBerth(dataDir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--enable-source-maps", "dist/main.js"], {
    env: { ...process.env, BERTH_PORT: "0", BERTH_DATA_DIR: dataDir, BERTH_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr += c));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${stdout}\n${stderr}`)), 20_000);
    child.stdout!.on("data", () => {
      const m = /"url":"(https?:\/\/[^"]+)"/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, url, exited, out: () => stdout, err: () => stderr };
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

describe("the berth process", () => {
  it("announces a generated admin password once, which works, and stops cleanly on SIGTERM", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "berth-proc-"));
    try {
      const first = spawnBerth(dataDir);
      children.push(first.child);
      const url = await first.url;
      const password = /password: (\S+)/.exec(first.err())?.[1];
      expect(password, first.err()).toBeTruthy();
      // The generated password is for the operator's eyes on stderr, never in the JSON log.
      expect(first.out()).not.toContain(password!);
      const login = await fetch(`${url}/api/auth/login`, {
        method: "POST",
        body: JSON.stringify({ username: "admin", password }),
      });
      expect(login.status).toBe(200);
      first.child.kill("SIGTERM");
      expect(await first.exited).toBe(0);
      expect(first.out()).toContain("berth stopped");

      const second = spawnBerth(dataDir);
      children.push(second.child);
      await second.url;
      expect(second.err()).not.toContain("password:");
      second.child.kill("SIGINT");
      expect(await second.exited).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses to start on bad configuration, naming the variable", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "berth-proc-"));
    const bad = spawnBerth(dataDir, { BERTH_PORT: "99999" });
    await bad.url.catch(() => {});
    expect(await bad.exited).toBe(78);
    expect(bad.err()).toMatch(/BERTH_PORT/);
    await rm(dataDir, { recursive: true, force: true });
  });
});

describe("TLS on the berth process", () => {
  it("picks up a renewed certificate on SIGHUP without dropping the port", async () => {
    const certs = makeCertificates();
    const first = issueCertificate(certs, "proc-1", { cn: "localhost", dns: ["localhost"] });
    const second = issueCertificate(certs, "proc-2", { cn: "localhost", dns: ["localhost"] });
    const live = { cert: `${certs.dir}/live.crt`, key: `${certs.dir}/live.key` };
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    const dataDir = await mkdtemp(join(tmpdir(), "berth-proc-tls-"));
    try {
      const p = spawnBerth(dataDir, {
        BERTH_ADMIN_PASSWORD: "process-tls-password-1",
        BERTH_TLS_CERT_FILE: live.cert,
        BERTH_TLS_KEY_FILE: live.key,
      });
      children.push(p.child);
      const port = Number(new URL(await p.url).port);
      const serial = () =>
        new Promise<string>((resolve, reject) => {
          const s = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ca: certs.caPem }, () => {
            resolve(s.getPeerCertificate().serialNumber);
            s.end();
          });
          s.on("error", reject);
        });
      expect(await serial()).toBe(new X509Certificate(first.certPem).serialNumber);
      copyFileSync(second.cert, live.cert);
      copyFileSync(second.key, live.key);
      p.child.kill("SIGHUP");
      await expect.poll(() => p.out(), { timeout: 5000 }).toContain("tls certificate reloaded");
      expect(await serial()).toBe(new X509Certificate(second.certPem).serialNumber);
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
