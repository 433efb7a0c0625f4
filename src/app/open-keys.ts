import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/config.js";
import type { KeyProvider } from "../crypto/key-provider.js";
import { KeySet } from "../crypto/key-set.js";
import { KEYRING_FILE, openLocalKeyring } from "../crypto/local-keyring.js";
import { StoredKeyring } from "../crypto/stored-keyring.js";
import { asBerthError } from "../errors/mapping.js";
import type { Logger } from "../observability/logger.js";
import type { Store } from "../store/store.js";

/**
 * The configured key provider, plus the other one when it is still configured (the keyring file
 * exists, or BERTH_VAULT_ADDR is set) so that secrets written before a move keep decrypting until
 * `berth keys rewrap` has moved them. A missing transit key or a refused token stops the start; a
 * Vault that does not answer does not (decrypting calls answer UNAVAILABLE until it does).
 */
export async function openKeys(config: Config, store: Store, log: Logger): Promise<KeySet> {
  // node-vault loads only where Vault is configured: every other start is spared its module graph.
  const vault = config.vault
    ? new (await import("../crypto/vault-transit.js")).VaultTransit(config.vault)
    : undefined;
  if (vault) {
    try {
      await vault.verify();
    } catch (err) {
      const e = asBerthError(err);
      if (e.details.reason === "kms_key_missing" || e.details.reason === "kms_permission_denied") {
        throw new Error(
          `Vault transit key ${config.vault!.mount}/keys/${config.vault!.keyName} cannot be used: ${e.message}. Create it first (vault write -f ${config.vault!.mount}/keys/${config.vault!.keyName}); Berth never creates keys.`,
        );
      }
      log.warn({ reason: e.details.reason, error: e.message }, "vault transit is not answering yet");
    }
  }
  const local = await openLocal(config, store);
  const primary = config.kms === "vault" ? vault! : local!;
  return new KeySet(
    primary,
    [local, vault].filter((p): p is NonNullable<typeof p> => p !== undefined && p !== primary),
  );
}

/**
 * Shared mode (a PostgreSQL store) with BERTH_MASTER_KEY: the keyring in the store, wrapped by it,
 * so that every instance decrypts what another wrote. Otherwise the embedded default: the master
 * key itself, or the keyring file in the data directory.
 */
async function openLocal(config: Config, store: Store): Promise<KeyProvider | undefined> {
  if (config.storeUrl && config.masterKey)
    return StoredKeyring.open(store.db, config.masterKey, config.dataDir, config.previousMasterKey);
  const hasKeyring = config.masterKey !== undefined || existsSync(join(config.dataDir, KEYRING_FILE));
  return config.kms === "local" || hasKeyring
    ? openLocalKeyring(config.dataDir, config.masterKey)
    : undefined;
}
