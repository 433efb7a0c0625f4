import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BundleArgs, type BundleService, runBundle } from "../../src/cli-bundle.js";

const ARGS: BundleArgs = {
  command: "export",
  ids: [],
  all: true,
  out: undefined,
  in: undefined,
  dryRun: false,
  timeoutMs: undefined,
  passphraseFile: undefined,
};

describe("berth bundle export's file", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "berth-cli-bundle-"));
    process.env.BERTH_BUNDLE_PASSPHRASE = "correct horse battery staple";
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env.BERTH_BUNDLE_PASSPHRASE;
  });

  const client = {
    exportBundle: async () => ({ bundle: new Uint8Array([1, 2, 3]), connections: 1, grants: 0 }),
  } as unknown as Client<typeof BundleService>;

  it("is 0600 even when it replaces an existing 0644 file, and leaves no temporary file behind", async () => {
    const out = join(dir, "bundle.berth");
    writeFileSync(out, "old contents", { mode: 0o644 });
    expect(statSync(out).mode & 0o777).toBe(0o644);
    expect(await runBundle(client, { ...ARGS, out }, () => {})).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect([...readFileSync(out)]).toEqual([1, 2, 3]);
    expect(readFileSync(out).length).toBe(3);
    expect(readdirSync(dir)).toEqual(["bundle.berth"]);
  });

  it("is 0600 when new", async () => {
    const out = join(dir, "new.berth");
    expect(await runBundle(client, { ...ARGS, out }, () => {})).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });
});
