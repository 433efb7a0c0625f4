import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { lockDataDir } from "./data-dir-lock.js";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";

export type Db = Kysely<Database>;

export interface Store {
  readonly db: Db;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  /**
   * After values were overwritten in bulk (clear settings sealed): the old versions of their pages
   * would otherwise stay in the write-ahead log until it is reused. Moves the log into the file,
   * where secure_delete zeroes what was freed, and empties it.
   */
  compactJournal(): Promise<void>;
  close(): Promise<void>;
}

export const SQLITE_FILE = "berth.sqlite";

/**
 * The store holds password hashes, sealed credentials and the audit log: owner-only, whatever the
 * umask. SQLite creates the -wal and -shm files with the main file's mode, so the main file is
 * created 0600 before SQLite opens it; files an older version left behind are tightened too.
 */
function ownerOnlyFiles(file: string): void {
  closeSync(openSync(file, "a", 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/**
 * The embedded store: one SQLite file under the data directory. Everything SQLite-specific stays in
 * this function (pragmas, the dialect); repositories speak Kysely and work on any dialect.
 */
export async function openSqliteStore(dataDir: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Before SQLite opens the file: a second process would otherwise start and then fail calls with
  // "database is locked" under load.
  const unlock = lockDataDir(dataDir);
  try {
    return await openSqliteFile(join(dataDir, SQLITE_FILE), unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function openSqliteFile(file: string, unlock: () => void): Promise<Store> {
  ownerOnlyFiles(file);
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  // Deleted secrets should not linger in free pages of the file.
  sqlite.pragma("secure_delete = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    await migrateToLatest(db as Kysely<unknown>);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return {
    db,
    async ping() {
      sqlite.prepare("select 1").get();
    },
    async compactJournal() {
      sqlite.pragma("wal_checkpoint(TRUNCATE)");
    },
    async close() {
      await db.destroy();
      unlock();
    },
  };
}
