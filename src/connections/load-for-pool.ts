import { NotFoundError } from "../errors/berth-error.js";
import type { ConnectionRepository } from "../store/connection-repository.js";
import type { Db } from "../store/store.js";
import type { CredentialCipher } from "./credential-cipher.js";
import { enforceTls } from "./require-tls.js";
import type { SettingsSeal } from "./sealed-settings.js";
import type { ConnectionSettings, Credentials } from "./settings.js";

/** What loading a connection for its pool needs of the registry. */
export interface PoolLoadContext {
  db: Db;
  repo: ConnectionRepository;
  requireTls: boolean | undefined;
  clock: () => Date;
  cipher: CredentialCipher;
  seal: SettingsSeal;
}

/** For the pool manager: settings and decrypted credentials, no policy (callers authorize). */
export async function loadForPool(
  ctx: PoolLoadContext,
  id: string,
): Promise<{ settings: ConnectionSettings; credentials: Credentials }> {
  const row = await ctx.repo.findById(id);
  if (!row) throw new NotFoundError("connection", id);
  // Opened once here; the pool keeps them for its life.
  const settings = await ctx.seal.openSettings(row);
  // No pool may open plain-text sessions under BERTH_REQUIRE_TLS, whenever the connection was saved.
  enforceTls(ctx.requireTls, settings);
  const credentials = await ctx.cipher.decrypt(row);
  // A pool opening is use: the inactive-connection retention counts from here.
  await ctx.db
    .updateTable("connections")
    .set({ last_used_at: ctx.clock().toISOString() })
    .where("id", "=", id)
    .execute();
  return { settings, credentials };
}
