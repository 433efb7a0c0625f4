import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { OAuth2Server } from "oauth2-mock-server";
import pgDriver from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../support/browser.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  freePort,
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const enabled = hasChromium() && postgresBinDir() !== undefined;
const APP_PASSWORD = "console-app-pw-canary-7d21";
const VIEWER = { username: "vera-viewer", password: "vera-viewer-password-1" };
const SHOTS = join(import.meta.dirname, "../../test-results/console");
const WIDTHS = [1280, 390] as const;

/**
 * The web console in a real Chromium against a real Berth and a real (scram) PostgreSQL: the
 * journey of the console issue, then every page photographed at desktop and phone widths.
 */
describe.skipIf(!enabled)("the web console", () => {
  let pg: ThrowawayPostgres;
  let b: TestBerth;
  let browser: Browser;
  let page: Page;
  let connectionId = "";

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pg = await startThrowawayPostgres({ password: "console-superuser-pw" });
    await pg.sql(`CREATE ROLE app LOGIN PASSWORD '${APP_PASSWORD}'`);
    // With the PostgreSQL front door, whose clients the status page lists.
    b = await startTestBerth({ BERTH_PG_PORT: "0" });
    const created = await b.api("/api/users", { body: { ...VIEWER, role: "member" } });
    expect(created.status, created.text).toBe(201);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (err) => {
      throw err;
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await b?.close();
    await pg?.destroy();
  });

  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}-${page.viewportSize()!.width}.png`), fullPage: true });

  async function signIn(username: string, password: string) {
    await page.goto(`${b.url}/#/login`);
    await page.getByLabel("User name").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Connections" }).waitFor();
  }

  async function signOut() {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
  }

  it("signs in, and a wrong password fails at the sign-in stage with 28P01 and its remedy", async () => {
    await page.goto(b.url);
    await shot("login");
    await signIn("admin", ADMIN_PASSWORD);
    await page.getByRole("link", { name: "New connection" }).click();
    await page.getByLabel("Name", { exact: true }).fill("orders");
    await page.getByLabel("Host").fill("127.0.0.1");
    await page.getByLabel("Port").fill(String(pg.port));
    await page.getByLabel("Database", { exact: true }).fill("postgres");
    await page.getByLabel("User name").fill("app");
    await page.getByLabel("Password").fill("not-the-password");
    // The engine's TLS modes come from Berth's engine table: Oracle has no prefer and no require.
    await page.getByRole("radio", { name: "Oracle" }).check();
    expect(await page.getByLabel("TLS", { exact: true }).locator("option").allTextContents()).toEqual([
      "default (disable)",
      "disable — plain text",
      "verify-ca — TLS, trusted CA",
      "verify-full — TLS, trusted CA and host name",
    ]);
    await page.getByRole("radio", { name: "PostgreSQL" }).check();
    await page.getByLabel("TLS", { exact: true }).selectOption({ label: "disable — plain text" });
    await page.getByRole("button", { name: "Test" }).click();
    const signInStage = page.locator('li[data-stage="Sign-in"]');
    await expect.poll(() => signInStage.getAttribute("class")).toContain("failed");
    await expect.poll(() => signInStage.textContent()).toContain("28P01");
    expect(await signInStage.textContent()).toMatch(/authentication_failed/);
    expect(await signInStage.locator(".remedy").textContent()).toMatch(/What to do: The server rejected/);
    await shot("new-connection-failed-test");
  });

  it("with the right password every stage passes, and it saves", async () => {
    await page.getByLabel("Password").fill(APP_PASSWORD);
    await page.getByRole("button", { name: "Test" }).click();
    await page.getByText("Every stage passed").waitFor();
    expect(await page.locator("li.stage.failed").count()).toBe(0);
    expect(await page.locator("li.stage.passed").count()).toBeGreaterThanOrEqual(4);
    await shot("new-connection-passed-test");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("heading", { name: "orders" }).waitFor();
    connectionId = decodeURIComponent(new URL(page.url()).hash.split("/")[2]!);
    expect(connectionId).toMatch(/^[0-9a-f-]{36}$/);
    // Write-only: the password is nowhere in the page, not even in the edit form.
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Password").waitFor();
    expect(await page.getByLabel("Password").inputValue()).toBe("");
    expect(await page.content()).not.toContain(APP_PASSWORD);
    await shot("journey-connection-settings");
  });

  it("runs SELECT generate_series(1, 10000) and shows 10,000 rows, then status is healthy with pool numbers", async () => {
    await page.getByRole("link", { name: "Query console" }).click();
    await page.getByLabel("Statement").fill("SELECT generate_series(1, 10000) AS n");
    await page.getByRole("button", { name: /^Run/ }).click();
    await expect
      .poll(() => page.getByTestId("query-status").textContent(), { timeout: 15_000 })
      .toMatch(/^10,000 rows/);
    expect(await page.getByRole("row").nth(1).textContent()).toContain("1");
    // Virtualized: far fewer row elements than rows.
    expect(await page.locator(".grid-row").count()).toBeLessThan(200);
    await shot("journey-query-console");

    await page.getByRole("link", { name: "Status" }).click();
    await page.getByRole("button", { name: "Test now" }).click();
    await page.getByText("Every stage passed").waitFor();
    await expect.poll(() => page.getByTestId("status").textContent(), { timeout: 10_000 }).toBe("healthy");
    await expect
      .poll(() => page.getByTestId("pool-size").textContent(), { timeout: 10_000 })
      .toMatch(/^[1-9]\d* \/ 10$/);
    expect(Number(await page.getByTestId("pool-idle").textContent())).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId("pool-in-use").textContent()).toBe("0");
    // The charts draw from successive snapshots of the status stream (every 2 s).
    await page.getByRole("figure", { name: "Acquire wait p95" }).waitFor({ timeout: 10_000 });
    await page.getByRole("figure", { name: "Statement latency p95" }).waitFor();
    await shot("journey-connection-status");
  });

  it("lists the front door's clients on the status page, and says how to connect when there are none", async () => {
    await page.goto(`${b.url}/#/connections/${connectionId}/status`);
    const empty = page.getByTestId("fd-empty");
    await empty.waitFor({ timeout: 10_000 });
    expect(await empty.locator("code").textContent()).toBe(
      'psql "host=127.0.0.1 port=<port> dbname=orders user=admin"',
    );
    expect(await empty.textContent()).toContain("the port set by BERTH_PG_PORT");

    // A client in a transaction holds a backend: it shows as active, with who and where it is.
    const client = new pgDriver.Client({
      host: "127.0.0.1",
      port: b.berth.pgPort!,
      user: "admin",
      password: ADMIN_PASSWORD,
      database: "orders",
    });
    await client.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT 1");
      const table = page.getByRole("table", { name: "Front-door clients" });
      await table.waitFor({ timeout: 10_000 });
      expect(await page.getByTestId("fd-active").textContent()).toBe("1");
      const cells = await table.getByRole("row").nth(1).getByRole("cell").allTextContents();
      expect(cells.slice(0, 4)).toEqual(["admin", "127.0.0.1", "active", "—"]);
      expect(cells[5]).toBe("0");
      await shot("journey-front-door-clients");
      // Its transaction over, it is idle and has one to its name.
      await client.query("COMMIT");
      await expect.poll(() => page.getByTestId("fd-idle").textContent(), { timeout: 10_000 }).toBe("1");
      expect(await table.getByRole("row").nth(1).getByRole("cell").nth(5).textContent()).toBe("1");
    } finally {
      await client.end();
    }
    // Gone, the page says how to connect again.
    await empty.waitFor({ timeout: 10_000 });
  });

  it("lines each result column up under its header at 1280 and 390 px, also scrolled sideways", async () => {
    // Columns of very different widths (a short number, long and varying text, a decimal, digests),
    // wider together than the screen at both widths.
    const sql = `SELECT g AS id, repeat('wide text ', 1 + g % 5) AS description, g * 1.5 AS amount,
      md5(g::text) AS digest, g % 2 = 0 AS even, md5(g::text) || md5((g + 1)::text) AS token
      FROM generate_series(1, 500) g`;
    /** Each header cell's x-range against its column's cells in every row in view, in pixels. */
    // (A string: the tests are compiled without the DOM's types.)
    const misaligned = async () =>
      JSON.parse(
        String(
          await page.evaluate(`(() => {
            const ranges = (el) => [...el.querySelectorAll(":scope > span")].map((c) => {
              const r = c.getBoundingClientRect();
              return [Math.round(r.left), Math.round(r.right)];
            });
            const head = ranges(document.querySelector(".grid-head"));
            const rows = [...document.querySelectorAll(".grid-row")].map(ranges);
            const bad = [];
            rows.forEach((cells, r) => {
              if (cells.length !== head.length) bad.push("row " + r + ": " + cells.length + " cells, " + head.length + " headers");
              cells.forEach(([left, right], i) => {
                const [hl, hr] = head[i] ?? [NaN, NaN];
                if (Math.abs(left - hl) > 1 || Math.abs(right - hr) > 1)
                  bad.push("row " + r + " column " + i + ": cell " + left + ".." + right + ", header " + hl + ".." + hr);
              });
            });
            return JSON.stringify({ rows: rows.length, bad: bad.slice(0, 5) });
          })()`),
        ),
      ) as { rows: number; bad: string[] };
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      // A fresh page each time (a goto to the same address and hash would not load it again), and
      // the editor loaded (a lazy chunk) before anything is typed into it.
      await page.goto(`${b.url}/#/connections/${connectionId}/query`);
      await page.reload();
      await page.getByRole("textbox", { name: "Statement" }).waitFor();
      await page.getByLabel("Statement").fill(sql);
      await page.getByRole("button", { name: /^Run/ }).click();
      await expect
        .poll(() => page.getByTestId("query-status").textContent(), { timeout: 15_000 })
        .toMatch(/^500 rows/);
      const before = await misaligned();
      expect(before.rows).toBeGreaterThan(5);
      expect(before.bad, `at ${width}px`).toEqual([]);
      await shot("query-result");
      // Scrolled sideways, header and cells move together; and down, the header stays in view.
      const body = page.locator(".grid-body");
      await body.evaluate((el) => {
        el.scrollLeft = el.scrollWidth;
        el.scrollTop = 3000;
      });
      await expect.poll(() => body.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);
      const after = await misaligned();
      expect(after.bad, `at ${width}px scrolled`).toEqual([]);
      const head = await page.locator(".grid-head").boundingBox();
      const box = await body.boundingBox();
      expect(head!.y, "the header stays in view").toBeGreaterThanOrEqual(box!.y - 1);
      expect(head!.y + head!.height).toBeLessThanOrEqual(box!.y + box!.height);
      await shot("query-result-scrolled");
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("grants a second user viewer: they see the connection but no query console; revoked, it is gone", async () => {
    await page.getByRole("link", { name: "Access" }).click();
    await page.getByLabel("User or Google address").fill(VIEWER.username);
    await page.getByLabel("Level").selectOption({ label: "viewer" });
    await page.getByRole("button", { name: "Grant" }).click();
    await page.getByRole("cell", { name: VIEWER.username, exact: true }).waitFor();
    await shot("journey-connection-access");
    await signOut();

    await signIn(VIEWER.username, VIEWER.password);
    await page.getByRole("link", { name: "orders" }).click();
    await page.getByRole("heading", { name: "orders" }).waitFor();
    expect(await page.getByRole("link", { name: "Query console" }).count()).toBe(0);
    // Not even by typing the address: the page shows status instead.
    await page.goto(`${b.url}/#/connections/${connectionId}/query`);
    await page.getByTestId("status").waitFor();
    expect(await page.getByLabel("Statement").count()).toBe(0);
    await shot("viewer-connection");
    await signOut();

    await signIn("admin", ADMIN_PASSWORD);
    await page.goto(`${b.url}/#/connections/${connectionId}/access`);
    await page.getByRole("button", { name: `Revoke access of ${VIEWER.username}` }).click();
    await expect.poll(() => page.getByRole("cell", { name: VIEWER.username, exact: true }).count()).toBe(0);
    await signOut();

    await signIn(VIEWER.username, VIEWER.password);
    await page.getByText("No connections yet, or none shared with you.").waitFor();
    expect(await page.getByRole("link", { name: "orders" }).count()).toBe(0);
    await signOut();
  });

  it("shows the audit log to admins and verifies its chain", async () => {
    await signIn("admin", ADMIN_PASSWORD);
    await page.getByRole("link", { name: "Audit" }).click();
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByText(/The chain is intact: \d+ events checked\./).waitFor();
    await shot("journey-audit");
  });

  it("works at 1280 px and 390 px: every page photographed at both widths", async () => {
    const pages: [string, string][] = [
      ["connections", "#/connections"],
      ["new-connection", "#/connections/new"],
      ["connection-status", `#/connections/${connectionId}/status`],
      ["query-console", `#/connections/${connectionId}/query`],
      ["connection-access", `#/connections/${connectionId}/access`],
      ["connection-audit", `#/connections/${connectionId}/audit`],
      ["connection-settings", `#/connections/${connectionId}/settings`],
      ["audit", "#/audit"],
    ];
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      for (const [name, hash] of pages) {
        await page.goto(`${b.url}/${hash}`);
        await page.locator("main h1").first().waitFor();
        // The status page's charts draw from two or more snapshots of its stream.
        if (name === "connection-status")
          await page.getByRole("figure", { name: "Acquire wait p95" }).waitFor({ timeout: 10_000 });
        // Nothing wider than the screen but the tables and the grid, which scroll in their own box —
        // once the page has its data (a page still loading may be wider for a moment). What sticks
        // out is named in the failure.
        let overflow = 0;
        let offenders = "";
        for (const deadline = Date.now() + 3000; Date.now() < deadline; ) {
          overflow = Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
          if (overflow <= 0) break;
          offenders = String(
            await page.evaluate(
              `[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest(".table-wrap, .grid, .tabs")).slice(0, 6).map((e) => e.tagName.toLowerCase() + "." + e.className + " → " + Math.round(e.getBoundingClientRect().right)).join(", ")`,
            ),
          );
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(overflow, `${name} at ${width}px: ${offenders}`).toBeLessThanOrEqual(0);
        await shot(name);
      }
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await signOut();
    await shot("login");
  });

  it("can be used from the keyboard alone: sign in, reach a connection, run a statement", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    // Signed out, whatever the test before left behind.
    await page.goto(`${b.url}/#/login`);
    await page.evaluate("sessionStorage.clear()");
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await page.keyboard.press("Tab");
    await page.keyboard.type("admin");
    await page.keyboard.press("Tab");
    await page.keyboard.type(ADMIN_PASSWORD);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Connections" }).waitFor();
    await page.getByRole("link", { name: "orders" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("link", { name: "Query console" }).focus();
    await page.keyboard.press("Enter");
    await page.getByLabel("Statement").focus();
    await page.keyboard.press("Control+A");
    await page.keyboard.type("SELECT 42 AS answer");
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => page.getByTestId("query-status").textContent()).toMatch(/^1 row · SELECT/);
    await signOut();
  });

  it("serves the console with a strict Content-Security-Policy, and a client route gets the page", async () => {
    const res = await fetch(`${b.url}/`);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const route = await fetch(`${b.url}/connections/abc`);
    expect(await route.text()).toContain('<div id="root">');
    expect((await fetch(`${b.url}/nope.js`)).status).toBe(404);
  });
});

/**
 * "Sign in with Google" in the console. Google cannot be reached from here, so both of its parts
 * are doubles: the Google Identity Services script (google.accounts.id.initialize / renderButton,
 * whose callback receives `{ credential }`, as its public documentation describes) is served to
 * the page by the browser's request routing, and the ID token comes from oauth2-mock-server, whose
 * keys Berth is configured to trust.
 */
describe.skipIf(!enabled)("the web console's Google sign-in", () => {
  const CLIENT_ID = "berth-console-test.apps.googleusercontent.com";
  let google: OAuth2Server;
  let b: TestBerth;
  let browser: Browser;

  beforeAll(async () => {
    google = new OAuth2Server();
    await google.issuer.keys.generate("RS256");
    await google.start(await freePort(), "127.0.0.1");
    b = await startTestBerth({
      BERTH_GOOGLE_CLIENT_IDS: CLIENT_ID,
      BERTH_GOOGLE_JWKS_URL: `${google.issuer.url}/jwks`,
      BERTH_GOOGLE_ISSUERS: google.issuer.url!,
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await b?.close();
    await google?.stop();
  });

  it("shows the Google button when a client id is configured and signs in with the ID token", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.route("https://accounts.google.com/gsi/client", (route) =>
      route.fulfill({
        contentType: "text/javascript",
        body: `window.google = { accounts: { id: {
          initialize(options) { window.__gis = options; },
          renderButton(parent) {
            const b = document.createElement("button");
            b.type = "button";
            b.textContent = "Sign in with Google";
            b.onclick = () => window.__gis.callback({ credential: window.__credential });
            parent.append(b);
          },
        } } };`,
      }),
    );
    const idToken = await google.issuer.buildToken({
      expiresIn: 600,
      scopesOrTransform: (_h, payload) => {
        Object.assign(payload, {
          aud: CLIENT_ID,
          sub: "204242424242",
          email: "grace@example.com",
          email_verified: true,
        });
      },
    });
    await page.goto(`${b.url}/#/login`);
    await page.getByRole("button", { name: "Sign in with Google" }).waitFor();
    expect(await page.evaluate("window.__gis.client_id")).toBe(CLIENT_ID);
    await page.evaluate(`window.__credential = ${JSON.stringify(idToken)}`);
    await page.getByRole("button", { name: "Sign in with Google" }).click();
    await page.getByRole("heading", { name: "Connections" }).waitFor();
    await expect.poll(() => page.locator(".me").textContent()).toContain("google:204242424242");
    // The page allowed Google's script, and only that, beyond its own.
    const csp = (await fetch(`${b.url}/`)).headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self' https://accounts.google.com/gsi/");
    await page.close();
  });
});
