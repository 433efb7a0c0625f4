import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// Real processes from the compiled build (made once by test/support/global-setup.ts), as `npm start`.
function spawnBerth(dataDir: string) {
  const child = spawn(process.execPath, ["dist/main.js"], {
    env: {
      ...process.env,
      BERTH_PORT: "0",
      BERTH_DATA_DIR: dataDir,
      BERTH_ADMIN_PASSWORD: "second-process-admin-pw",
      BERTH_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const m = /"url":"(http:\/\/[^"]+)"/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  url.catch(() => {});
  return { child, url, exited, err: () => stderr };
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

describe("a second Berth process on the same SQLite data directory", () => {
  it("is refused at start with a clear message; a crashed holder's lock is taken over", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "berth-second-"));
    try {
      const first = spawnBerth(dataDir);
      const url = await first.url;

      const second = spawnBerth(dataDir);
      const t0 = Date.now();
      expect(await second.exited).toBe(1);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(second.err()).toContain(`berth failed to start: Another Berth (pid ${first.child.pid} on `);
      expect(second.err()).toContain(`is using the data directory ${dataDir}`);
      // The first one was not disturbed.
      expect((await fetch(`${url}/readyz`)).status).toBe(200);

      // Killed without a chance to clean up: its lock file stays, and the next start takes it over.
      first.child.kill("SIGKILL");
      await first.exited;
      expect(existsSync(join(dataDir, "berth.lock"))).toBe(true);
      const third = spawnBerth(dataDir);
      const url3 = await third.url;
      expect((await fetch(`${url3}/readyz`)).status).toBe(200);
      third.child.kill("SIGTERM");
      expect(await third.exited).toBe(0);
      expect(existsSync(join(dataDir, "berth.lock"))).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
