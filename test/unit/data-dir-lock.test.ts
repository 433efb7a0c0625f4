import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startBerth } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { DataDirLockedError, LOCK_FILE, lockDataDir } from "../../src/store/data-dir-lock.js";
import { openSqliteStore } from "../../src/store/store.js";

/** A pid that was alive a moment ago and is not any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}

const holderFile = (dir: string, holder: object) =>
  writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(holder)}\n`, { mode: 0o600 });

describe("the data directory lock", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "berth-lock-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is held while the store is open, refuses a second store, and goes with close", async () => {
    const store = await openSqliteStore(dir);
    const file = join(dir, LOCK_FILE);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = await openSqliteStore(dir).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(DataDirLockedError);
    expect((second as Error).message).toContain(`pid ${process.pid}`);
    expect((second as Error).message).toContain("BERTH_STORE_URL");
    await store.close();
    expect(existsSync(file)).toBe(false);
    const again = await openSqliteStore(dir);
    await again.close();
    // No temporary or set-aside files are left behind.
    expect(readdirSync(dir).filter((f) => f.startsWith(LOCK_FILE))).toEqual([]);
  });

  it("takes over a lock whose process is gone, or that cannot be read", () => {
    holderFile(dir, { pid: deadPid(), host: hostname(), startedAt: "2026-01-01T00:00:00.000Z" });
    const release = lockDataDir(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid).toBe(process.pid);
    release();
    writeFileSync(join(dir, LOCK_FILE), "{not json");
    lockDataDir(dir)();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("takes over its own pid from an earlier run (a container's PID 1), but not its own live lock", () => {
    holderFile(dir, { pid: process.pid, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z" });
    const release = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    release();
  });

  it("refuses while the holder is alive, here or on another host", () => {
    // pid 1 is always alive (a kill(1, 0) answers EPERM or succeeds).
    holderFile(dir, { pid: 1, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z" });
    expect(() => lockDataDir(dir)).toThrow(/Another Berth \(pid 1 on .*remove .*berth\.lock/);
    holderFile(dir, { pid: deadPid(), host: "elsewhere.example", startedAt: "2026-01-01T00:00:00.000Z" });
    expect(() => lockDataDir(dir)).toThrow(/pid \d+ on elsewhere\.example/);
  });

  it("is let go by a start that fails after opening the store (its port is taken)", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as AddressInfo).port;
    const config = (p: number) =>
      loadConfig({ BERTH_PORT: String(p), BERTH_DATA_DIR: dir, BERTH_ADMIN_PASSWORD: "lock-admin-password" });
    const silent = { logDestination: new Writable({ write: (_c, _e, cb) => cb() }) };
    try {
      await expect(startBerth(config(port), silent)).rejects.toThrow(/EADDRINUSE/);
    } finally {
      taken.close();
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const berth = await startBerth(config(0), silent);
    await berth.close();
  });

  it("does not remove a lock another process took over after it", () => {
    const release = lockDataDir(dir);
    holderFile(dir, { pid: 1, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z" });
    release();
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid).toBe(1);
  });
});
