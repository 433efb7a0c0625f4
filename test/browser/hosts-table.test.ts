import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { hasChromium, launchChromium, signInToConsole } from "../support/browser.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  startThrowawayReplica,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const enabled = hasChromium() && postgresBinDir() !== undefined;
const PASSWORD = "hosts-table-pw";
const SHOTS = join(import.meta.dirname, "../../test-results/console");

/**
 * The console's hosts table through a failover: each host's observed role, what it does now,
 * timeline and lag; a warning while no host is primary; the promoted replica shown as the primary
 * it became (saved as a replica).
 */
describe.skipIf(!enabled)("the console's hosts table", () => {
  let primary: ThrowawayPostgres;
  let replica: ThrowawayPostgres;
  let b: TestBerth;
  let browser: Browser;
  let page: Page;
  let id: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    primary = await startThrowawayPostgres({ password: PASSWORD, conf: ["wal_keep_size='128MB'"] });
    replica = await startThrowawayReplica(primary);
    b = await startTestBerth({ BERTH_HEALTH_INTERVAL_MS: "500" });
    const created = await b.api("/api/connections", {
      body: {
        name: "replicated",
        type: "postgresql",
        server: "127.0.0.1",
        port: primary.port,
        database: "postgres",
        username: "postgres",
        password: PASSWORD,
        sslMode: "disable",
        replicas: [{ server: "127.0.0.1", port: replica.port }],
      },
    });
    expect(created.status, created.text).toBe(201);
    id = created.body.id;
    // The pools (and their checks) open with the first call.
    const client = brokerClients(b.url, b.adminToken);
    await collect(
      client.broker.execute(
        { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1"), intent: Intent.READ },
        client.call,
      ),
    );
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signInToConsole(page, b.url, "admin", ADMIN_PASSWORD);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await b?.close();
    await replica?.destroy();
    await primary?.destroy();
  });

  const cells = (slot: string) => page.getByTestId(`host-${slot}`).getByRole("cell").allTextContents();

  it("shows each host's role, duty and timeline, no primary, and the promoted replica taking writes", async () => {
    await page.goto(`${b.url}/#/connections/${id}/status`);
    await page.getByRole("table", { name: "Hosts" }).waitFor({ timeout: 10_000 });
    await expect
      .poll(async () => (await cells("server")).slice(1, 3), { timeout: 10_000 })
      .toEqual(["primary", "takes writes"]);
    expect((await cells("server"))[4]).toBe("1");
    const replicaRow = await cells("replicas[0]");
    expect(replicaRow.slice(1, 3)).toEqual(["replica", "serves reads"]);
    expect(replicaRow[5]).toMatch(/^\d+ ms$/);

    await primary.stop("immediate");
    await page.getByText("No host is the primary now").waitFor({ timeout: 10_000 });
    await replica.promote();
    await expect
      .poll(async () => (await cells("replicas[0]")).slice(1, 3), { timeout: 10_000 })
      .toEqual(["primary (saved as replica)", "takes writes"]);
    expect((await cells("replicas[0]"))[4]).toBe("2");
    expect((await cells("replicas[0]"))[7]).not.toBe("—");
    expect(await page.getByText("No host is the primary now").count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, "hosts-after-failover-1280.png"), fullPage: true });
  }, 40_000);
});
