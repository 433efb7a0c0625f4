import type { AccessPolicy } from "../access/policy.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionRepository } from "../store/connection-repository.js";
import { decodeCursor, type PageRequest, pageOf, pageSizeOf } from "./paging.js";
import { type ConnectionView, view } from "./row-mapping.js";
import type { SettingsSeal } from "./sealed-settings.js";

/** What listing connections needs of the registry. */
export interface ListContext {
  repo: ConnectionRepository;
  seal: SettingsSeal;
  policy: Pick<AccessPolicy, "listScope">;
}

export interface ConnectionPage {
  connections: ConnectionView[];
  nextPageToken: string;
}

/** One page of the connections the principal may see, in name order (the store filters, not this). */
export async function listConnections(
  ctx: ListContext,
  principal: Principal,
  page: PageRequest,
): Promise<ConnectionPage> {
  const size = pageSizeOf(page);
  const after = page.pageToken ? decodeCursor(page.pageToken) : undefined;
  const rows = await ctx.repo.list({
    limit: size + 1,
    after,
    visibleTo: ctx.policy.listScope(principal),
  });
  const { shown, nextPageToken } = pageOf(rows, size);
  // One decryption per row, in parallel (a local keyring: microseconds; Vault: a round trip each).
  const opened = await Promise.all(shown.map((r) => ctx.seal.openListed(r)));
  return { connections: opened.map(view), nextPageToken };
}
