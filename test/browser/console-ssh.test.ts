import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium, seriousAxeViolations, signInToConsole } from "../support/browser.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { type Sshd, startSshd } from "../support/sshd.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";

const enabled = hasChromium() && (await serviceAvailable("postgres"));
const SHOTS = join(import.meta.dirname, "../../test-results/console");
const NAME = "orders-via-bastion";

/**
 * The connection form's SSH section in a real Chromium, against a real Berth, a real OpenSSH bastion
 * (test/support/sshd.ts) and the local PostgreSQL behind it: a tunnelled connection is created, its
 * bastion's host key confirmed from the first test and pinned, tested and saved; editing it keeps
 * the tunnel; the server's ssh.* field errors show next to their fields; the section is axe-clean
 * and photographed at 1280 and 390 px.
 */
describe.skipIf(!enabled)("the connection form's SSH tunnel", () => {
  let sshd: Sshd;
  let b: TestBerth;
  let browser: Browser;
  let page: Page;
  let connectionId = "";

  beforeAll(async () => {
    sshd = await startSshd();
    b = await startTestBerth({ BERTH_CONNECT_TIMEOUT_MS: "5000" });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Shorter than the test's own timeout, so that a wait that fails says which.
    page.setDefaultTimeout(15_000);
    await signInToConsole(page, b.url, "admin", ADMIN_PASSWORD);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await b?.close();
    await sshd?.close();
  });

  const label = (text: string) => page.getByLabel(text, { exact: true });
  const field = (name: string) => page.locator(`[data-field="${name}"]`);

  /** The page at `hash`, loaded afresh (going to the same hash again would keep the form's state). */
  async function open(hash: string) {
    await page.goto(`${b.url}/${hash}`);
    await page.reload();
    await label("Name").waitFor();
  }

  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}-${page.viewportSize()!.width}.png`), fullPage: true });

  const axeProblems = async () => (await seriousAxeViolations(page)).join("; ");

  /** Nothing sticks out of the page sideways (what does is named). */
  async function overflow(): Promise<string> {
    return String(
      await page.evaluate(`(() => {
        const over = document.documentElement.scrollWidth - window.innerWidth;
        if (over <= 0) return "";
        return over + "px: " + [...document.querySelectorAll("body *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          .slice(0, 8).map((e) => e.tagName.toLowerCase() + "." + e.className).join(", ")
          + " | wide: " + [...document.querySelectorAll("body *")].filter((e) => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
          .slice(0, 8).map((e) => e.tagName.toLowerCase() + "." + e.className + ":" + e.scrollWidth + "/" + e.clientWidth).join(", ");
      })()`),
    );
  }

  /** The database part of the form: as the bastion sees it (the local PostgreSQL, trust auth). */
  async function fillDatabase(name: string) {
    await label("Name").fill(name);
    await label("Host").fill("127.0.0.1");
    await label("Port").fill(String(LOCAL.postgres.port));
    await label("Database").fill(LOCAL.postgres.database);
    await label("User name").fill(LOCAL.postgres.user);
    await label("TLS").selectOption({ label: "disable — plain text" });
  }

  it("off, the section is its switch alone; on, it shows the bastion's fields; axe-clean at 1280 and 390 px", async () => {
    await open("#/connections/new");
    const section = page.locator("#section-ssh");
    expect(await section.locator("legend").textContent()).toBe("SSH tunnel");
    expect(await section.locator("input, textarea, select").count()).toBe(1);
    expect(await label("SSH host").count()).toBe(0);
    await label("Reach the database through an SSH bastion").check();
    for (const name of [
      "SSH host",
      "SSH port",
      "SSH user",
      "SSH private key",
      "Key passphrase",
      "SSH password",
    ])
      expect(await label(name).count(), name).toBe(1);
    expect(await label("SSH port").getAttribute("placeholder")).toBe("22");
    expect(await label("SSH host key").getAttribute("placeholder")).toMatch(/^ssh-ed25519 /);
    expect(await page.getByLabel("SSH private key: read from a file").getAttribute("accept")).toMatch(
      /\.pem.*\.key/,
    );
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      await section.scrollIntoViewIfNeeded();
      expect(await overflow(), `at ${width}px`).toBe("");
      expect(await axeProblems(), `at ${width}px`).toBe("");
      await shot("new-connection-ssh");
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("creates a tunnelled connection: Test shows the bastion's key, Trust pins it, Test passes, Save", async () => {
    await open("#/connections/new");
    await fillDatabase(NAME);
    await label("Password").fill("");
    await label("Reach the database through an SSH bastion").check();
    await label("SSH host").fill(sshd.host);
    await label("SSH port").fill(String(sshd.port));
    await label("SSH user").fill(sshd.user);
    // The key from a file, read in the browser into the field (masked, its lines kept).
    await page.getByLabel("SSH private key: read from a file").setInputFiles({
      name: "bastion.key",
      mimeType: "application/x-pem-file",
      buffer: Buffer.from(sshd.keys.ed25519.privateKey),
    });
    await expect.poll(() => label("SSH private key").inputValue()).toBe(sshd.keys.ed25519.privateKey.trim());
    expect(await field("sshPrivateKey").getByRole("status").textContent()).toBe("Read from bastion.key.");

    // The first test: the ssh stages are shown live, then it stops at the host key.
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
    const liveStages = await live.locator("li").evaluateAll((lis) => lis.map((li) => li.dataset.stage));
    expect(liveStages).toEqual(expect.arrayContaining(["SSH: handshake", "SSH: host key", "SSH: forward"]));
    expect(liveStages.indexOf("SSH: forward")).toBeLessThan(liveStages.indexOf("Sign-in"));
    release();
    const confirm = page.getByRole("region", { name: "Confirm the bastion's host key" });
    await confirm.waitFor({ timeout: 15_000 });
    await page.unroute("**/berth.v1.ConnectionService/TestConnection");
    expect(await page.locator('li.stage.failed[data-stage="SSH: host key"] .reason').textContent()).toBe(
      "ssh_host_key_unknown",
    );
    expect(await confirm.getByTestId("offered-host-key").textContent()).toBe(sshd.hostKey);
    // The fingerprint shown is the one the bastion's own tool prints for its key.
    const own = execFileSync("ssh-keygen", ["-lf", join(sshd.dir, "host_ed25519.pub")], { encoding: "utf8" });
    const fingerprint = await confirm.getByTestId("offered-fingerprint").textContent();
    expect(fingerprint).toMatch(/^SHA256:/);
    expect(own.split(" ")[1]).toBe(fingerprint);
    expect(await label("SSH host key").inputValue()).toBe("");
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      await confirm.scrollIntoViewIfNeeded();
      expect(await overflow(), `at ${width}px`).toBe("");
      expect(await axeProblems(), `at ${width}px`).toBe("");
      await shot("new-connection-ssh-host-key");
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    await confirm.getByRole("button", { name: "Trust this host key" }).click();
    expect(await label("SSH host key").inputValue()).toBe(sshd.hostKey);
    expect(await confirm.getByRole("status").textContent()).toMatch(/Test again, then Save/);
    await page.getByRole("button", { name: "Test" }).click();
    await page.getByText("Every stage passed").waitFor({ timeout: 15_000 });
    const result = page.getByRole("region", { name: "Connection test result" });
    for (const stage of [
      "SSH: bastion DNS",
      "SSH: handshake",
      "SSH: host key",
      "SSH: sign-in",
      "SSH: forward",
    ])
      expect(await result.locator(`li.stage.passed[data-stage="${stage}"]`).count(), stage).toBe(1);
    expect(await result.locator('li.stage.passed[data-stage="Sign-in"]').count()).toBe(1);
    expect(await confirm.count()).toBe(0);
    await shot("new-connection-ssh-test-passed");

    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("heading", { name: NAME }).waitFor();
    const list = await b.api("/api/connections");
    const saved = list.body.connections.find((c: { name: string }) => c.name === NAME);
    connectionId = saved.id;
    expect(saved.ssh).toEqual({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      hostKey: sshd.hostKey,
      hasPrivateKey: true,
      hasPassphrase: false,
      hasPassword: false,
    });
    // The key went to the server and nowhere back: not in the page, the API's answers or the logs.
    const keyBody = sshd.keys.ed25519.privateKey.split("\n")[1]!;
    expect(await page.content()).not.toContain(keyBody);
    expect(list.text).not.toContain(keyBody);
    expect(b.logs.join("\n")).not.toContain(keyBody);
  });

  it("editing a tunnelled connection's name and pool size keeps its tunnel", async () => {
    expect(connectionId).not.toBe("");
    await open(`#/connections/${connectionId}/settings`);
    expect(await label("Reach the database through an SSH bastion").isChecked()).toBe(true);
    expect(await label("SSH host").inputValue()).toBe(sshd.host);
    expect(await label("SSH host key").inputValue()).toBe(sshd.hostKey);
    // Write-only: the stored key is said to be there, never shown.
    expect(await label("SSH private key").inputValue()).toBe("");
    expect(await field("sshPrivateKey").textContent()).toMatch(/Stored: leave empty to keep the stored key/);
    await label("Name").fill(`${NAME}-2`);
    await label("Max pool size").fill("7");
    await page.getByRole("button", { name: "Save changes" }).click();
    // Saved (back on the connection's page), or the form says why not.
    const outcome = await Promise.race([
      page
        .getByRole("heading", { name: `${NAME}-2` })
        .waitFor()
        .then(
          () => "saved",
          async () => `not saved: ${await page.locator("main").textContent()}`,
        ),
      page
        .locator(".connection-form [role=alert], .connection-form .field-error")
        .first()
        .waitFor()
        .then(async () => `refused: ${await page.locator(".connection-form").textContent()}`),
    ]);
    expect(outcome).toBe("saved");

    const read = await b.api(`/api/connections/${connectionId}`);
    expect(read.body.name).toBe(`${NAME}-2`);
    expect(read.body.maxPoolSize).toBe(7);
    expect(read.body.ssh).toEqual({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      hostKey: sshd.hostKey,
      hasPrivateKey: true,
      hasPassphrase: false,
      hasPassword: false,
    });
    // And it still reaches the database through the bastion with the stored key.
    const tested = await b.api(`/api/connections/${connectionId}/test`, { body: {} });
    expect(tested.status, tested.text).toBe(200);
    expect(tested.body.ok).toBe(true);
  });

  it("the server's ssh.* field errors show next to their fields", async () => {
    await open("#/connections/new");
    await fillDatabase("orders-bad-bastion");
    await label("Reach the database through an SSH bastion").check();
    await label("SSH host").fill(sshd.host);
    await label("SSH port").fill("70000");
    await label("SSH private key").fill("not a key at all");
    await label("SSH host key").fill("ssh-ed25519 !!!");
    await page.getByRole("button", { name: "Save", exact: true }).click();

    await field("sshUser").locator(".field-error").waitFor();
    expect(await field("sshUser").locator(".field-error").textContent()).toMatch(/is required/);
    expect(await field("sshPort").locator(".field-error").textContent()).toMatch(/1 to 65535/);
    expect(await field("sshPrivateKey").locator(".field-error").count()).toBe(1);
    expect(await field("sshHostKey").locator(".field-error").count()).toBe(1);
    expect(await label("SSH user").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByRole("alert").first().textContent()).toMatch(
      /Some fields need attention \(SSH tunnel\)/,
    );
    // The first field in error has the focus.
    await expect.poll(() => page.evaluate("document.activeElement?.name")).toMatch(/^ssh/);
    // A port that is no number is caught before anything is sent.
    await label("SSH port").fill("2x2");
    await page.getByRole("button", { name: "Test" }).click();
    expect(await field("sshPort").locator(".field-error").textContent()).toMatch(/whole number/);
    await shot("new-connection-ssh-field-errors");
    expect(await axeProblems()).toBe("");
    const names = (await b.api("/api/connections")).body.connections.map((c: { name: string }) => c.name);
    expect(names).not.toContain("orders-bad-bastion");
  });
  it("editing a connection with no pinned key: its test shows the key; Trust, the credentials again, and Save pin it", async () => {
    const created = await b.api("/api/connections", {
      body: {
        name: "orders-unpinned",
        type: "postgresql",
        server: "127.0.0.1",
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        username: LOCAL.postgres.user,
        password: "",
        sslMode: "disable",
        ssh: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.keys.rsa.privateKey },
      },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    await open(`#/connections/${id}/settings`);
    await page.getByRole("button", { name: "Test" }).click();
    const confirm = page.getByRole("region", { name: "Confirm the bastion's host key" });
    await confirm.waitFor();
    expect(await confirm.getByTestId("offered-host-key").textContent()).toBe(sshd.hostKey);
    await confirm.getByRole("button", { name: "Trust this host key" }).click();
    expect(await confirm.getByRole("status").textContent()).toMatch(
      /enter the database password and the SSH key/,
    );
    // Without the credentials the server refuses the pin (it decides where the stored secrets go).
    await page.getByRole("button", { name: "Save changes" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: /credentials/i })
      .first()
      .waitFor();
    expect((await b.api(`/api/connections/${id}`)).body.ssh.hostKey ?? null).toBeNull();
    await page.getByLabel("User name", { exact: true }).fill(LOCAL.postgres.user);
    // (The local server trusts loopback: any password signs in; what counts is that one is given.)
    await page.getByLabel("Password", { exact: true }).fill("given-again");
    await page.getByLabel("SSH private key", { exact: true }).fill(sshd.keys.rsa.privateKey);
    await page.getByRole("button", { name: "Save changes" }).click();
    // Saved: the page goes back to the connection's status.
    await page.locator("form.connection-form").waitFor({ state: "detached" });
    const read = await b.api(`/api/connections/${id}`);
    expect(read.body.ssh).toMatchObject({ hostKey: sshd.hostKey, hasPrivateKey: true });
    const tested = await b.api(`/api/connections/${id}/test`, { body: {} });
    expect(tested.status, tested.text).toBe(200);
  });
});
