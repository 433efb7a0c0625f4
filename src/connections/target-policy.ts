import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { defaultTargetRules, type TargetRule, type TargetRules } from "../config/target-rules.js";
import { normalizeHost } from "./host.js";

/** The one reason every refusal by the policy carries, wherever it happens (test, pool, health). */
export const TARGET_DENIED = "target_denied";

/**
 * A connection may not go there. Thrown before any packet is sent to the target, so the answer is
 * the same whether anything listens on the port or not. Not a BerthError on purpose: the pool wraps
 * a failed open into UNAVAILABLE with the driver's reason, as it does for every other open failure.
 */
export class TargetDeniedError extends Error {
  readonly reason = TARGET_DENIED;
  constructor(message: string) {
    super(message);
    this.name = "TargetDeniedError";
  }
}

export interface TargetPolicy {
  /**
   * Resolves a host once and checks its name and every address it resolves to. Returns the
   * addresses (to connect to the checked one, never to a second lookup's answer); throws
   * TargetDeniedError, or the resolver's own error.
   */
  resolve(host: string): Promise<string[]>;
  /** Checks a host and addresses it was already resolved to; throws TargetDeniedError. */
  check(host: string, addresses: readonly string[]): void;
  /**
   * Checks where an SSH bastion is asked to forward to (the database host behind it), before the
   * forward: an IP address fully (denied, default-denied and allowed lists); a name by the name
   * rules only, since the bastion resolves it in its own network, where Berth cannot look.
   */
  checkForwarded(host: string): void;
}

type Why = "denied" | "default" | "not_allowed";

const WHY: Record<Why, string> = {
  denied: "BERTH_DENIED_TARGETS denies it",
  default: "link-local and cloud metadata addresses are denied by default",
  not_allowed: "BERTH_ALLOWED_TARGETS does not list it",
};

interface Compiled {
  readonly rule: TargetRule;
  /** For CIDR rules: the one subnet (BlockList also matches IPv4-mapped IPv6 addresses). */
  readonly subnet: BlockList | undefined;
}

function compile(rule: TargetRule): Compiled {
  if (rule.kind !== "cidr") return { rule, subnet: undefined };
  const subnet = new BlockList();
  subnet.addSubnet(rule.network, rule.prefix, rule.family);
  return { rule, subnet };
}

function matchesAddress(c: Compiled, address: string): boolean {
  const family = isIP(address) === 6 ? "ipv6" : "ipv4";
  return c.subnet?.check(address, family) ?? false;
}

function matchesName(c: Compiled, name: string | undefined): boolean {
  if (name === undefined || c.rule.kind !== "name") return false;
  return c.rule.wildcard ? name.endsWith(`.${c.rule.name}`) : name === c.rule.name;
}

/** Whether allowed entry `a` lies within default entry `d`: naming it, or a part of it, exactly. */
function within(a: Compiled, d: Compiled): boolean {
  if (a.rule.kind === "name" || d.rule.kind === "name")
    return (
      a.rule.kind === "name" && d.rule.kind === "name" && !a.rule.wildcard && a.rule.name === d.rule.name
    );
  return (
    a.rule.family === d.rule.family && a.rule.prefix >= d.rule.prefix && matchesAddress(d, a.rule.network)
  );
}

/** 0.0.0.0 and :: reach this machine itself: they are checked as loopback too. */
function aliasesOf(address: string): string[] {
  if (/^(::ffff:)?0\.0\.0\.0$/i.test(address)) return [address, "127.0.0.1"];
  if (address === "::") return [address, "::1"];
  return [address];
}

/**
 * What a denial must also see: the aliases, plus every IPv4 address an IPv6 one may carry where the
 * network can translate it to that IPv4 host — NAT64's well-known prefix (64:ff9b::/96) and its
 * local-use prefix (64:ff9b:1::/48, at each RFC 6052 prefix length an operator may pick), SIIT's
 * ::ffff:0:0/96, 6to4 (2002::/16) and the old IPv4-compatible form (::a.b.c.d). Without it,
 * 64:ff9b::a9fe:a9fe reaches 169.254.169.254 through a NAT64 gateway past every IPv4 rule.
 * (IPv4-mapped ::ffff:a.b.c.d needs nothing: BlockList matches it already.)
 */
function denialAliasesOf(address: string): string[] {
  const aliases = aliasesOf(address);
  return isIP(address) === 6 ? [...aliases, ...embeddedIPv4(address)] : aliases;
}

