import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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
