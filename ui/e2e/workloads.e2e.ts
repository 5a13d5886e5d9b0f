// The container, hosts and services pages end to end: a real `corral up`
// (server and embedded agent) on the project's private Docker engine
// (CORRAL_E2E_DOCKER_HOST, with the busybox image CORRAL_E2E_IMAGE; both
// set by `cargo xtask ui test`), Debian's Chromium driven by playwright-core.
// A member reads a container's log and searches it, runs a shell in it,
// sees its stats graph, the host's CPU bar, and scales the service with +;
// a read-only user is refused the shell with the API's error.

import { readFileSync } from "node:fs";

import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

import { launchChromium, shot } from "./browser";
import { CorralServer } from "./server";

const DOCKER_HOST = process.env.CORRAL_E2E_DOCKER_HOST ?? "";
const IMAGE = process.env.CORRAL_E2E_IMAGE ?? "corral-busybox:latest";
const TIMEOUT = 30_000;
const ENV = "/v1/environments/default";

let server: CorralServer;
let browser: Browser;
let admin: string;

interface Instance {
  meta: { name: string };
  spec: { service: string; node?: string };
  status: { state?: string } | null;
}

async function instances(): Promise<Instance[]> {
  const body = await server.ok("GET", `${ENV}/instances`, admin);
  return (JSON.parse(body) as { items: Instance[] }).items;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  const binary = process.env.CORRAL_BIN;
  if (!binary) throw new Error("CORRAL_BIN must name the corral binary (cargo xtask ui test sets it)");
  if (!DOCKER_HOST) throw new Error("CORRAL_E2E_DOCKER_HOST must name the private engine (cargo xtask ui test sets it)");
  server = await CorralServer.up(binary, DOCKER_HOST);
  admin = await server.login("admin", server.adminPassword);
  await server.ok("POST", "/v1/users", admin, { name: "erin", password: "erin-password-1" });
  await server.ok("POST", `${ENV}/members`, admin, { subject: "erin", role: "member" });
  await server.ok("POST", "/v1/users", admin, { name: "rory", password: "rory-password-1" });
  await server.ok("POST", `${ENV}/members`, admin, { subject: "rory", role: "read-only" });
  await server.ok("POST", `${ENV}/services`, admin, {
    kind: "Service",
    meta: { name: "hello" },
    spec: { image: IMAGE, command: ["sh", "-c", "echo hello-from-corral; exec sleep 3600"], scale: 1 },
  });
  const spki = await server.presentedSpkiHash();
  browser = await launchChromium(spki);
}, 180_000);

afterAll(async () => {
  await browser.close();
  // Remove the containers before stopping: the engine outlives the test.
  await server.call("DELETE", `${ENV}/services/hello`, admin);
  await until("the instances to go", async () => ((await instances()).length === 0 ? true : undefined), 60_000).catch(
    (e: unknown) => {
      console.warn(e);
    },
  );
  await server.stop();
}, 120_000);


async function loggedIn(user: string, password: string, errors: string[]): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(server.url + "/");
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { level: 1, name: /default/ }).waitFor();
  return { context, page };
}

