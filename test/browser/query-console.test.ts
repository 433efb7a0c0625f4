import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium, seriousAxeViolations, signInToConsole } from "../support/browser.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const enabled = hasChromium() && postgresBinDir() !== undefined;
const PASSWORD = "query-console-pw";
const SHOTS = join(import.meta.dirname, "../../test-results/console");

/** The rows of the test table, as the grid, the CSV and the JSON must show them. */
const ITEMS = `INSERT INTO line_items VALUES
  (1, 'A-100', 3, 'plain'),
  (2, 'B,200', NULL, ''),
  (3, 'C"300', 5, NULL),
  (4, '=cmd|calc', 1, e'two\\nlines')`;
const EXPECTED_CSV =
  "order_id,sku,quantity,note\r\n" +
  "1,A-100,3,plain\r\n" +
  '2,"B,200",,""\r\n' +
  '3,"C""300",5,\r\n' +
  '4,\'=cmd|calc,1,"two\nlines"\r\n';
const EXPECTED_JSON = [
  { order_id: 1, sku: "A-100", quantity: 3, note: "plain" },
  { order_id: 2, sku: "B,200", quantity: null, note: "" },
  { order_id: 3, sku: 'C"300', quantity: 5, note: null },
  { order_id: 4, sku: "=cmd|calc", quantity: 1, note: "two\nlines" },
];

/**
 * The query console of issue #18 in a real Chromium against a real Berth and PostgreSQL: the
 * CodeMirror editor (Ctrl+Enter, completion from the schema browser, history, parameters), the
 * schema browser read through Berth's own Execute, and the result grid with its exports.
 */
