// The Stacks page and the service form end to end: a real `corral up` on
// the project's private Docker engine (CORRAL_E2E_DOCKER_HOST, with the
// busybox image CORRAL_E2E_IMAGE), Debian's Chromium driven by
// playwright-core. A member pastes a two-service compose file, sees the
// API's error at its line, plans it, deploys it and watches both services
// run (one healthy) without a reload; scales one down with −; edits a
// service through the form and sees the rolling upgrade finish, rolls it
// back; sees the API's error for a bad value at its field; exports the
// stack and removes it.

import { readFileSync } from "node:fs";

import { type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

import { launchChromium, shot } from "./browser";
import { CorralServer } from "./server";

const DOCKER_HOST = process.env.CORRAL_E2E_DOCKER_HOST ?? "";
const IMAGE = process.env.CORRAL_E2E_IMAGE ?? "corral-busybox:latest";
const TIMEOUT = 30_000;
const ENV = "/v1/environments/default";

const COMPOSE = `services:
  web:
    image: ${IMAGE}
    command: sh -c 'echo web; exec sleep 3600'
    scale: 2
    environment:
      GREETING: hello
    links:
      - db:database
    depends_on:
      - db
  db:
    image: ${IMAGE}
    command: sh -c 'exec sleep 3600'
    healthcheck:
      test: ["CMD-SHELL", "true"]
      interval: 1s
      retries: 3
`;

let server: CorralServer;
let browser: Browser;
let admin: string;

interface Instance {
  meta: { name: string };
  spec: { service: string };
  status: { state?: string; health?: string } | null;
}

interface Service {
  spec: { env?: Record<string, string>; command?: string[] };
  status: { upgrade?: { state: string; revision: number } };
}

async function instances(): Promise<Instance[]> {
  const body = await server.ok("GET", `${ENV}/instances`, admin);
  return (JSON.parse(body) as { items: Instance[] }).items;
}

async function service(name: string): Promise<Service> {
  return JSON.parse(await server.ok("GET", `${ENV}/services/${name}`, admin)) as Service;
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
  const spki = await server.presentedSpkiHash();
  browser = await launchChromium(spki);
}, 180_000);

afterAll(async () => {
  await browser.close();
  // Remove the containers before stopping: the engine outlives the test.
  await server.call("DELETE", `${ENV}/stacks/shop`, admin);
  await until("the instances to go", async () => ((await instances()).length === 0 ? true : undefined), 60_000).catch(
    (e: unknown) => {
      console.warn(e);
    },
  );
  await server.stop();
}, 120_000);


