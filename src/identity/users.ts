import { randomUUID } from "node:crypto";
import type { Logger } from "../observability/logger.js";
import { isUniqueViolation } from "../store/errors.js";
import type { UserRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import { generatePassword, hashPassword } from "./passwords.js";
import { makeScramVerifier } from "./scram.js";

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("username", "=", username).executeTakeFirst();
}

export async function createLocalUser(
  db: Db,
  username: string,
  password: string,
  role: "admin" | "member",
  now: Date,
): Promise<UserRow> {
  // The SCRAM verifier is made while the password is at hand: the scrypt hash cannot make one later.
  const [passwordHash, scramVerifier] = await Promise.all([
    hashPassword(password),
    makeScramVerifier(password),
  ]);
  const row: UserRow = {
    id: randomUUID(),
    username,
    password_hash: passwordHash,
    role,
    google_sub: null,
    google_email: null,
    created_at: now.toISOString(),
    disabled: 0,
    scram_verifier: scramVerifier,
  };
  await db.insertInto("users").values(row).execute();
  return row;
}

/**
 * On an empty store, create `admin` with BERTH_ADMIN_PASSWORD, or with a generated password printed
 * once to stderr. There is never a default password.
 */
export async function bootstrapAdmin(
  db: Db,
  adminPassword: string | undefined,
  log: Logger,
  announce: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  const any = await db.selectFrom("users").select("id").limit(1).executeTakeFirst();
  if (any) return;
  const password = adminPassword ?? generatePassword();
  try {
    await createLocalUser(db, "admin", password, "admin", new Date());
  } catch (err) {
    // Instances starting together on one empty shared store: another one created it first.
    if (isUniqueViolation(err)) return;
    throw err;
  }
  if (adminPassword) {
    log.info({ user: "admin" }, "created the admin user with the password from BERTH_ADMIN_PASSWORD");
  } else {
    announce(
      [
        "",
        "  Berth created the first user on this empty store:",
        "    username: admin",
        `    password: ${password}`,
        "  It is shown only this once. Set BERTH_ADMIN_PASSWORD before the first start to choose it.",
        "",
      ].join("\n"),
    );
  }
}