function embeddedIPv4(address: string): string[] {
  const h = ipv6Hextets(address);
  if (!h) return [];
  const quad = (a: number, b: number, c: number, d: number) => `${a}.${b}.${c}.${d}`;
  const hi = (x: number) => x >> 8;
  const lo = (x: number) => x & 255;
  const zero = (from: number, to: number) => h.slice(from, to).every((x) => x === 0);
  if (h[0] === 0x64 && h[1] === 0xff9b && zero(2, 6))
    return [quad(hi(h[6]!), lo(h[6]!), hi(h[7]!), lo(h[7]!))];
  if (h[0] === 0x64 && h[1] === 0xff9b && h[2] === 1)
    // RFC 6052 §2.2 for /48, /56, /64 and /96 (bits 64–71 are always skipped).
    return [
      quad(hi(h[3]!), lo(h[3]!), lo(h[4]!), hi(h[5]!)),
      quad(lo(h[3]!), lo(h[4]!), hi(h[5]!), lo(h[5]!)),
      quad(lo(h[4]!), hi(h[5]!), lo(h[5]!), hi(h[6]!)),
      quad(hi(h[6]!), lo(h[6]!), hi(h[7]!), lo(h[7]!)),
    ];
  if (zero(0, 4) && h[4] === 0xffff && h[5] === 0) return [quad(hi(h[6]!), lo(h[6]!), hi(h[7]!), lo(h[7]!))];
  if (h[0] === 0x2002) return [quad(hi(h[1]!), lo(h[1]!), hi(h[2]!), lo(h[2]!))];
  // ::a.b.c.d, but not :: or ::1 (themselves, handled as such).
  if (zero(0, 6) && (h[6] !== 0 || h[7]! > 1)) return [quad(hi(h[6]!), lo(h[6]!), hi(h[7]!), lo(h[7]!))];
  return [];
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted quad included), or undefined. */
function ipv6Hextets(address: string): number[] | undefined {
  let text = address.toLowerCase().replace(/%.*$/, "");
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::");
  const part = (p: string | undefined) => (p ? p.split(":").map((x) => Number.parseInt(x, 16)) : []);
  const left = part(head);
  const right = part(tail);
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : undefined;
}

/** The host as the policy sees it: lower case, no brackets or trailing dot; undefined for an IP literal. */
function nameOf(host: string): string | undefined {
  const h = normalizeHost(host).toLowerCase().replace(/\.$/, "");
  return isIP(h) ? undefined : h;
}

/** Every address a name resolves to (the system resolver, as the drivers themselves would use). */
export type Resolver = (name: string) => Promise<string[]>;

const systemResolver: Resolver = async (name) => (await lookup(name, { all: true })).map((a) => a.address);

export function createTargetPolicy(
  rules: TargetRules = defaultTargetRules(),
  resolver: Resolver = systemResolver,
): TargetPolicy {
  const denied = rules.denied.map(compile);
  const allowed = rules.allowed?.map(compile);
  const defaults = rules.defaultDenied.map(compile);
  // A default denial stands unless an allowed entry that lies within it also matches the target.
  const defaultDenies = (matches: (c: Compiled) => boolean) =>
    defaults.some((d) => matches(d) && !(allowed ?? []).some((a) => matches(a) && within(a, d)));

  function deny(host: string, address: string | undefined, why: Why): never {
    const subject = address === undefined || address === host ? host : `${host} (${address})`;
    throw new TargetDeniedError(`Berth may not connect to ${subject}: ${WHY[why]}`);
  }

  /** The name alone: denials that need no lookup (so a denied name is never even resolved). */
  function checkName(host: string): void {
    const name = nameOf(host);
    if (name === undefined) return;
    if (denied.some((c) => matchesName(c, name))) deny(host, undefined, "denied");
    if (defaultDenies((c) => matchesName(c, name))) deny(host, undefined, "default");
  }

  function check(host: string, addresses: readonly string[]): void {
    checkName(host);
    const name = nameOf(host);
    for (const address of addresses) {
      for (const a of denialAliasesOf(normalizeHost(address))) {
        if (denied.some((c) => matchesAddress(c, a))) deny(host, address, "denied");
        if (defaultDenies((c) => matchesAddress(c, a))) deny(host, address, "default");
      }
    }
    if (!allowed || allowed.some((c) => matchesName(c, name))) return;
    for (const address of addresses) {
      if (!aliasesOf(normalizeHost(address)).every((a) => allowed.some((c) => matchesAddress(c, a))))
        deny(host, address, "not_allowed");
    }
    if (addresses.length === 0) deny(host, undefined, "not_allowed");
  }

  return {
    check,
    checkForwarded(host: string): void {
      const literal = normalizeHost(host);
      if (isIP(literal)) check(host, [literal]);
      else checkName(host);
    },
    async resolve(host: string): Promise<string[]> {
      const literal = normalizeHost(host);
      if (isIP(literal)) {
        check(host, [literal]);
        return [literal];
      }
      checkName(host);
      const found = await resolver(literal);
      check(host, found);
      return found;
    },
  };
}
