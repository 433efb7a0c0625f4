import { BlockList, isIP } from "node:net";
import type { TrustedNetwork } from "../config/proxy-settings.js";

/** Where a request comes from: the peer, or for a trusted proxy the client it forwarded for. */
export interface ClientAddresses {
  /** The client's address for throttling, audit and logs. */
  of(peer: string, forwardedFor: string | string[] | undefined): string;
  /** Whether a socket's peer is a trusted proxy (its connections are not capped per source). */
  isTrustedProxy(peer: string): boolean;
}

/**
 * X-Forwarded-For is read only from a trusted proxy, and from the right: each proxy appends the
 * address it got the request from, so the rightmost entry that is not itself a trusted proxy is
 * the client. Entries further left were written by the client and prove nothing.
 */
export function clientAddresses(proxies: readonly TrustedNetwork[]): ClientAddresses {
  const trusted = new BlockList();
  for (const p of proxies) trusted.addSubnet(p.network, p.prefix, p.family);
  const isTrusted = (address: string) =>
    isIP(address) !== 0 && trusted.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
  return {
    isTrustedProxy: (peer) => proxies.length > 0 && isTrusted(plain(peer)),
    of(peer, forwardedFor) {
      if (proxies.length === 0 || forwardedFor === undefined || !isTrusted(plain(peer))) return peer;
      const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",");
      let client = peer;
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = addressOf(hops[i]!);
        // Not an address: the proxy passed on what the client wrote; the last good hop stands.
        if (hop === undefined) return client;
        client = hop;
        if (!isTrusted(hop)) return hop;
      }
      return client;
    },
  };
}

/** An IPv4-mapped peer (::ffff:10.0.0.1) as the IPv4 address the rules are written for. */
function plain(address: string): string {
  return /^::ffff:/i.test(address) && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** One hop of X-Forwarded-For: an address, with or without brackets or a port, or undefined. */
function addressOf(hop: string): string | undefined {
  const h = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(h);
  const address = bracketed?.[1] ?? v4WithPort?.[1] ?? h;
  return isIP(address) !== 0 ? plain(address) : undefined;
}
