import { closeSync, openSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore, SQLITE_FILE } from "../../src/store/store.js";

const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);
const files = (dir: string) => ["", "-wal", "-shm"].map((s) => join(dir, SQLITE_FILE + s));

describe("the SQLite store's files", () => {
  let dir: string;
  let umask: number;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-store-mode-"));
    // The usual login umask, which leaves new files world-readable unless the store says otherwise.
    umask = process.umask(0o022);
  });
  afterEach(async () => {
    process.umask(umask);
    await rm(dir, { recursive: true, force: true });
  });

  it("are 0600 after start and after writes (berth.sqlite, -wal, -shm)", async () => {
    const store = await openSqliteStore(dir);
    try {
      expect(files(dir).map(mode)).toEqual(["600", "600", "600"]);
      await store.db.schema.createTable("mode_probe").addColumn("x", "text").execute();
      await store.db
        // A write that goes through the WAL.
        .insertInto("mode_probe" as never)
        .values({ x: "y".repeat(10_000) } as never)
        .execute();
      expect(files(dir).map(mode)).toEqual(["600", "600", "600"]);
    } finally {
      await store.close();
    }
  });

  it("tightens files an older version left readable", async () => {
    closeSync(openSync(files(dir)[0]!, "w", 0o644));
    const store = await openSqliteStore(dir);
    await store.close();
    expect(mode(files(dir)[0]!)).toBe("600");
  });
});
