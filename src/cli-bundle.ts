import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { stageName } from "./errors/berth-error.js";
import { AccessLevel } from "./gen/berth/v1/access_service_pb.js";
import { BundleService, type ImportBundleResponse } from "./gen/berth/v1/bundle_service_pb.js";

export { BundleService };

export const BUNDLE_HELP = `berth bundle — move connections between Berths in an encrypted file

  berth bundle export (--id ID [--id ID …] | --all) --out FILE
                                     connections (credentials and grants included) into FILE
  berth bundle import --in FILE [--dry-run] [--timeout-ms N]
                                     check (and with no --dry-run, create) the connections of FILE

The passphrase (at least 12 characters) is read from BERTH_BUNDLE_PASSPHRASE, or from the file
named by --passphrase-file (never from the command line, where other users' ps would show it).
Exit status: 0 done, 1 failed, 2 usage, 3 a dry run found connections that cannot be imported.`;

export interface BundleArgs {
  command: string | undefined;
  ids: string[];
  all: boolean;
  out: string | undefined;
  in: string | undefined;
  dryRun: boolean;
  timeoutMs: string | undefined;
  passphraseFile: string | undefined;
}

type Line = (s: string) => void;

/**
 * Writes a file only its owner can read, whatever was there before: `writeFileSync`'s mode applies
 * only to a file it creates, so an existing 0644 file would have kept its mode. A new file (O_EXCL)
 * beside the target, renamed over it, is 0600 from its first byte and replaces the old one whole.
 */
export function writePrivateFile(path: string, data: Uint8Array): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(temp, data, { mode: 0o600, flag: "wx" });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

function passphrase(args: BundleArgs): string {
  if (args.passphraseFile) return readFileSync(args.passphraseFile, "utf8").replace(/\r?\n$/, "");
  const p = process.env.BERTH_BUNDLE_PASSPHRASE;
  if (!p) throw new Error("set BERTH_BUNDLE_PASSPHRASE, or give --passphrase-file FILE");
  return p;
}

/** `berth bundle export|import`: a client of BundleService, like `berth keys` is of AdminService. */
export async function runBundle(
  client: Client<typeof BundleService>,
  args: BundleArgs,
  line: Line,
): Promise<number> {
  switch (args.command) {
    case "export": {
      if (!args.out || (args.ids.length === 0) === !args.all) {
        line("berth bundle export needs --out FILE and either --id ID (repeatable) or --all");
        return 2;
      }
      const r = await client.exportBundle({
        connectionIds: args.ids,
        allAdministered: args.all,
        passphrase: passphrase(args),
      });
      // Encrypted, but a copy of credentials all the same: only its owner reads it.
      writePrivateFile(args.out, r.bundle);
      line(`wrote ${args.out}: ${r.connections} connections, ${r.grants} grants (${r.bundle.length} bytes)`);
      return 0;
    }
    case "import": {
      if (!args.in) {
        line("berth bundle import needs --in FILE");
        return 2;
      }
      const timeoutMs = Number(args.timeoutMs ?? 0);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
        line("--timeout-ms must be a whole number of milliseconds");
        return 2;
      }
      const r = await client.importBundle({
        bundle: readFileSync(args.in),
        passphrase: passphrase(args),
        dryRun: args.dryRun,
        timeoutMs,
      });
      printImport(r, line);
      return r.ok ? 0 : 3;
    }
    default:
      line(BUNDLE_HELP);
      return 2;
  }
}

function printImport(r: ImportBundleResponse, line: Line): void {
  line(`bundle exported by ${r.exportedBy || "?"} at ${r.exportedAt || "?"}`);
  for (const c of r.connections) {
    const test = c.test
      ? c.test.ok
        ? `test ok in ${Math.round(c.test.totalMs)} ms`
        : `test failed at ${stageName(c.test.stages.find((s) => s.reason !== "")?.stage ?? 0)}`
      : "not tested";
    line(
      `  ${c.name} (${c.type}): ${c.outcome}${c.id ? ` ${c.id}` : ""} — ${test}${c.message ? ` — ${c.message}` : ""}`,
    );
    for (const g of c.grants) {
      const level = (AccessLevel[g.accessLevel] ?? "?").toLowerCase();
      line(
        `    grant ${level} to ${g.principalKind} ${g.principal}: ${g.applied ? "yes" : `skipped (${g.skippedReason})`}`,
      );
    }
  }
  line(
    r.applied
      ? `imported ${r.connections.length} connections`
      : r.ok
        ? "dry run: every connection can be imported; run again without --dry-run"
        : "cannot be imported as is: nothing was written",
  );
}
