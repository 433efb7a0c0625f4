import { ValidationError } from "../errors/berth-error.js";
import type { ListCursor } from "../store/connection-repository.js";

const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 50;

export interface PageRequest {
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

/** The page size a caller asked for, bounded; 0 or absent means the default. */
export function pageSizeOf(page: PageRequest): number {
  const size = page.pageSize || DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw ValidationError.field("pageSize", `must be from 1 to ${MAX_PAGE_SIZE}`);
  }
  return size;
}

/** An opaque page token: the (name key, id) of the last row shown, so pages stay stable under inserts. */
export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.nameKey, c.id]), "utf8").toString("base64url");
}

export function decodeCursor(token: string): ListCursor {
  try {
    const [nameKey, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown[];
    if (typeof nameKey === "string" && typeof id === "string") return { nameKey, id };
  } catch {
    // fall through
  }
  throw ValidationError.field("pageToken", "is not a token from a previous page");
}

/**
 * One page of rows fetched with one more than the page size (`size + 1`): the rows to show, and the
 * token of the next page ("" on the last).
 */
export function pageOf<R extends { name_key: string; id: string }>(
  rows: readonly R[],
  size: number,
): { shown: R[]; nextPageToken: string } {
  const shown = rows.slice(0, size);
  const last = shown[shown.length - 1];
  return {
    shown,
    nextPageToken: rows.length > size && last ? encodeCursor({ nameKey: last.name_key, id: last.id }) : "",
  };
}
