import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";
import { parseTargetList } from "./target-rules.js";

/** Reverse proxies in front of the HTTP port, whose X-Forwarded-For names the client. */
export const proxyVariables = {
  BERTH_TRUSTED_PROXIES: z.string().default(""),
};

/** One trusted network: what BlockList.addSubnet takes. */
export interface TrustedNetwork {
  readonly family: "ipv4" | "ipv6";
  readonly network: string;
  readonly prefix: number;
}

type ProxyVariables = ParsedVariables<typeof proxyVariables>;

/** CIDRs and addresses only: a proxy is trusted by where its packets come from, never by a name. */
export function proxyProblems(c: ProxyVariables): string[] {
  const { rules, problems } = parseTargetList(c.BERTH_TRUSTED_PROXIES);
  const named = rules.filter((r) => r.kind === "name").map((r) => `"${r.text}": not a CIDR or an IP address`);
  return [...problems, ...named].map((p) => `BERTH_TRUSTED_PROXIES: ${p}`);
}

export function trustedProxies(c: ProxyVariables): readonly TrustedNetwork[] {
  return Object.freeze(
    parseTargetList(c.BERTH_TRUSTED_PROXIES).rules.flatMap((r) =>
      r.kind === "cidr" ? [{ family: r.family, network: r.network, prefix: r.prefix }] : [],
    ),
  );
}
