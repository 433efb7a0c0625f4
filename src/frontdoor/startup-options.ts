import type { Intent } from "../pools/pool-manager.js";
import { setStatement } from "./statement-kind.js";

/** What the startup packet asks of Berth, and the settings every backend must carry for the client. */
export interface StartupOptions {
  readonly intent: Intent;
  readonly sessionPooling: boolean;
  /** Setting key → the SET statement applying it on a backend. */
  readonly settings: Map<string, string>;
  /** Values the client set itself, reported back to it at startup (ParameterStatus). */
  readonly reported: Map<string, string>;
}

/** The setting a front-door client presents a read-your-writes token in. */
export const READ_AFTER = "berth.read_after";

/** Startup parameters that are not settings. */
const NOT_SETTINGS = new Set(["user", "database", "options", "replication"]);

/** GUC names as PostgreSQL reports them (ParameterStatus uses this case). */
const REPORTED_CASE: Record<string, string> = {
  datestyle: "DateStyle",
  intervalstyle: "IntervalStyle",
  timezone: "TimeZone",
  client_encoding: "client_encoding",
  application_name: "application_name",
};

/** `-c name=value` and `--name=value` pairs of the `options` parameter (backslash escapes a space). */
function optionPairs(options: string): [string, string][] | string {
  const words = options.match(/(?:\\.|\S)+/g) ?? [];
  const pairs: [string, string][] = [];
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!.replace(/\\(.)/g, "$1");
    if (w === "-c") w = (words[++i] ?? "").replace(/\\(.)/g, "$1");
    else if (w.startsWith("-c")) w = w.slice(2);
    else if (w.startsWith("--")) w = w.slice(2);
    else return `unsupported startup option "${w.slice(0, 40)}": only -c name=value is understood`;
    const eq = w.indexOf("=");
    if (eq <= 0) return `startup option "${w.slice(0, 40)}" is not name=value`;
    pairs.push([w.slice(0, eq).replace(/-/g, "_"), w.slice(eq + 1)]);
  }
  return pairs;
}

/**
 * Berth's own options (`berth.intent=read|write`, `berth.pool_mode=transaction|session`, also
 * accepted as plain startup parameters, and libpq's `target_session_attrs=read-only`), and the
 * client's settings (application_name, client_encoding, DateStyle, `-c` options, ...).
 */
export function readStartupOptions(params: ReadonlyMap<string, string>): StartupOptions | { error: string } {
  const pairs: [string, string][] = [];
  for (const [name, value] of params) if (!NOT_SETTINGS.has(name)) pairs.push([name, value]);
  const fromOptions = optionPairs(params.get("options") ?? "");
  if (typeof fromOptions === "string") return { error: fromOptions };
  pairs.push(...fromOptions);
  let intent: Intent = "write";
  let sessionPooling = false;
  const settings = new Map<string, string>();
  const reported = new Map<string, string>();
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    if (name === "berth.intent" || name === "target_session_attrs") {
      if (["read", "read-only", "standby", "prefer-standby"].includes(value)) intent = "read";
      else if (["write", "read-write", "any", "primary"].includes(value)) intent = "write";
      else return { error: `${rawName}=${value.slice(0, 40)}: use read or write` };
      continue;
    }
    if (name === "berth.pool_mode") {
      if (value !== "transaction" && value !== "session")
        return { error: `berth.pool_mode=${value.slice(0, 40)}: use transaction or session` };
      sessionPooling = value === "session";
      continue;
    }
    // A read-your-writes token (client.ts): a setting like any other, replayed on every backend
    // (PostgreSQL takes dotted names as placeholders), and read by Berth at each transaction.
    if (name === READ_AFTER) {
      settings.set(name, setStatement(name, value));
      continue;
    }
    if (name.startsWith("berth.")) return { error: `unknown Berth option ${rawName.slice(0, 60)}` };
    if (!/^[a-z_][a-z0-9_.]*$/.test(name)) return { error: `invalid setting name ${rawName.slice(0, 60)}` };
    settings.set(name, setStatement(name, value));
    reported.set(REPORTED_CASE[name] ?? name, value);
  }
  return { intent, sessionPooling, settings, reported };
}
