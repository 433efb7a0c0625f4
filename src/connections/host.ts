import { isIP } from "node:net";

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Strips the brackets of an IPv6 literal ("[::1]" → "::1"). */
export function normalizeHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Why a host is not a valid DNS name or IP literal, or undefined when it is. */
export function hostProblem(host: string): string | undefined {
  if (host.length === 0) return "must not be empty";
  if (host.length > 253) return "must be at most 253 characters";
  if (isIP(host)) return undefined;
  if (/[^A-Za-z0-9.-]/.test(host)) {
    return "must be a DNS name (letters, digits, '-' and '.') or an IP address";
  }
  const labels = host.endsWith(".") ? host.slice(0, -1).split(".") : host.split(".");
  if (labels.some((l) => !LABEL.test(l))) {
    return "each dot-separated label must be 1–63 letters, digits or '-', not starting or ending with '-'";
  }
  return undefined;
}
