import { randomBytes } from "node:crypto";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import pg from "pg";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore, SQLITE_FILE, type Store } from "../../src/store/store.js";
import { LOCAL } from "./services.js";
import { storeFiles } from "./store-bytes.js";

/**
 * Which store the suites run on: SQLite in each test's data directory (the default), or, under
 * BERTH_TEST_STORE=postgres (the "postgres" vitest project), a fresh PostgreSQL database per data
 * directory on the local server (127.0.0.1:5432, trust, user postgres). The data directory still
 * exists there: the keyring file and the audit checkpoints live in it.
 */
export const TEST_STORE: "sqlite" | "postgres" =
  process.env.BERTH_TEST_STORE === "postgres" ? "postgres" : "sqlite";
export const onPostgresStore = TEST_STORE === "postgres";

const { host, port, user } = LOCAL.postgres;

/** The database of each data directory, so that a Berth restarted on the directory finds its store. */
const databases = new Map<string, string>();

async function asAdmin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host, port, user, database: "postgres" });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

function urlOf(database: string): string {
  return `postgres://${user}@${host}:${port}/${database}`;
}

async function createDatabase(): Promise<string> {
  const name = `berth_test_${randomBytes(6).toString("hex")}`;
  await asAdmin((c) => c.query(`create database ${name}`));
  return name;
}

const dropDatabase = (name: string) =>
  asAdmin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {});

/**
 * A fresh PostgreSQL database for a shared store, whichever store the run is on (several Berths
 * on one store must share it through PostgreSQL: a SQLite data directory takes one).
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = await createDatabase();
  return { url: urlOf(name), drop: () => dropDatabase(name) };
}

/** The store URL for a data directory, creating its database on first use (undefined on SQLite). */
export async function testStoreUrl(dataDir: string): Promise<string | undefined> {
  if (!onPostgresStore) return undefined;
  let name = databases.get(dataDir);
  if (!name) {
    name = await createDatabase();
    databases.set(dataDir, name);
  }
  return urlOf(name);
}

/** The master key of each data directory's store: shared mode keeps the keyring in the store, wrapped by it. */
const masterKeys = new Map<string, string>();

/**
 * The environment that points a Berth on `dataDir` at its test store ({} on SQLite), with the
 * master key shared mode requires (the same for every Berth on that directory).
 */
export async function testStoreEnv(dataDir: string): Promise<Record<string, string>> {
  const url = await testStoreUrl(dataDir);
  if (!url) return {};
  let key = masterKeys.get(dataDir);
  if (!key) {
    key = randomBytes(32).toString("base64");
    masterKeys.set(dataDir, key);
  }
  return { BERTH_STORE_URL: url, BERTH_MASTER_KEY: key };
}

/** Drops the data directory's database, if it has one (its stores must be closed). */
export async function dropTestStore(dataDir: string): Promise<void> {
  const name = databases.get(dataDir);
  if (!name) return;
  databases.delete(dataDir);
  await dropDatabase(name);
}

/** Every database this test file made and did not drop (the postgres project's afterAll). */
export async function dropAllTestStores(): Promise<void> {
  for (const dir of [...databases.keys()]) await dropTestStore(dir);
}

/** The store Berth would open on `dataDir`: SQLite in it, or its PostgreSQL test database. */
export async function openTestStore(dataDir: string): Promise<Store> {
  const url = await testStoreUrl(dataDir);
  return url ? openPostgresStore(url) : openSqliteStore(dataDir);
}

/**
 * Raw SQL on a data directory's store, beside Berth (as someone with write access to the store).
 * Statements use `?` placeholders; they are numbered for PostgreSQL. Keep them portable, or branch
 * on `dialect`.
 */
export interface RawStore {
  readonly dialect: "sqlite" | "postgres";
  all<T = Record<string, unknown>>(statement: string, ...params: unknown[]): Promise<T[]>;
  get<T = Record<string, unknown>>(statement: string, ...params: unknown[]): Promise<T | undefined>;
  /** Runs a statement; the number of rows it changed. */
  run(statement: string, ...params: unknown[]): Promise<number>;
}

function numbered(statement: string): string {
  let n = 0;
  return statement.replace(/\?/g, () => `$${++n}`);
}

/** Opens the store beside Berth for `work`, and closes it after. */
export async function withRawStore<T>(dataDir: string, work: (raw: RawStore) => Promise<T>): Promise<T> {
  const name = databases.get(dataDir);
  if (name) {
    const c = new pg.Client({ connectionString: urlOf(name) });
    await c.connect();
    try {
      return await work({
        dialect: "postgres",
        all: async (s, ...p) => (await c.query(numbered(s), p)).rows,
        get: async (s, ...p) => (await c.query(numbered(s), p)).rows[0],
        run: async (s, ...p) => (await c.query(numbered(s), p)).rowCount ?? 0,
      });
    } finally {
      await c.end();
    }
  }
  const db = new SQLite(join(dataDir, SQLITE_FILE));
  try {
    return await work({
      dialect: "sqlite",
      all: async <T>(s: string, ...p: unknown[]) => db.prepare(s).all(...p) as T[],
      get: async <T>(s: string, ...p: unknown[]) => db.prepare(s).get(...p) as T | undefined,
      run: async (s, ...p) => db.prepare(s).run(...p).changes,
    });
  } finally {
    db.close();
  }
}

/**
 * What a reader of the store's bytes would see: every file of the data directory (the SQLite file,
 * its WAL, the keyring), plus, on PostgreSQL, each table's rows as text (the server's files are
 * not ours to read; what it stores is what these rows hold).
 */
export async function storeContents(dataDir: string): Promise<{ name: string; bytes: Buffer }[]> {
  const files = await storeFiles(dataDir);
  if (!databases.has(dataDir)) return files;
  return withRawStore(dataDir, async (raw) => {
    const tables = await raw.all<{ name: string }>(
      "select table_name as name from information_schema.tables where table_schema = 'public'",
    );
    for (const t of tables) {
      const rows = await raw.all<{ row: string }>(`select t::text as row from "${t.name}" t`);
      files.push({ name: `table ${t.name}`, bytes: Buffer.from(rows.map((r) => r.row).join("\n")) });
    }
    return files;
  });
}
