import { isIP } from "node:net";

/**
 * The entries of BERTH_ALLOWED_TARGETS / BERTH_DENIED_TARGETS, parsed. They live in config (the
 * foundation) because config refuses a bad entry at start; the matching is
 * src/connections/target-policy.ts.
 */
export type TargetRule =
  | {
      readonly kind: "cidr";
      readonly family: "ipv4" | "ipv6";
      /** The network address as written (host bits may be set; matching ignores them). */
      readonly network: string;
      readonly prefix: number;
      /** The entry as configured, for messages. */
      readonly text: string;
    }
  | {
      readonly kind: "name";
      /** Lower case, without a trailing dot; for a wildcard, the suffix after `*.`. */
      readonly name: string;
      /** `*.db.internal`: any name below db.internal (not db.internal itself). */
      readonly wildcard: boolean;
      readonly text: string;
    };

export interface TargetRules {
  /** Set: a target must match one of these. Undefined: every target not denied is allowed. */
  readonly allowed: readonly TargetRule[] | undefined;
  /** The operator's denials; they win over everything, allowed entries included. */
  readonly denied: readonly TargetRule[];
  /** Denied unless an allowed entry names them (or a part of them) exactly: see DEFAULT_DENIED_TARGETS. */
  readonly defaultDenied: readonly TargetRule[];
}

/**
 * Link-local and cloud metadata endpoints: what a server-side request forgery aims at first. The
 * /16 already covers 169.254.169.254; it is listed on its own so that lifting the link-local range
 * (allowing 169.254.0.0/16) does not also open the metadata service.
 */
export const DEFAULT_DENIED_TARGETS = [
  "169.254.0.0/16", // IPv4 link-local
  "fe80::/10", // IPv6 link-local
  "169.254.169.254", // AWS, GCP, Azure, OpenStack, DigitalOcean metadata
  "fd00:ec2::254", // AWS metadata over IPv6 (Nitro)
  "100.100.100.200", // Alibaba Cloud metadata
  "metadata.google.internal", // GCP metadata by name
] as const;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** One entry: a CIDR, a single address, an exact host name or `*.suffix`; a string says why not. */
export function parseTargetRule(entry: string): TargetRule | string {
  const text = entry.trim();
  const slash = text.indexOf("/");
  if (slash >= 0) {
    const network = stripBrackets(text.slice(0, slash));
    const prefixText = text.slice(slash + 1);
    const family = isIP(network);
    if (family === 0) return `"${text}": "${network}" is not an IPv4 or IPv6 address`;
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)
      return `"${text}": the prefix length must be a whole number from 0 to ${max}`;
    return {
      kind: "cidr",
      family: family === 4 ? "ipv4" : "ipv6",
      network,
      prefix: Number(prefixText),
      text,
    };
  }
  const address = stripBrackets(text);
  const family = isIP(address);
  if (family !== 0)
    return {
      kind: "cidr",
      family: family === 4 ? "ipv4" : "ipv6",
      network: address,
      prefix: family === 4 ? 32 : 128,
      text,
    };
  const lower = text.toLowerCase().replace(/\.$/, "");
  const wildcard = lower.startsWith("*.");
  const name = wildcard ? lower.slice(2) : lower;
  if (name.length === 0 || name.length > 253 || !name.split(".").every((l) => LABEL.test(l)))
    return `"${text}": not a CIDR (10.0.0.0/8, fd00::/8), an IP address, a host name or a pattern like *.db.internal`;
  return { kind: "name", name, wildcard, text };
}

/** A comma-separated list; every bad entry is named. Empty entries are ignored. */
export function parseTargetList(value: string): { rules: TargetRule[]; problems: string[] } {
  const rules: TargetRule[] = [];
  const problems: string[] = [];
  for (const entry of value.split(",")) {
    if (entry.trim() === "") continue;
    const rule = parseTargetRule(entry);
    if (typeof rule === "string") problems.push(rule);
    else rules.push(rule);
  }
  return { rules, problems };
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Only the default denials: what Berth enforces when neither variable is set. */
export function defaultTargetRules(): TargetRules {
  return {
    allowed: undefined,
    denied: [],
    defaultDenied: parseTargetList(DEFAULT_DENIED_TARGETS.join(",")).rules,
  };
}