it("shows a container's log, runs a shell in it, graphs its stats, shows the host and scales the service", async () => {
  const running = await until("hello's instance to run", async () =>
    (await instances()).find((i) => i.spec.service === "hello" && i.status?.state === "running"),
  );
  const name = running.meta.name;
  const errors: string[] = [];
  const { context, page } = await loggedIn("erin", "erin-password-1", errors);

  // Services → hello → its instance: the container page.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Services" }).click();
  await page.getByRole("table", { name: "Services" }).getByRole("link", { name: "hello" }).click();
  await page.getByRole("link", { name }).click();
  await page.getByRole("heading", { name: `Container ${name}` }).waitFor();
  expect(new URL(page.url()).pathname).toBe(`/environments/default/instances/${name}`);
  await expect.poll(() => page.locator("dd.state").textContent()).toBe("running");

  // The log streams; the search keeps the line that matches, marked.
  const log = page.getByLabel("Log lines");
  await log.getByText("hello-from-corral").waitFor();
  await page.getByLabel("Search").fill("FROM-corral");
  await expect.poll(() => log.locator("mark").textContent()).toBe("from-corral");
  await page.getByText("1 matching").waitFor();
  await page.getByLabel("Search").fill("no such line");
  await page.getByText("0 matching").waitFor();
  await page.getByLabel("Search").fill("");
  // Follow off keeps what was loaded; Download saves it.
  await page.getByRole("checkbox", { name: "Follow" }).uncheck();
  await log.getByText("hello-from-corral").waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`${name}.log`);
  expect(readFileSync(await download.path(), "utf8")).toBe("hello-from-corral\n");
  await page.getByRole("checkbox", { name: "Follow" }).check();
  await log.getByText("hello-from-corral").waitFor();

  // A shell: 6*7 is 42, and exit 3 shows its code.
  await page.getByRole("button", { name: "Open shell" }).click();
  await page.getByText("connected: sh").waitFor();
  const rows = page.locator(".xterm-rows");
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("echo $((6*7))");
  await page.keyboard.press("Enter");
  await expect.poll(() => rows.innerText(), { timeout: TIMEOUT }).toMatch(/^42\s*$/m);
  await shot(page, "container-shell");

  // The CPU graph moves while the container burns CPU (a loop started
  // from the shell, stopped before the shell exits).
  const cpu = page.getByRole("img", { name: "CPU graph" });
  await expect.poll(async () => Number(await cpu.getAttribute("data-samples")), { timeout: 60_000 }).toBeGreaterThan(0);
  await page.keyboard.type("(while :; do :; done) &");
  await page.keyboard.press("Enter");
  const cpuNow = page.getByRole("figure").filter({ has: cpu }).locator(".legend");
  await expect
    .poll(async () => parseFloat((await cpuNow.textContent())?.replace(/^cpu\s*/, "") ?? "0"), { timeout: 60_000 })
    .toBeGreaterThan(20);
  await page.keyboard.type("kill %1");
  await page.keyboard.press("Enter");
  await page.keyboard.type("exit 3");
  await page.keyboard.press("Enter");
  await page.getByText("exited with code 3").waitFor();
  await page.getByRole("button", { name: "15 min" }).click();
  await shot(page, "container");

  // Hosts: the node, its CPU bar from the nodes' stats stream, the instance on it.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Hosts" }).click();
  const node = running.spec.node ?? "";
  await page.getByRole("heading", { name: new RegExp(node) }).waitFor();
  await page.locator(`meter[aria-label="CPU of ${node}"]`).waitFor({ timeout: 60_000 });
  await page.getByRole("link", { name }).waitFor();
  await page.getByRole("button", { name: `Drain ${node}` }).waitFor();
  // Add Host: the line corral host add-command prints, with a fresh token.
  await page.getByRole("button", { name: "Make the command" }).click();
  const command = page.getByRole("textbox", { name: "Command" });
  await expect
    .poll(() => command.inputValue())
    .toMatch(
      new RegExp(`^corral agent --server ${server.url} --ca-fingerprint sha256:[0-9a-f]{64} --registration-token crl_r_\\S+$`),
    );
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  await page.getByRole("button", { name: "Copy" }).click();
  await page.getByText("copied").waitFor();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await command.inputValue());
  await shot(page, "hosts");

  // Services: + scales hello to 2, and the new instance appears.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Services" }).click();
  await page.getByRole("button", { name: "Scale hello up" }).click();
  await expect.poll(() => page.getByLabel("Scale of hello").textContent()).toBe("2");
  await shot(page, "services");
  await page.getByRole("table", { name: "Services" }).getByRole("link", { name: "hello" }).click();
  const table = page.getByRole("table", { name: /Instances/ });
  await expect.poll(() => table.getByRole("row").count(), { timeout: 60_000 }).toBe(3);
  await expect.poll(() => table.getByText("running", { exact: true }).count(), { timeout: 60_000 }).toBe(2);
  await shot(page, "service");

  await context.close();
  expect(errors).toEqual([]);
});

it("refuses a read-only user the shell with the API's error", async () => {
  const running = await until("hello's instance to run", async () =>
    (await instances()).find((i) => i.spec.service === "hello" && i.status?.state === "running"),
  );
  const errors: string[] = [];
  const { context, page } = await loggedIn("rory", "rory-password-1", errors);
  await page.goto(`${server.url}/environments/default/instances/${running.meta.name}`);
  // A deep link loads the whole app and the container page's own code:
  // give a busy machine longer than one step's timeout for it.
  await page.getByRole("button", { name: "Open shell" }).click({ timeout: 90_000 });
  const alert = page.getByRole("region", { name: "Shell" }).getByRole("alert");
  await alert.waitFor();
  expect(await alert.textContent()).not.toMatch(/could not connect/);
  // No buttons that would change anything on the hosts and services pages.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Services" }).click();
  await page.getByRole("table", { name: "Services" }).getByRole("link", { name: "hello" }).waitFor();
  expect(await page.getByRole("button", { name: /Scale hello/ }).count()).toBe(0);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Hosts" }).click();
  await page.getByRole("heading", { name: "Hosts" }).waitFor();
  expect(await page.getByRole("button", { name: /Drain|Remove|Make the command/ }).count()).toBe(0);
  // Nor on any other page of the environment: only reading, moving and
  // looking controls are left.
  const harmless = /^(Log out|Switch to the (dark|light) theme|Follow|Download|Search|Refresh|Export|Open shell|\d+ min|Scroll.*)$/;
  for (const link of ["Dashboard", "Stacks", "Services", "Load balancers", "Members"]) {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: link }).click();
    await page.getByRole("heading", { level: 1 }).waitFor();
    // Rows (with their own buttons) come with the lists: let them load.
    await page.waitForTimeout(1_500);
    const names = await page.getByRole("button").evaluateAll((buttons) =>
      buttons.map((b) => (b.getAttribute("aria-label") ?? b.textContent).trim()),
    );
    expect(names.filter((n) => !harmless.test(n)), `buttons on ${link}`).toEqual([]);
  }
  await context.close();
  // The browser notes the refused upgrade and the 403 that explained it.
  expect(errors.filter((e) => !/WebSocket|status of 403/.test(e))).toEqual([]);
});
