import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

export const LOCK_FILE = "berth.lock";

/** Who holds a data directory: written into the lock file as JSON. */
interface Holder {
  pid: number;
  host: string;
  startedAt: string;
}

/** The data directory is in use by another Berth; the message says which and what to do. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: Holder,
  ) {
    super(
      `Another Berth (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}) is using the data directory ${dataDir}. ` +
        "Only one Berth process may use a SQLite store; stop it first, give this one another BERTH_DATA_DIR, " +
        `or run several instances on a shared PostgreSQL store (BERTH_STORE_URL). If that process is gone, remove ${join(dataDir, LOCK_FILE)}.`,
    );
    this.name = "DataDirLockedError";
  }
}

/** Lock files this process holds: a second store on the same directory in this process is refused too. */
const heldHere = new Set<string>();

function readHolder(file: string): { raw: string; holder: Holder | undefined } | undefined {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const h = JSON.parse(raw) as Holder;
    const valid = Number.isInteger(h.pid) && h.pid > 0 && typeof h.host === "string";
    return { raw, holder: valid ? h : undefined };
  } catch {
    return { raw, holder: undefined };
  }
}

/**
 * Whether the holder may still be running. Another host's process cannot be checked, so it counts
 * as alive. Our own pid in a file this process did not write is a previous run that had the same
 * pid (a container's PID 1): stale.
 */
function alive(file: string, h: Holder): boolean {
  if (h.host !== hostname()) return true;
  if (h.pid === process.pid) return heldHere.has(file);
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the lock file with its content in one step (a reader never sees it empty), or fails EEXIST. */
function createLock(file: string, content: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Takes the data directory for this process: a lock file holding its pid, host and start time.
 * Node has no flock, so a crashed Berth leaves the file behind; it is taken over when its process
 * is gone. The stale file is first renamed aside (atomic: of two processes taking over at once,
 * one renames it), and a file that turns out not to be the stale one is put back and refused.
 * Limitation: a stale file whose pid now belongs to another live process, or one written on
 * another host (a shared volume), is treated as held until removed by hand.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const content = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createLock(file, content)) {
      heldHere.add(file);
      return () => release(file, content);
    }
    const seen = readHolder(file);
    if (!seen) continue;
    if (seen.holder && alive(file, seen.holder)) throw new DataDirLockedError(dataDir, seen.holder);
    const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
    try {
      renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    const moved = readHolder(aside);
    if (moved && moved.raw !== seen.raw) {
      // Another process took the directory over between our read and our rename: its lock goes back.
      renameSync(aside, file);
      if (moved.holder) throw new DataDirLockedError(dataDir, moved.holder);
    } else {
      unlinkSync(aside);
    }
  }
  throw new Error(`The data directory ${dataDir} could not be locked: its lock file keeps changing`);
}

function release(file: string, content: string): void {
  if (!heldHere.delete(file)) return;
  // Only our own file: never one a process that took over after us wrote.
  try {
    if (readHolder(file)?.raw === content) unlinkSync(file);
  } catch {
    // Gone already, or unreadable: nothing of ours to remove.
  }
}
