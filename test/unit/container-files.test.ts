import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * No Docker engine runs where Berth is developed, so the Dockerfile and the compose trial are checked
 * here by reading them: what `npm run build` reads must be in the image, the health check must ask an
 * endpoint Berth serves, and the trial must leave the host's database ports alone.
 */
const dockerfile = readFileSync("Dockerfile", "utf8");
const dockerignore = readFileSync(".dockerignore", "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const compose = readFileSync("docker-compose.yml", "utf8");

/** The instructions of one stage (FROM … AS name, or the last stage), continuation lines joined. */
function stage(name: string | "last"): string[] {
  const lines = dockerfile.replace(/\\\n\s*/g, " ").split("\n");
  const starts = lines.flatMap((l, i) => (/^FROM\s/i.test(l) ? [i] : []));
  const start =
    name === "last"
      ? starts[starts.length - 1]!
      : starts.find((i) => new RegExp(`\\sAS\\s+${name}\\s*$`, "i").test(lines[i]!))!;
  const end = starts.find((i) => i > start) ?? lines.length;
  return lines.slice(start, end).filter((l) => l.trim() && !l.trim().startsWith("#"));
}

/** The context paths a stage's COPY instructions take (not those copied from another stage). */
function copiedPaths(lines: string[]): string[] {
  return lines
    .filter((l) => /^COPY\s/i.test(l) && !/--from=/i.test(l))
    .flatMap((l) => l.trim().split(/\s+/).slice(1, -1))
    .map((p) => p.replace(/^\.\//, "").replace(/\/$/, ""));
}

const covered = (path: string, copied: string[]) =>
  copied.some((c) => path === c || path.startsWith(`${c}/`));
const ignored = (path: string) => dockerignore.some((i) => path === i || path.startsWith(`${i}/`));

/** The services of docker-compose.yml, each as its block of text. */
function services(): Record<string, string> {
  const body = compose.split(/^services:\n/m)[1]!.split(/^\S/m)[0]!;
  const out: Record<string, string> = {};
  for (const block of body.split(/^(?= {2}[\w-]+:)/m)) {
    const m = /^ {2}([\w-]+):/.exec(block);
    if (m) out[m[1]!] = block;
  }
  return out;
}

describe("the Dockerfile", () => {
  it("copies every input of `npm run build` into the build stage, none of them ignored", () => {
    const copied = copiedPaths(stage("build"));
    const inputs = [
      "package.json",
      "package-lock.json",
      "scripts/build-if-stale.mjs",
      "tsconfig.json",
      "tsconfig.build.json",
      "src/main.ts",
      "clients/web/vite.config.ts",
      "clients/web/index.html",
      "clients/web/src",
    ];
    for (const input of inputs) {
      expect(existsSync(input), input).toBe(true);
      expect(covered(input, copied), `${input} is not copied`).toBe(true);
      expect(ignored(input), `${input} is in .dockerignore`).toBe(false);
    }
    // The build script runs after everything it reads is in.
    const build = stage("build");
    const buildAt = build.findIndex((l) => /^RUN .*npm run build/.test(l));
    const lastCopy = build.findLastIndex((l) => /^COPY\s/.test(l));
    expect(buildAt).toBeGreaterThan(lastCopy);
  });

  it("has a HEALTHCHECK asking /readyz with Node (the slim image has no curl)", async () => {
    const check = stage("last").find((l) => /^HEALTHCHECK\s/.test(l));
    expect(check).toBeDefined();
    expect(check).toMatch(/CMD \["node", "-e", /);
    expect(check).toContain("/readyz");
    expect(check).not.toMatch(/curl|wget/);
    // The endpoint exists: Berth answers it.
    const sources = readdirSync("src", { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts") && !f.startsWith("gen"))
      .map((f) => readFileSync(join("src", f), "utf8"));
    expect(sources.some((text) => text.includes('"/readyz"'))).toBe(true);
  });
});

describe("docker-compose.yml", () => {
  const all = services();

  it("publishes no database or Redis port on the host", () => {
    for (const name of ["postgres", "mysql", "sqlserver", "oracle", "redis"]) {
      expect(all[name], name).toBeDefined();
      expect(all[name], `${name} publishes a port`).not.toMatch(/^\s+ports:/m);
    }
    for (const [name, block] of Object.entries(all))
      expect(block, name).not.toMatch(/["\s:](5432|3306|6379):/);
  });

  it("runs Berth on the Vault it starts, after the transit key exists", () => {
    const berth = all.berth!;
    expect(berth).toMatch(/BERTH_KMS: vault/);
    expect(berth).toMatch(/BERTH_VAULT_ADDR: http:\/\/vault:8200/);
    const token = /VAULT_DEV_ROOT_TOKEN_ID: (\S+)/.exec(all.vault!)![1];
    expect(berth).toContain(`BERTH_VAULT_TOKEN: ${token}`);
    const key = /BERTH_VAULT_KEY: (\S+)/.exec(berth)?.[1] ?? "berth";
    expect(all["vault-init"]).toContain(`transit/keys/${key}`);
    expect(berth).toMatch(/vault-init: \{ condition: service_completed_successfully \}/);
  });
});
