/** Per-connection access levels, lowest first (RFC 002 ConnectionAccessLevel). */
export const ACCESS_LEVELS = ["viewer", "user", "editor", "admin", "owner"] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

const RANK: Record<AccessLevel, number> = { viewer: 1, user: 2, editor: 3, admin: 4, owner: 5 };

export function atLeast(level: AccessLevel | undefined, required: AccessLevel): boolean {
  return level !== undefined && RANK[level] >= RANK[required];
}

export function higher(a: AccessLevel | undefined, b: AccessLevel | undefined): AccessLevel | undefined {
  if (!a) return b;
  if (!b) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

export function isAccessLevel(value: string): value is AccessLevel {
  return (ACCESS_LEVELS as readonly string[]).includes(value);
}
