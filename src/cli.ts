#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { BUNDLE_HELP, BundleService, runBundle } from "./cli-bundle.js";
import {
  AdminService,
  type GetKeyStatusResponse,
  type SecretProblem,
} from "./gen/berth/v1/admin_service_pb.js";
import { AuthService } from "./gen/berth/v1/auth_service_pb.js";

const HELP = `berth keys — manage the keys that encrypt stored credentials (a client of a running Berth)

  berth keys status                  provider, versions, and how many secrets each version holds
  berth keys rotate                  make a new key version the one that encrypts
  berth keys rewrap [--batch N] [--max N]
                                     re-encrypt every secret under the newest version (resumable)
  berth keys retire --below N        stop versions below N from decrypting

${BUNDLE_HELP}

Environment:
  BERTH_URL       Berth's address (default http://127.0.0.1:8080)
  BERTH_TOKEN     a session token of a global admin; or
  BERTH_USERNAME / BERTH_PASSWORD   to sign in (default user admin)
Exit status: 0 done, 1 failed, 2 usage, 3 done but some secrets need attention.`;

type Admin = ReturnType<typeof createClient<typeof AdminService>>;

function line(s: string): void {
  process.stdout.write(`${s}\n`);
}

function printStatus(s: GetKeyStatusResponse): void {
  line(`provider          ${s.provider} (${s.keyName})`);
  line(`latest version    ${s.latestVersion}${s.rotatable ? "" : "  (not rotatable: BERTH_MASTER_KEY)"}`);
  line(`min decryption    ${s.minDecryptionVersion}`);
  line(`secrets           ${s.totalSecrets} stored, ${s.currentSecrets} on the latest version`);
  for (const v of s.versions) {
    const label = `  ${v.provider} v${v.version}`;
    line(`${label.padEnd(18)}${v.secrets}`);
  }
  printProblems("no longer decryptable", s.stale);
}

function printProblems(title: string, problems: readonly SecretProblem[]): void {
  if (problems.length === 0) return;
  line(`${problems.length} ${title}:`);
  for (const p of problems)
    line(
      `  connection ${p.connectionId} ${p.field} (${p.provider} v${p.version}): ${p.reason} — ${p.message}`,
    );
}

/** A progress bar on a terminal; a line per batch otherwise (logs, CI). */
function progressBar(done: number, total: number): void {
  const ratio = total === 0 ? 1 : done / total;
  if (process.stderr.isTTY) {
    const width = 30;
    const filled = Math.round(ratio * width);
    process.stderr.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}`);
  } else {
    process.stderr.write(`${done}/${total} secrets\n`);
  }
}

async function rewrap(admin: Admin, batch: number, max: number): Promise<number> {
  let last:
    | {
        rewrapped: number;
        alreadyCurrent: number;
        changedConcurrently: number;
        failures: SecretProblem[];
        finished: boolean;
      }
    | undefined;
  for await (const p of admin.rewrapSecrets({ batchSize: batch, maxSecrets: max })) {
    progressBar(p.processed, p.total);
    last = p;
  }
  if (process.stderr.isTTY) process.stderr.write("\n");
  if (!last) return 1;
  line(
    `rewrapped ${last.rewrapped}, already current ${last.alreadyCurrent}, changed meanwhile ${last.changedConcurrently}, failed ${last.failures.length}`,
  );
  printProblems("could not be rewrapped (set these credentials again)", last.failures);
  if (!last.finished) line("stopped at --max; run again to continue");
  return last.failures.length > 0 ? 3 : 0;
}

async function token(baseUrl: string): Promise<string> {
  if (process.env.BERTH_TOKEN) return process.env.BERTH_TOKEN;
  const password = process.env.BERTH_PASSWORD;
  if (!password) throw new Error("set BERTH_TOKEN, or BERTH_PASSWORD (and BERTH_USERNAME) to sign in");
  const auth = createClient(AuthService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
  const r = await auth.login({ username: process.env.BERTH_USERNAME ?? "admin", password });
  return r.token;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      below: { type: "string" },
      batch: { type: "string", default: "100" },
      max: { type: "string", default: "0" },
      id: { type: "string", multiple: true, default: [] },
      all: { type: "boolean", default: false },
      out: { type: "string" },
      in: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "timeout-ms": { type: "string" },
      "passphrase-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [group, command] = positionals;
  if (values.help || (group !== "keys" && group !== "bundle") || !command) {
    line(HELP);
    return values.help ? 0 : 2;
  }
  const baseUrl = process.env.BERTH_URL ?? "http://127.0.0.1:8080";
  const bearer = await token(baseUrl);
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${bearer}`);
        return next(req);
      },
    ],
  });
  if (group === "bundle") {
    return runBundle(
      createClient(BundleService, transport),
      {
        command,
        ids: values.id,
        all: values.all,
        out: values.out,
        in: values.in,
        dryRun: values["dry-run"],
        timeoutMs: values["timeout-ms"],
        passphraseFile: values["passphrase-file"],
      },
      line,
    );
  }
  const admin = createClient(AdminService, transport);
  switch (command) {
    case "status": {
      const s = await admin.getKeyStatus({});
      printStatus(s);
      return s.stale.length > 0 ? 3 : 0;
    }
    case "rotate": {
      const r = await admin.rotateKey({});
      line(`new key version ${r.newVersion}; run \`berth keys rewrap\` to move stored secrets to it`);
      return 0;
    }
    case "rewrap":
      return rewrap(admin, Number(values.batch), Number(values.max));
    case "retire": {
      const below = Number(values.below);
      if (!Number.isInteger(below) || below < 1) {
        line("berth keys retire needs --below N (a version number)");
        return 2;
      }
      const r = await admin.retireKeyVersions({ minVersion: below });
      printStatus(r.status!);
      return r.status!.stale.length > 0 ? 3 : 0;
    }
    default:
      line(HELP);
      return 2;
  }
}

// Run when executed (node dist/cli.js, or the `berth` bin), not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const e = ConnectError.from(err);
      process.stderr.write(
        `berth: ${e.code === Code.Unknown ? e.rawMessage : `${Code[e.code]}: ${e.rawMessage}`}\n`,
      );
      process.exit(1);
    },
  );
}