it("deploys a stack from a plan, scales, upgrades and rolls back a service through the form, exports and removes the stack", async () => {
  const errors: string[] = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(server.url + "/");
  await page.getByLabel("User name").fill("erin");
  await page.getByLabel("Password").fill("erin-password-1");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { level: 1, name: /default/ }).waitFor();

  // Stacks: none yet; a compose file with a typo is refused at its line.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Stacks" }).click();
  expect(new URL(page.url()).pathname).toBe("/environments/default/stacks");
  await page.getByText("No stacks yet.").waitFor();
  await page.getByLabel("Stack name").fill("shop");
  const compose = page.getByRole("textbox", { name: "docker-compose.yml" });
  await compose.fill(COMPOSE.replace("    healthcheck:", "    helthcheck:"));
  const deploy = page.getByRole("button", { name: "Deploy", exact: true });
  expect(await deploy.isDisabled()).toBe(true);
  await page.getByRole("button", { name: "Plan" }).click();
  const fileError = page.locator(".compose-file").filter({ has: compose }).getByRole("alert");
  await expect.poll(() => fileError.textContent()).toMatch(/^docker-compose\.yml, line 15 \(services\.db\.helthcheck\)/);
  expect(await compose.getAttribute("aria-invalid")).toBe("true");
  expect(await deploy.isDisabled()).toBe(true);
  await shot(page, "stacks-error");

  // The plan lists both services; Deploy is allowed for exactly that text.
  await compose.fill(COMPOSE);
  await page.getByRole("button", { name: "Plan" }).click();
  const plan = page.getByRole("region", { name: "Plan" });
  const created = plan.getByRole("list", { name: "Create" });
  await expect.poll(() => created.getByRole("listitem").allTextContents()).toEqual(["shop-db", "shop-web"]);
  await plan.getByRole("table", { name: "Placements" }).getByText("shop-web-2").waitFor();
  expect(await deploy.isDisabled()).toBe(false);
  await compose.fill(COMPOSE + "\n");
  expect(await deploy.isDisabled()).toBe(true);
  await page.getByText("the files changed since the plan: plan again").waitFor();
  await compose.fill(COMPOSE);
  await page.getByRole("button", { name: "Plan" }).click();
  await created.waitFor();
  await shot(page, "stacks-plan");
  await deploy.click();

  // The stack's page: both services come up, db healthy, without a reload.
  await page.getByRole("heading", { name: "Stack shop" }).waitFor();
  expect(new URL(page.url()).pathname).toBe("/environments/default/stacks/shop");
  const table = page.getByRole("table", { name: "Services of shop" });
  const row = (name: string) => table.getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) });
  await expect.poll(() => row("web").locator(".counts").textContent(), { timeout: 90_000 }).toBe("2 running");
  await expect.poll(() => row("db").locator(".counts").textContent(), { timeout: 90_000 }).toBe("1 running");
  let seen = "";
  await until("shop-db to be healthy", async () => {
    const db = (await instances()).find((i) => i.spec.service === "shop-db");
    seen = JSON.stringify(db?.status);
    return db?.status?.health === "healthy" ? true : undefined;
  }).catch((e: unknown) => {
    throw new Error(`${String(e)}; last status ${seen}`);
  });
  await expect.poll(() => row("db").locator(".pill.healthy").count(), { timeout: 30_000 }).toBe(1);
  await page.getByRole("img", { name: "Links of stack shop" }).waitFor();
  const links = page.getByRole("list", { name: "Links and dependencies" }).getByRole("listitem");
  expect(await links.allTextContents()).toEqual(["web → db: link as database", "web → db: depends on (service_started)"]);
  await shot(page, "stack");

  // − scales web to 1, and one instance goes.
  await page.getByRole("button", { name: "Scale shop-web down" }).click();
  await expect.poll(() => page.getByLabel("Scale of shop-web").textContent()).toBe("1");
  await expect.poll(() => row("web").locator(".counts").textContent(), { timeout: 60_000 }).toBe("1 running");

  // The list shows the stack's totals.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Stacks" }).click();
  await expect.poll(() => page.getByLabel("Running in shop").textContent(), { timeout: 60_000 }).toBe("2 / 2");
  await shot(page, "stacks");

  // Edit web through the form: a new value of GREETING rolls it out.
  await page.getByRole("link", { name: "shop", exact: true }).click();
  await row("web").getByRole("link", { name: "web" }).click();
  await page.getByRole("heading", { name: /Service shop-web/ }).waitFor();
  await page.getByRole("button", { name: "Edit" }).click();
  const form = page.getByRole("form", { name: "Edit service shop-web" });
  expect(await form.getByLabel("Command").inputValue()).toBe("sh -c 'echo web; exec sleep 3600'");
  expect(await form.getByLabel("Variable 1 name").inputValue()).toBe("GREETING");
  await form.getByLabel("Variable 1 value").fill("bonjour");
  await form.getByRole("button", { name: "Save" }).click();
  await form.waitFor({ state: "detached" });
  const state = page.getByLabel("Upgrade state");
  await expect.poll(() => state.textContent(), { timeout: 90_000 }).toMatch(/^done to revision 2/);
  await expect.poll(() => page.getByLabel("Upgrade batches").textContent()).toMatch(/^batch 1 of 1 \(1 at a time\): 1 of 1 on revision 2, 1 ready/);
  expect(await page.getByRole("progressbar", { name: "Upgrade progress" }).getAttribute("value")).toBe("1");
  expect((await service("shop-web")).spec.env).toEqual({ GREETING: "bonjour" });
  await shot(page, "service-upgraded");

  // Roll back: GREETING is hello again, on a new revision.
  await page.getByRole("button", { name: "Roll back" }).click();
  await expect.poll(() => state.textContent(), { timeout: 90_000 }).toMatch(/^rolled-back to revision 3/);
  expect((await service("shop-web")).spec.env).toEqual({ GREETING: "hello" });
  await expect.poll(() => page.getByRole("table", { name: "History" }).getByRole("row").count()).toBe(4);

  // Bad values: the form's own check at the image, the API's at the port it names.
  await page.getByRole("button", { name: "Edit" }).click();
  await form.getByLabel("Image").fill("corral busybox");
  await form.getByRole("button", { name: "Save" }).click();
  const imageField = form.locator(".field").filter({ has: page.getByLabel("Image") });
  await expect.poll(() => imageField.getByRole("alert").textContent()).toBe("must not contain whitespace");
  await form.getByLabel("Image").fill(IMAGE);
  for (const [i, container] of [[1, "80"], [2, "81"]] as const) {
    await form.getByRole("button", { name: "Add port" }).click();
    await form.getByLabel(`Port ${i} host port`).fill("18080");
    await form.getByLabel(`Port ${i} container port`).fill(container);
  }
  await form.getByRole("button", { name: "Save" }).click();
  const portCell = form.locator(".cell").filter({ has: page.getByLabel("Port 2 host port") });
  await expect.poll(() => portCell.getByRole("alert").textContent()).toMatch(/18080\/tcp is published twice/);
  expect(await form.getByLabel("Port 2 host port").getAttribute("aria-invalid")).toBe("true");
  expect(await imageField.getByRole("alert").count()).toBe(0);
  await shot(page, "service-form");
  await form.getByRole("button", { name: "Cancel" }).click();
  expect((await service("shop-web")).spec.env).toEqual({ GREETING: "hello" });

  // Export downloads the compose file that deploys the stack again.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Stacks" }).click();
  await page.getByRole("link", { name: "shop", exact: true }).click();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export" }).click()]);
  expect(download.suggestedFilename()).toBe("docker-compose.yml");
  const exported = readFileSync(await download.path(), "utf8");
  expect(exported).toMatch(/^\s{2}web:$/m);
  expect(exported).toMatch(/^\s{2}db:$/m);
  expect(exported).toMatch(/GREETING: hello/);

  // Remove, confirmed: the list is empty and the containers go.
  await page.getByRole("button", { name: "Remove", exact: true }).click();
  await page.getByRole("group", { name: "Confirm removal" }).waitFor();
  await page.getByRole("button", { name: "Remove stack shop" }).click();
  await page.getByText("No stacks yet.").waitFor();
  expect(new URL(page.url()).pathname).toBe("/environments/default/stacks");
  await until("the instances to go", async () => ((await instances()).length === 0 ? true : undefined), 60_000);

  await context.close();
  // The refused plan and the refused edit are 422s the page showed.
  expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([]);
});