describe.skipIf(!enabled)("the console's query page", () => {
  let pg: ThrowawayPostgres;
  let b: TestBerth;
  let browser: Browser;
  let page: Page;
  let queryUrl = "";

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pg = await startThrowawayPostgres({ password: PASSWORD });
    await pg.sql(
      "CREATE TABLE line_items (order_id int NOT NULL, sku text, quantity integer, note text); " +
        `${ITEMS}; CREATE SCHEMA sales; ` +
        "CREATE VIEW sales.order_totals AS SELECT order_id, sum(quantity) AS total FROM line_items GROUP BY 1",
    );
    b = await startTestBerth();
    const created = await b.api("/api/connections", {
      body: {
        name: "shop",
        type: "postgresql",
        server: "127.0.0.1",
        port: pg.port,
        database: "postgres",
        username: "postgres",
        password: PASSWORD,
        sslMode: "disable",
      },
    });
    expect(created.status, created.text).toBe(201);
    queryUrl = `${b.url}/#/connections/${created.body.id}/query`;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: b.url });
    page = await context.newPage();
    await signInToConsole(page, b.url, "admin", ADMIN_PASSWORD);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await b?.close();
    await pg?.destroy();
  });

  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}-${page.viewportSize()!.width}.png`), fullPage: true });
  const editor = () => page.getByRole("textbox", { name: "Statement" });
  const status = () => page.getByTestId("query-status");
  const schema = () => page.getByRole("navigation", { name: "Schema browser" });

  async function openQueryPage() {
    // A fresh page each time (a goto to the same address and hash would not load it again).
    await page.goto(queryUrl);
    await page.reload();
    await editor().waitFor();
    // The default schema opens by itself, with its tables.
    await schema().getByRole("button", { name: "line_items" }).waitFor({ timeout: 10_000 });
  }

  const seriousViolations = () => seriousAxeViolations(page);

  /** Tab until the focused element's accessible text matches, as a keyboard user would. */
  async function tabTo(name: RegExp, limit = 60) {
    for (let i = 0; i < limit; i++) {
      await page.keyboard.press("Tab");
      const focused = String(
        await page.evaluate(
          `(() => { const e = document.activeElement; return (e?.getAttribute("aria-label") || e?.textContent || "").trim(); })()`,
        ),
      );
      if (process.env.DEBUG_TABS) console.log(i, focused.slice(0, 40));
      if (name.test(focused)) return;
    }
    throw new Error(`${name} not reached by ${limit} tabs`);
  }

  it("browses schemas, tables and views with their columns' types, lazily, and searches them", async () => {
    await openQueryPage();
    const tree = schema();
    expect(await tree.getByRole("button", { name: /public/ }).getAttribute("aria-expanded")).toBe("true");
    await tree.getByRole("button", { name: "line_items" }).click();
    const columns = tree.getByRole("list", { name: "Columns of line_items" });
    expect(
      (await columns.getByRole("listitem").allTextContents()).map((t) => t.replace(/\s+/g, " ")),
    ).toEqual(["order_id integer not null", "sku text", "quantity integer", "note text"]);
    // Another schema's tables are read when it is opened, not before.
    expect(await tree.getByRole("button", { name: /order_totals/ }).count()).toBe(0);
    await tree.getByRole("button", { name: "sales" }).click();
    await tree.getByRole("button", { name: "order_totals view" }).waitFor();
    await tree.getByRole("button", { name: "order_totals view" }).click();
    await tree.getByRole("list", { name: "Columns of order_totals" }).getByText("bigint").waitFor();
    // Searching a column name shows the tables that have it, opened on it.
    await page.getByLabel("Search tables and columns").fill("total");
    await expect.poll(() => tree.getByRole("button", { name: "line_items" }).count()).toBe(0);
    expect(await tree.getByRole("button", { name: "order_totals view" }).count()).toBe(1);
    await page.getByLabel("Search tables and columns").fill("");
  });

  it("completes a column of a real table, after FROM and after table.", async () => {
    await openQueryPage();
    await editor().click();
    await page.keyboard.press("Control+A");
    await page.keyboard.type("SELECT * FROM line_items WHERE quan");
    const options = page.locator(".cm-tooltip-autocomplete li");
    await expect
      .poll(() => options.allTextContents(), { timeout: 5000 })
      .toContainEqual(expect.stringContaining("quantity"));
    await shot("query-completion");
    await page.keyboard.press("Enter");
    expect(await editor().textContent()).toBe("SELECT * FROM line_items WHERE quantity");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("SELECT line_items.sk");
    await expect
      .poll(() => options.allTextContents(), { timeout: 5000 })
      .toContainEqual(expect.stringContaining("sku"));
    await page.keyboard.press("Escape");
  });

  it("runs the statement at the cursor with Ctrl+Enter, or the selection; keeps a history; takes parameters", async () => {
    await openQueryPage();
    await editor().fill("SELECT 1 AS first;\nSELECT 2 AS second;");
    // The cursor is at the end, after the second statement.
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => status().textContent()).toMatch(/^1 row · SELECT · /);
    expect(await page.getByRole("columnheader").nth(1).textContent()).toContain("second");
    // The first line selected: only it runs.
    await page.keyboard.press("Control+Home");
    await page.keyboard.press("Shift+End");
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => page.getByRole("columnheader").nth(1).textContent()).toContain("first");
    // Parameters in the engine's spelling ($1 for PostgreSQL), NULL apart from text.
    await editor().fill("SELECT $1::int + 1 AS next, $2::text AS maybe");
    await page.getByLabel("$1").fill("41");
    await page.getByRole("checkbox", { name: "NULL" }).nth(1).check();
    await page.getByRole("button", { name: /^Run/ }).click();
    await expect.poll(() => page.getByRole("cell").first().textContent()).toBe("42");
    expect(await page.getByRole("cell").nth(1).getAttribute("class")).toContain("null");
    // What ran is kept for this connection, across a reload; a pick puts it back in the editor.
    await page.reload();
    await editor().waitFor();
    await page.getByText("History (3)").click();
    await page.getByRole("button", { name: "SELECT 2 AS second" }).click();
    expect(await editor().textContent()).toBe("SELECT 2 AS second");
  });

  it("lines header and cells up, keeps NULL apart from empty text, resizes, copies, and exports what it shows", async () => {
    await openQueryPage();
    await editor().fill("SELECT * FROM line_items ORDER BY order_id");
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => status().textContent()).toMatch(/^4 rows · SELECT · [\d.]+ ms$/);
    const xs = (loc: ReturnType<Page["locator"]>) =>
      loc.evaluateAll((els) =>
        els.map((e) => [
          Math.round(e.getBoundingClientRect().left),
          Math.round(e.getBoundingClientRect().right),
        ]),
      );
    const headers = page.locator(".grid-head > span");
    const firstRow = page.locator(".grid-row").first().locator(":scope > span");
    expect(await xs(firstRow)).toEqual(await xs(headers));
    // Row 2: quantity NULL, note empty text — told apart.
    const second = page.locator(".grid-row").nth(1).getByRole("cell");
    expect(await second.nth(2).textContent()).toBe("NULL");
    expect(await second.nth(2).getAttribute("class")).toContain("null");
    expect(await second.nth(3).textContent()).toBe("");
    expect(await second.nth(3).getAttribute("class")).not.toContain("null");
    // Resized from the keyboard, the column stays lined up with its cells.
    const width = (r: number[] | undefined) => r![1]! - r![0]!;
    const before = width((await xs(headers))[2]);
    await page.getByRole("separator", { name: "Resize column sku" }).focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowRight");
    expect(width((await xs(headers))[2]) - before).toBeGreaterThanOrEqual(40);
    expect(await xs(firstRow)).toEqual(await xs(headers));
    // Copy a cell, and its row.
    await second.nth(1).click();
    await page.getByRole("button", { name: "Copy cell" }).click();
    await expect.poll(() => page.evaluate("navigator.clipboard.readText()")).toBe("B,200");
    await page.getByRole("button", { name: "Copy row" }).click();
    await expect.poll(() => page.evaluate("navigator.clipboard.readText()")).toBe('2\tB,200\t\t""');
    await shot("query-workbench");
    // The exports are the result in the page, not a second run.
    const executes: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes("BrokerService/Execute")) executes.push(r.url());
    };
    page.on("request", onRequest);
    const [csv] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export CSV" }).click(),
    ]);
    expect(csv.suggestedFilename()).toMatch(/^result-.*\.csv$/);
    expect(readFileSync(await csv.path(), "utf8")).toBe(EXPECTED_CSV);
    const [json] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export JSON" }).click(),
    ]);
    expect(JSON.parse(readFileSync(await json.path(), "utf8"))).toEqual(EXPECTED_JSON);
    page.off("request", onRequest);
    expect(executes).toEqual([]);
  });

  it("shows when rows were cut at the row limit", async () => {
    await openQueryPage();
    await editor().fill("SELECT generate_series(1, 50) AS n");
    await page.getByLabel("Row limit").fill("10");
    await page.keyboard.press("Enter");
    await expect.poll(() => status().textContent()).toMatch(/^10 rows · .* · cut at the row limit \(10\)$/);
    expect(await page.getByTestId("truncated").textContent()).toContain("the first 10");
  });

  it("works from the keyboard alone: schema browser, run, pick and copy a cell, export", async () => {
    await openQueryPage();
    await tabTo(/^line_items$/);
    await page.keyboard.press("Enter");
    await schema().getByRole("list", { name: "Columns of line_items" }).waitFor();
    await tabTo(/^Statement$/);
    await page.keyboard.press("Control+A");
    await page.keyboard.type("SELECT sku FROM line_items ORDER BY order_id");
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => status().textContent()).toMatch(/^4 rows/);
    await tabTo(/^Rows$/);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Control+C");
    await expect.poll(() => page.evaluate("navigator.clipboard.readText()")).toBe("B,200");
    await page.keyboard.press("Shift+Tab");
    const focusedText = async () =>
      String(await page.evaluate("document.activeElement?.textContent?.trim()"));
    for (let i = 0; i < 10 && (await focusedText()) !== "Export CSV"; i++)
      await page.keyboard.press("Shift+Tab");
    expect(await focusedText()).toBe("Export CSV");
    const [csv] = await Promise.all([page.waitForEvent("download"), page.keyboard.press("Enter")]);
    expect(readFileSync(await csv.path(), "utf8")).toBe(
      `sku\r\nA-100\r\n"B,200"\r\n"C""300"\r\n'=cmd|calc\r\n`,
    );
  });

  it("has no serious or critical accessibility violations (axe-core), with a result and the schema open", async () => {
    await openQueryPage();
    await schema().getByRole("button", { name: "line_items" }).click();
    await editor().fill("SELECT * FROM line_items ORDER BY order_id");
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => status().textContent()).toMatch(/^4 rows/);
    // Completion's popup closed: its list scrolls without taking focus, by CodeMirror's design
    // (focus stays in the editor, the list follows by aria-activedescendant).
    await page.keyboard.press("Escape");
    expect(await seriousViolations()).toEqual([]);
  });

  it("fits at 390 px: the schema browser above the editor, the grid lined up, nothing wider than the screen", async () => {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      await openQueryPage();
      await editor().fill("SELECT *, repeat('wide ', 8) AS padding FROM line_items ORDER BY order_id");
      await page.keyboard.press("Control+Enter");
      await expect.poll(() => status().textContent()).toMatch(/^4 rows/);
      const xs = (sel: string) =>
        page.locator(sel).evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
      expect(await xs(".grid-row:first-child > span")).toEqual(await xs(".grid-head > span"));
      expect(
        Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")),
      ).toBeLessThanOrEqual(0);
      expect(await seriousViolations(), `at ${width}px`).toEqual([]);
      await shot("query-results");
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
