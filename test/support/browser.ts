import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, chromium, type Page } from "playwright-core";

/** Debian's chromium (installed by .ci/run); playwright-core never downloads a browser of its own. */
export const CHROMIUM = process.env.BERTH_CHROMIUM ?? "/usr/bin/chromium";

export function hasChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.BERTH_TEST_REQUIRE_SERVICES === "1")
    throw new Error(
      `chromium not found at ${CHROMIUM} (apt-get install chromium), and CI requires the browser tests`,
    );
  console.warn(`[browser] skipped: chromium not found at ${CHROMIUM}`);
  return false;
}

/**
 * Headless, as root in CI, with nothing reaching for the network this machine does not have.
 * playwright gives each launch a fresh, empty profile of its own.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

let axeSource: string | undefined;

/**
 * axe-core run in the page: its serious and critical violations, each as "rule: the first three
 * elements". Evaluated rather than added as a <script>: the console's Content-Security-Policy
 * refuses inline scripts, rightly.
 */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.evaluate(axeSource);
  return JSON.parse(
    String(
      await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) => JSON.stringify(
        r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => v.id + ": " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "))))`),
    ),
  ) as string[];
}

/**
 * A page's errors fail the test, and the page signs in to the console as `username`: the set-up
 * every console suite starts from.
 */
export async function signInToConsole(page: Page, baseUrl: string, username: string, password: string) {
  page.on("pageerror", (err) => {
    throw err;
  });
  await page.goto(`${baseUrl}/#/login`);
  await page.getByLabel("User name").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Connections" }).waitFor();
}
