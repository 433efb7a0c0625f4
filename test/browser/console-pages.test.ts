import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { hasChromium, launchChromium, seriousAxeViolations, signInToConsole } from "../support/browser.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import { withRawStore } from "../support/test-store.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const enabled = hasChromium() && postgresBinDir() !== undefined;
const APP_PASSWORD = "pages-app-pw-canary-41c9";
const MEMBER = { username: "mona-member", password: "mona-member-password-1" };
const SHOTS = join(import.meta.dirname, "../../test-results/console");
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/**
 * The console's status charts, connection form, and audit and access pages in a real Chromium
 * against a real Berth and PostgreSQL: what a person sees and does, at 1280 and 390 px, by mouse
 * and by keyboard, with an axe-core check of each page.
 */
describe.skipIf(!enabled)("the console's status, form, audit and access pages", () => {
  let pg: ThrowawayPostgres;
  let b: TestBerth;
  let browser: Browser;
  let page: Page;
  let connectionId = "";
  let memberId = "";
  let tokenId = "";

  beforeAll(async () => {
    pg = await startThrowawayPostgres({ password: "pages-superuser-pw" });
    await pg.sql(`CREATE ROLE app LOGIN PASSWORD '${APP_PASSWORD}'`);
    b = await startTestBerth();
    const created = await b.api("/api/connections", {
      body: {
        name: "orders",
        type: "postgresql",
        server: "127.0.0.1",
        port: pg.port,
        database: "postgres",
        username: "app",
        password: APP_PASSWORD,
        sslMode: "disable",
      },
    });
    expect(created.status, created.text).toBe(201);
    connectionId = created.body.id;
    const member = await b.api("/api/users", { body: { ...MEMBER, role: "member" } });
    expect(member.status, member.text).toBe(201);
    memberId = member.body.id;
    await b.api(`/api/connections/${connectionId}/access`, {
      body: { userId: memberId, accessLevel: "viewer" },
    });
    const token = await b.api("/api/tokens", {
      body: { name: "nightly-report", connectionIds: [connectionId], accessLevel: "user" },
    });
    expect(token.status, token.text).toBe(201);
    tokenId = token.body.serviceToken.id;
    // Events by the token (ok), by the member (a denial), and enough of them for two pages.
    for (let i = 0; i < 3; i++) await b.api(`/api/connections/${connectionId}`, { token: token.body.token });
    const login = await b.api("/api/auth/login", { body: MEMBER, token: null });
    for (let i = 0; i < 2; i++) await b.api("/api/audit", { token: login.body.token });
    for (let i = 0; i < 55; i++) await b.api("/api/connections");
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signInToConsole(page, b.url, "admin", ADMIN_PASSWORD);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await b?.close();
    await pg?.destroy();
  });

  /** The page at `hash`, loaded afresh (going to the same hash again would keep the form's state). */
  async function open(hash: string) {
    await page.goto(`${b.url}/${hash}`);
    await page.reload();
  }

  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}-${page.viewportSize()!.width}.png`), fullPage: true });

  const axeProblems = () => seriousAxeViolations(page);

  /** Nothing sticks out of the page sideways (what does is named). */
  async function overflow(): Promise<string> {
    return String(
      await page.evaluate(`(() => {
        const over = document.documentElement.scrollWidth - window.innerWidth;
        if (over <= 0) return "";
        return over + "px: " + [...document.querySelectorAll("body *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest(".table-wrap, .grid, .tabs"))
          .slice(0, 6).map((e) => e.tagName.toLowerCase() + "." + e.className).join(", ");
      })()`),
    );
  }

  /** Statements through Berth's data plane (the pool records their durations). */
  async function runStatements(n: number) {
    const { broker, call } = brokerClients(b.url, b.adminToken);
    for (let i = 0; i < n; i++)
      await collect(
        broker.execute(
          { target: { case: "connectionId", value: connectionId }, statement: stmt("SELECT pg_sleep(0.02)") },
          call,
        ),
      );
  }

  it("status: three charts with titled axes, a time scale, a readout under the mouse and the arrow keys", async () => {
    await runStatements(5);
    await page.goto(`${b.url}/#/connections/${connectionId}/status`);
    // Two snapshots of the stream (2 s apart) and the charts draw.
    const charts = page.locator("figure.time-chart");
    await expect.poll(() => charts.count(), { timeout: 15_000 }).toBe(3);
    expect(await charts.locator("figcaption strong").allTextContents()).toEqual([
      "Acquire wait p95",
      "Statement latency p95",
      "Sessions",
    ]);
    expect(await charts.locator(".axis-title.y").allTextContents()).toEqual([
      "milliseconds",
      "milliseconds",
      "sessions",
    ]);
    expect(await charts.first().locator(".axis-title.x").textContent()).toBe("time (your clock)");
    // uPlot drew on its canvas, at the chart's width.
    const canvas = await charts.first().locator("canvas").boundingBox();
    expect(canvas!.width).toBeGreaterThan(200);
    // Its live legend names each series; the sessions chart has three.
    expect(await charts.nth(2).locator(".u-legend .u-series th").allTextContents()).toEqual([
      "Time",
      "In use",
      "Idle",
      "Waiting",
    ]);

    // Away from the chart, the readout says the latest values; under the mouse, the point's.
    const latency = charts.nth(1);
    const values = latency.locator(".u-legend .u-series td.u-value");
    await expect.poll(() => values.first().textContent()).toMatch(/^latest, \d{1,2}:\d{2}:\d{2}/);
    const over = await latency.locator(".u-over").boundingBox();
    await page.mouse.move(over!.x + over!.width - 3, over!.y + over!.height / 2);
    await expect.poll(() => values.first().textContent()).toMatch(/^\d{1,2}:\d{2}:\d{2}/);
    expect(await values.nth(1).textContent()).toMatch(/^\d+\.\d{2} ms$/);
    const statementP95 = Number.parseFloat((await values.nth(1).textContent())!);
    expect(statementP95, "pg_sleep(0.02) takes 20 ms").toBeGreaterThanOrEqual(15);
    await shot("status-chart-hover");

    // The keyboard's hover: focus the chart, ← moves the readout to the point before.
    await page.mouse.move(0, 0);
    const wait = charts.first();
    await wait.locator(".time-chart-plot").focus();
    await page.keyboard.press("End");
    const timeCell = wait.locator(".u-legend td.u-value").first();
    await expect.poll(() => timeCell.textContent()).toMatch(/^\d{1,2}:\d{2}:\d{2}/);
    const last = await timeCell.textContent();
    await page.keyboard.press("ArrowLeft");
    await expect.poll(() => timeCell.textContent()).not.toBe(last);

    // Each host's check latency as a sparkline beside its number.
    const spark = page.getByRole("table", { name: "Hosts" }).locator("svg.sparkline");
    await expect.poll(() => spark.count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    expect(await spark.first().getAttribute("aria-label")).toMatch(
      new RegExp(`^Check latency of 127\\.0\\.0\\.1:${pg.port}: \\d+ samples from`),
    );
    expect((await axeProblems()).join("; ")).toBe("");
  });

  it("form: the engine picker switches to each engine's own fields", async () => {
    await open("#/connections/new");
    const label = (text: string) => page.getByLabel(text, { exact: true });
    const visible = async (...names: string[]) =>
      Promise.all(names.map(async (n) => [n, await label(n).count()] as const));
    await page.getByRole("radio", { name: "SQL Server" }).check();
    expect(await visible("Instance name", "Strict encryption (TDS 8.0)", "Service name", "SID")).toEqual([
      ["Instance name", 1],
      ["Strict encryption (TDS 8.0)", 1],
      ["Service name", 0],
      ["SID", 0],
    ]);
    expect(await label("Port").getAttribute("placeholder")).toBe("1433");
    await page.getByRole("radio", { name: "Oracle" }).check();
    expect(await visible("Instance name", "Service name", "SID", "Database", "TLS server name")).toEqual([
      ["Instance name", 0],
      ["Service name", 1],
      ["SID", 1],
      ["Database", 0],
      ["TLS server name", 0],
    ]);
    expect(await label("TLS").locator("option").allTextContents()).toEqual([
      "default (disable)",
      "disable — plain text",
      "verify-ca — TLS, trusted CA",
      "verify-full — TLS, trusted CA and host name",
    ]);
    // Oracle's default is plain TCP: no certificate fields until a TLS mode is chosen.
    await page.getByTestId("tls-off").waitFor();
    expect(await label("CA certificate (PEM)").count()).toBe(0);
    await label("TLS").selectOption({ label: "verify-full — TLS, trusted CA and host name" });
    expect(await label("CA certificate (PEM)").count()).toBe(1);
    expect(await label("Client key (PEM)").getAttribute("type")).toBe("password");
    await page.getByRole("radio", { name: "MySQL/MariaDB" }).check();
    expect(await label("Port").getAttribute("placeholder")).toBe("3306");
    expect(await page.getByText("Front-door pooling").count()).toBe(0);
    await page.getByRole("radio", { name: "PostgreSQL" }).check();
    expect(await label("Front-door pooling").count()).toBe(1);
    expect(await label("Database").count()).toBe(1);
    // Every section is there, named.
    expect(await page.locator("fieldset.form-section > legend").allTextContents()).toEqual([
      "Connection",
      "Credentials",
      "TLS",
      "SSH tunnel",
      "Replicas",
      "Pool",
    ]);
    await shot("new-connection-form");
    expect((await axeProblems()).join("; ")).toBe("");
  });

  it("form: the server's field errors show next to their fields, and a PEM file is read into its field", async () => {
    await open("#/connections/new");
    const field = (name: string) => page.locator(`[data-field="${name}"]`);
    await page.getByLabel("Name", { exact: true }).fill("orders-two");
    await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
    await page.getByLabel("Port", { exact: true }).fill("70000");
    await page.getByLabel("User name", { exact: true }).fill("app");
    await page.getByLabel("Password", { exact: true }).fill("x");
    // A "certificate" from a file: read into the field, then refused by the server as no certificate.
    await page.getByLabel("CA certificate (PEM): read from a file").setInputFiles({
      name: "ca.pem",
      mimeType: "application/x-pem-file",
      buffer: Buffer.from(
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
      ),
    });
    await expect
      .poll(() => page.getByLabel("CA certificate (PEM)", { exact: true }).inputValue())
      .toMatch(/^-----BEGIN CERTIFICATE-----\nbm90/);
    expect(await field("caCertificate").getByRole("status").textContent()).toBe("Read from ca.pem.");
    await page.getByRole("button", { name: "Add a replica" }).click();
    await page.getByLabel("Replica 1 host").fill("bad host!");
    await page.getByLabel("Replica 1 port").fill("5432");
    await page.getByRole("button", { name: "Save", exact: true }).click();

    await field("port").locator(".field-error").waitFor();
    expect(await field("port").locator(".field-error").textContent()).toMatch(
      /must be an integer from 1 to 65535/,
    );
    expect(await page.getByLabel("Port", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    expect(await field("caCertificate").locator(".field-error").textContent()).toMatch(/certificate/i);
    expect(await field("replicas[0].server").locator(".field-error").count()).toBe(1);
    // The error is the field's description, and the first field in error has the focus.
    const describedBy = await page.getByLabel("Port", { exact: true }).getAttribute("aria-describedby");
    expect(await page.locator(`[id="${describedBy!.split(" ")[0]}"]`).textContent()).toMatch(/65535/);
    await expect.poll(() => page.evaluate("document.activeElement?.name")).toBe("port");
    expect(await page.getByRole("alert").first().textContent()).toMatch(/Some fields need attention/);
    // Nothing was saved.
    expect((await b.api("/api/connections")).body.connections.map((c: { name: string }) => c.name)).toEqual([
      "orders",
    ]);
    // A number field holding letters is caught before anything is sent.
    await page.getByLabel("Port", { exact: true }).fill("54x2");
    await page.getByRole("button", { name: "Test" }).click();
    expect(await field("port").locator(".field-error").textContent()).toMatch(/whole number/);
    await shot("new-connection-field-errors");
    expect((await axeProblems()).join("; ")).toBe("");
  });

  it("form: Test shows the stages as they are answered, before anything is saved; then Save", async () => {
    await open("#/connections/new");
    await page.getByLabel("Name", { exact: true }).fill("orders-copy");
    await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
    await page.getByLabel("Port", { exact: true }).fill(String(pg.port));
    await page.getByLabel("Database", { exact: true }).fill("postgres");
    await page.getByLabel("User name", { exact: true }).fill("app");
    await page.getByLabel("Password", { exact: true }).fill(APP_PASSWORD);
    await page.getByLabel("TLS", { exact: true }).selectOption({ label: "disable — plain text" });
    // The sign-in is held back until the stages before it are seen.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route("**/berth.v1.ConnectionService/TestConnection", async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole("button", { name: "Test" }).click();
    const live = page.getByRole("region", { name: "Connection test in progress" });
    await live.locator('li.passed[data-stage="TCP"]').waitFor({ timeout: 10_000 });
    expect(await live.locator('li[data-stage="DNS"]').getAttribute("class")).toContain("passed");
    expect(await live.locator('li[data-stage="Sign-in"]').getAttribute("class")).toMatch(/running|waiting/);
    expect(await live.locator("li.running").count()).toBe(1);
    expect(await page.getByRole("button", { name: "Testing…" }).isDisabled()).toBe(true);
    await shot("new-connection-test-live");
    release();
    await page.getByText("Every stage passed").waitFor();
    expect(await page.locator('li.stage.passed[data-stage="Sign-in"]').count()).toBe(1);
    await page.unroute("**/berth.v1.ConnectionService/TestConnection");
    await shot("new-connection-test-passed");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("heading", { name: "orders-copy" }).waitFor();
    expect(await page.content()).not.toContain(APP_PASSWORD);
  });

  it("form, editing: says when Test would check the saved settings rather than the changes", async () => {
    await open(`#/connections/${connectionId}/settings`);
    const note = page.getByTestId("tests-saved");
    await page.getByLabel("Host", { exact: true }).waitFor();
    expect(await note.count()).toBe(0);
    await page.getByLabel("Host", { exact: true }).fill("localhost");
    await note.waitFor();
    expect(await note.textContent()).toMatch(/Test checks the saved settings, not your changes/);
    // With the credentials typed, Test checks the form as it is.
    await page.getByLabel("Password", { exact: true }).fill(APP_PASSWORD);
    await page.getByLabel("User name", { exact: true }).fill("app");
    expect(await note.count()).toBe(0);
    expect(await page.getByLabel("Password", { exact: true }).inputValue()).toBe(APP_PASSWORD);
    await open("#/connections");
  });

  it("audit: names instead of ids, and each filter narrows the list", async () => {
    await page.goto(`${b.url}/#/audit`);
    const table = page.getByRole("table", { name: "Audit events" });
    const rows = table.locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(50);
    const column = (label: string) => table.locator(`tbody td[data-label="${label}"]`).allTextContents();
    // Users, tokens and connections by name; none of their ids anywhere in the table.
    const text = (await table.textContent())!;
    for (const id of [memberId, tokenId, connectionId]) expect(text).not.toContain(id);
    expect(await column("Target")).toContain("orders connection");

    const outcome = page.getByLabel("Outcome");
    await outcome.selectOption("denied");
    await expect.poll(async () => new Set(await column("Outcome"))).toEqual(new Set(["denied not_admin"]));
    expect(new Set(await column("Who"))).toEqual(new Set([MEMBER.username]));
    await outcome.selectOption("");

    await page.getByLabel("Actor").selectOption({ label: "nightly-report (token)" });
    await expect
      .poll(async () => new Set(await column("Who")))
      .toEqual(new Set(["nightly-report service token"]));
    expect(await rows.count()).toBe(3);
    await page.getByLabel("Actor").selectOption({ label: "anyone" });

    await page.getByLabel("Connection").selectOption({ label: "orders" });
    await expect
      .poll(async () => new Set((await column("Target")).map((t) => t.replace(/ connection$/, ""))))
      .toEqual(new Set(["orders"]));

    // A window in the future holds nothing.
    await page.getByRole("button", { name: "Clear filters" }).click();
    await page.getByLabel("From").fill("2999-01-01T00:00");
    await page.getByText("No events match these filters.").waitFor();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => rows.count()).toBe(50);
    expect(UUID.test((await column("Who")).join(" "))).toBe(false);
    expect((await axeProblems()).join("; ")).toBe("");
  });

  it("audit: pages from the newest back and forth", async () => {
    await page.goto(`${b.url}/#/audit`);
    const pageInfo = page.getByTestId("audit-page");
    await expect.poll(() => pageInfo.textContent()).toMatch(/^Page 1 · events #\d+–#\d+$/);
    const first = (await pageInfo.textContent())!;
    const [, low1] = first.match(/#(\d+)–/)!;
    expect(await page.getByRole("button", { name: "← Newer" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Older →" }).click();
    await expect.poll(() => pageInfo.textContent()).toMatch(/^Page 2 · events/);
    const [, , high2] = (await pageInfo.textContent())!.match(/#(\d+)–#(\d+)/)!;
    expect(Number(high2)).toBe(Number(low1) - 1);
    await page.getByRole("button", { name: "← Newer" }).click();
    // Back at the newest (reading the log is itself audited: it has grown meanwhile).
    await expect.poll(() => pageInfo.textContent()).toMatch(/^Page 1 · events/);
    const [, , high1] = (await pageInfo.textContent())!.match(/#(\d+)–#(\d+)/)!;
    expect(Number(high1)).toBeGreaterThan(Number(first.match(/–#(\d+)/)![1]));
  });

  it("audit: its columns fit at 1280 px, and each event is a stacked card at 390 px", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${b.url}/#/audit`);
    const table = page.getByRole("table", { name: "Audit events" });
    await expect.poll(() => table.locator("tbody tr").count()).toBe(50);
    const wrap = page.locator(".audit-wrap");
    expect(
      await wrap.evaluate((el) => el.scrollWidth - el.clientWidth),
      "no sideways scrolling",
    ).toBeLessThanOrEqual(0);
    expect(await overflow()).toBe("");
    await shot("audit-names");

    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => overflow()).toBe("");
    expect(await wrap.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
    const cells = await table
      .locator("tbody tr")
      .first()
      .locator("td")
      .evaluateAll((tds) =>
        tds.map((td) => td.getBoundingClientRect()).map((r) => [r.left, r.top, r.bottom]),
      );
    expect(cells).toHaveLength(6);
    for (let i = 1; i < cells.length; i++) {
      expect(Math.abs(cells[i]![0]! - cells[0]![0]!), "cells share their left edge").toBeLessThan(2);
      expect(cells[i]![1]!, "each cell below the one before").toBeGreaterThanOrEqual(cells[i - 1]![2]! - 1);
    }
    // Each value keeps its label (the header row is hidden on a phone).
    expect(
      await table
        .locator("tbody tr")
        .first()
        .locator('td[data-label="Who"]')
        .evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el, "::before").content),
    ).toBe('"Who"');
    await shot("audit-stacked");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("access: grants and the service tokens that reach the connection, by name", async () => {
    await page.goto(`${b.url}/#/connections/${connectionId}/access`);
    await page.getByRole("cell", { name: MEMBER.username, exact: true }).waitFor();
    const tokens = page.getByRole("table", { name: "Service tokens" });
    await tokens.getByRole("cell", { name: "nightly-report", exact: true }).waitFor();
    expect((await page.locator("main").textContent())!).not.toContain(memberId);
    expect((await axeProblems()).join("; ")).toBe("");

    // A connection's admin who is no global admin (and may not list users) sees names too.
    const ari = { username: "ari-conn-admin", password: "ari-conn-admin-password-1" };
    const created = await b.api("/api/users", { body: { ...ari, role: "member" } });
    await b.api(`/api/connections/${connectionId}/access`, {
      body: { userId: created.body.id, accessLevel: "admin" },
    });
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await other.goto(`${b.url}/#/login`);
      await other.getByLabel("User name").fill(ari.username);
      await other.getByLabel("Password").fill(ari.password);
      await other.getByRole("button", { name: "Sign in" }).click();
      await other.getByRole("heading", { name: "Connections" }).waitFor();
      await other.goto(`${b.url}/#/connections/${connectionId}/access`);
      await other.getByRole("cell", { name: MEMBER.username, exact: true }).waitFor();
      const grants = (await other.getByRole("table", { name: "Grants" }).textContent())!;
      expect(grants).toContain("admin");
      expect(UUID.test(grants), grants).toBe(false);
      // Its Audit tab shows the connection's events, and asks for nothing ari may not read: each
      // refusal would be a denial in the log.
      await other.goto(`${b.url}/#/connections/${connectionId}/audit`);
      await expect.poll(() => other.locator("table.audit-table tbody tr").count()).toBeGreaterThan(0);
      const denied = await b.api(`/api/audit?actorId=${created.body.id}&outcome=denied`);
      expect(denied.status, denied.text).toBe(200);
      expect(denied.body.events).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it("every page of this part, at 1280 and 390 px: no sideways overflow, axe-clean, photographed", async () => {
    const pages: [string, string][] = [
      ["connection-status", `#/connections/${connectionId}/status`],
      ["new-connection", "#/connections/new"],
      ["connection-settings", `#/connections/${connectionId}/settings`],
      ["connection-access", `#/connections/${connectionId}/access`],
      ["connection-audit", `#/connections/${connectionId}/audit`],
      ["audit", "#/audit"],
    ];
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      for (const [name, hash] of pages) {
        await page.goto(`${b.url}/${hash}`);
        await page.locator("main h1").first().waitFor();
        if (name === "connection-status")
          await expect.poll(() => page.locator("figure.time-chart").count(), { timeout: 15_000 }).toBe(3);
        if (name.includes("audit"))
          await expect.poll(() => page.locator("table.audit-table tbody tr").count()).toBeGreaterThan(0);
        await expect.poll(() => overflow(), { message: `${name} at ${width}px` }).toBe("");
        expect((await axeProblems()).join("; "), `${name} at ${width}px`).toBe("");
        await shot(`pages-${name}`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("keyboard only: reach the form, pick an engine with the arrows, reach Test; page the audit log", async () => {
    await open("#/connections/new");
    await page.getByLabel("Name", { exact: true }).waitFor();
    // From the top of the page, Tab reaches the engine picker; arrows choose an engine.
    await page.locator("body").focus();
    const focused = () =>
      page.evaluate("document.activeElement?.name || document.activeElement?.textContent");
    for (let i = 0; i < 12 && (await focused()) !== "type"; i++) await page.keyboard.press("Tab");
    expect(await focused()).toBe("type");
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => page.getByRole("radio", { name: "MySQL/MariaDB" }).isChecked()).toBe(true);
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("name");
    for (let i = 0; i < 40 && (await focused()) !== "Test"; i++) await page.keyboard.press("Tab");
    expect(await focused()).toBe("Test");

    await page.goto(`${b.url}/#/audit`);
    await expect.poll(() => page.locator("table.audit-table tbody tr").count()).toBe(50);
    await page.getByRole("button", { name: "Older →" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.getByTestId("audit-page").textContent()).toMatch(/^Page 2/);
  });

  it("audit: Verify names the first broken link and shows that event", async () => {
    const victim = 7;
    await withRawStore(b.dataDir, (raw) =>
      raw.run("update audit_events set reason = 'nothing to see' where seq = ?", victim),
    );
    await page.goto(`${b.url}/#/audit`);
    await page.getByRole("button", { name: "Verify" }).click();
    const alert = page.locator(".verify-broken");
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`The chain is broken at event #${victim}:`);
    await page.getByRole("button", { name: `Show event #${victim}` }).click();
    const row = page.locator(`tr[data-seq="${victim}"]`);
    await row.waitFor();
    expect(await row.getAttribute("class")).toContain("broken");
    expect(await row.textContent()).toContain("first broken link");
    expect(await page.locator("table.audit-table tbody tr").first().getAttribute("data-seq")).toBe(
      String(victim),
    );
    await shot("audit-broken-chain");
    expect((await axeProblems()).join("; ")).toBe("");
  });
});
