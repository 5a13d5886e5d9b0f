// The Catalog page end to end: a real `corral server` (no Docker engine:
// the launched stacks' instances stay pending, which a plan and a launch
// do not need) with its built-in `library` catalog, Debian's Chromium
// driven by playwright-core. A member finds Hello by its category and a
// search, reads its README (rendered from Markdown), sees a bad port refused beside the Public port
// field, reviews the plan, launches it and lands on the stack's page with
// its template and version; an older version launched as another stack
// shows "upgrade available: 1", upgrades after its plan and rolls back. A
// template of a catalog of our own (a git repository in a temporary
// directory) asks a service and a certificate: its form offers the
// launched stacks' services and the stored certificate. A read-only user
// sees the catalog without a Launch button.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

import { launchChromium, shot } from "./browser";
import { CorralServer } from "./server";

const TIMEOUT = 30_000;
const ENV = "/v1/environments/default";

let server: CorralServer;
let browser: Browser;
let admin: string;
let scratch: string;

interface Template {
  id: string;
}

interface App {
  stack: string;
  version: string;
  upgrade_available?: string;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function apps(): Promise<App[]> {
  return JSON.parse(await server.ok("GET", `${ENV}/apps`, admin)) as App[];
}

beforeAll(async () => {
  const binary = process.env.CORRAL_BIN;
  if (!binary) throw new Error("CORRAL_BIN must name the corral binary (cargo xtask ui test sets it)");
  server = await CorralServer.start(binary);
  admin = await server.login("admin", server.adminPassword);
  await server.ok("POST", "/v1/users", admin, { name: "erin", password: "erin-password-1" });
  await server.ok("POST", `${ENV}/members`, admin, { subject: "erin", role: "member" });
  await server.ok("POST", "/v1/users", admin, { name: "rob", password: "rob-password-1" });
  await server.ok("POST", `${ENV}/members`, admin, { subject: "rob", role: "read-only" });
  // The built-in catalog is read in the background a moment after the start.
  await until("the built-in catalog's templates", async () => {
    const list = JSON.parse(await server.ok("GET", `${ENV}/templates`, admin)) as Template[];
    return list.some((t) => t.id === "library/hello") && list.some((t) => t.id === "library/sleeper") ? true : undefined;
  });
  scratch = mkdtempSync(join(tmpdir(), "corral-ui-catalog-"));
  browser = await launchChromium(await server.presentedSpkiHash());
}, 120_000);

afterAll(async () => {
  await browser.close();
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

/** A git repository with one template, Picker, whose questions are a service and a certificate. */
function pickerCatalog(): string {
  const repo = join(scratch, "catalog");
  const version = join(repo, "templates", "picker", "0");
  mkdirSync(version, { recursive: true });
  writeFileSync(join(repo, "templates", "picker", "config.yml"), "name: Picker\ndescription: Asks a service and a certificate.\nversion: v1.0.0\ncategory: Tests\n");
  writeFileSync(
    join(version, "docker-compose.yml"),
    "version: '2'\nservices:\n  proxy:\n    image: corral-busybox:latest\n    command: [\"sleep\", \"3600\"]\n    environment:\n      BACKEND: ${backend}\n      CERT: ${tls}\n",
  );
  writeFileSync(
    join(version, "rancher-compose.yml"),
    [
      "version: '2'",
      "catalog:",
      "  name: Picker",
      "  version: v1.0.0",
      "  uuid: corral-picker-0",
      "  questions:",
      "    - variable: backend",
      "      label: Backend",
      "      type: service",
      "      required: true",
      "    - variable: tls",
      "      label: TLS certificate",
      "      type: certificate",
      "      required: true",
      "",
    ].join("\n"),
  );
  const git = (...args: string[]): void => {
    execFileSync("git", ["-c", "user.name=e2e", "-c", "user.email=e2e@example.com", ...args], { cwd: repo, stdio: "ignore" });
  };
  git("init", "-q");
  git("add", ".");
  git("commit", "-q", "-m", "picker");
  return repo;
}

async function logIn(user: string, password: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const errors: string[] = [];
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
  return { page, errors, close: () => context.close() };
}

function card(page: Page, name: string) {
  return page
    .getByRole("list", { name: "Templates" })
    .getByRole("listitem")
    .filter({ has: page.getByRole("link", { name, exact: true }) });
}

/** The field (label, input, description, error) of the input labelled `label`. */
function field(page: Page, label: string) {
  return page.locator(".field").filter({ has: page.getByLabel(label, { exact: true }) });
}

it("finds a template, refuses a bad answer beside its question, launches from the plan, and shows upgrade available", async () => {
  const { page, errors, close } = await logIn("erin", "erin-password-1");

  // The catalog: Hello with its icon, Sleeper with the fallback.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Catalog" }).click();
  expect(new URL(page.url()).pathname).toBe("/environments/default/catalog");
  const hello = card(page, "Hello");
  await hello.waitFor();
  const icon = hello.locator("img.template-icon");
  await expect.poll(() => icon.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(64);
  expect(await icon.getAttribute("src")).toBe("/v1/environments/default/templates/library/hello/icon");
  expect(await card(page, "Sleeper").locator(".template-icon.fallback").textContent()).toBe("S");
  expect(await card(page, "Sleeper").locator("img").count()).toBe(0);
  expect(await hello.textContent()).toMatch(/Examples · library\/hello/);
  expect(await hello.getByRole("button", { name: "Launch Hello" }).count()).toBe(1);

  // The category filter and the search.
  const items = page.getByRole("list", { name: "Templates" }).getByRole("link");
  const category = page.getByRole("combobox", { name: "Category" });
  expect(await category.locator("option").allTextContents()).toEqual(["All categories", "Examples"]);
  await category.selectOption("Examples");
  await expect.poll(() => items.allTextContents()).toEqual(["Hello", "Sleeper"]);
  const search = page.getByRole("searchbox", { name: "Search" });
  await search.fill("load balancer");
  await expect.poll(() => items.allTextContents()).toEqual(["Hello"]);
  await search.fill("BUSYBOX");
  await expect.poll(() => items.allTextContents()).toEqual(["Sleeper"]);
  await search.fill("nothing like it");
  await page.getByText("No template matches.").waitFor();
  await search.fill("");
  await category.selectOption("");
  await expect.poll(() => items.allTextContents()).toEqual(["Hello", "Sleeper"]);
  await shot(page, "catalog");

  // Hello: its README, version 1 (the default) with its questions.
  await hello.getByRole("link", { name: "Hello" }).click();
  expect(new URL(page.url()).pathname).toBe("/environments/default/catalog/library/hello");
  await page.getByRole("heading", { level: 2, name: "Hello" }).waitFor();
  const readme = page.getByRole("region", { name: "README" });
  // The README as Markdown: its "# Hello" a heading under the page's, `corral-whoami` inline code.
  await readme.getByRole("heading", { level: 3, name: "Hello" }).waitFor();
  expect(await readme.locator("p code").first().textContent()).toBe("corral-whoami");
  expect(await readme.locator("p").first().textContent()).toMatch(/^corral-whoami instances behind a load balancer/);
  expect(await readme.textContent()).not.toContain("# Hello");
  const version = page.getByRole("combobox", { name: "Version" });
  expect(await version.inputValue()).toBe("1");
  expect(await version.locator("option").allTextContents()).toEqual(["0: v1.0.0", "1: v1.1.0 (default)"]);
  const form = page.getByRole("form", { name: "Launch Hello" });
  const port = form.getByLabel("Public port");
  expect(await port.inputValue()).toBe("8080");
  expect(await form.getByLabel("Greeting").inputValue()).toBe("hello again");
  expect(await form.getByRole("combobox", { name: "Colour" }).inputValue()).toBe("green");

  // A bad port is refused beside its field, before anything is sent.
  await form.getByLabel("Stack name").fill("hello");
  await port.fill("eighty");
  const portField = field(page, "Public port (required)");
  await expect.poll(() => portField.getByRole("alert").textContent()).toBe('"eighty" is not a whole number');
  expect(await port.getAttribute("aria-invalid")).toBe("true");
  await form.getByRole("button", { name: "Review plan" }).click();
  expect(await form.getByRole("region", { name: "Plan" }).count()).toBe(0);
  expect(await form.getByRole("button", { name: "Launch" }).isDisabled()).toBe(true);
  await port.fill("70000");
  await expect.poll(() => portField.getByRole("alert").textContent()).toBe("70000 is more than the maximum 65535");
  await shot(page, "catalog-template-error");

  // Fixed: the plan shows the services it creates; Launch is allowed for exactly those answers.
  await port.fill("8088");
  expect(await portField.getByRole("alert").count()).toBe(0);
  await form.getByRole("combobox", { name: "Colour" }).selectOption("blue");
  await form.getByRole("button", { name: "Review plan" }).click();
  const plan = form.getByRole("region", { name: "Plan" });
  await expect.poll(() => plan.getByRole("list", { name: "Create" }).getByRole("listitem").allTextContents()).toEqual([
    "hello-lb",
    "hello-web",
  ]);
  await plan.getByRole("table", { name: "Placements" }).getByText("hello-web-2").waitFor();
  const answers = form.getByRole("definition");
  expect(await answers.allTextContents()).toContain("8088");
  const launch = form.getByRole("button", { name: "Launch" });
  expect(await launch.isDisabled()).toBe(false);
  await form.getByLabel("Greeting").fill("bonjour");
  expect(await launch.isDisabled()).toBe(true);
  await form.getByText("the answers changed since the plan: review it again").waitFor();
  await form.getByRole("button", { name: "Review plan" }).click();
  await plan.waitFor();
  await shot(page, "catalog-template");
  await launch.click();

  // The stack's page: template library/hello, version 1.
  await page.getByRole("heading", { name: "Stack hello" }).waitFor();
  expect(new URL(page.url()).pathname).toBe("/environments/default/stacks/hello");
  const appPanel = page.getByRole("region", { name: "Catalog application" });
  await appPanel.getByRole("link", { name: "library/hello" }).waitFor();
  await expect.poll(() => appPanel.getByLabel("Template version").textContent()).toBe("1 (v1.1.0)");
  expect(await appPanel.getByText(/upgrade available/).count()).toBe(0);
  const launched = (await apps()).find((a) => a.stack === "hello");
  expect(launched?.version).toBe("1");

  // A launch over an existing stack: the API's 409 beside the stack name.
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Catalog" }).click();
  await card(page, "Hello").getByRole("button", { name: "Launch Hello" }).click();
  await page.getByRole("form", { name: "Launch Hello" }).waitFor();
  await page.getByRole("combobox", { name: "Version" }).selectOption("0");
  const form0 = page.getByRole("form", { name: "Launch Hello" });
  await form0.getByRole("heading", { name: "Launch version 0" }).waitFor();
  expect(await form0.getByLabel("Greeting").inputValue()).toBe("hello");
  expect(await form0.getByRole("combobox", { name: "Colour" }).count()).toBe(0);
  await form0.getByLabel("Stack name").fill("hello");
  await form0.getByLabel("Public port").fill("8089");
  await form0.getByRole("button", { name: "Review plan" }).click();
  const nameField = field(page, "Stack name");
  await expect.poll(() => nameField.getByRole("alert").textContent()).toMatch(/stack "hello" exists/);

  // Version 0 as another stack: its page says an upgrade is available.
  await form0.getByLabel("Stack name").fill("hello-old");
  expect(await nameField.getByRole("alert").count()).toBe(0);
  await form0.getByRole("button", { name: "Review plan" }).click();
  await form0.getByRole("region", { name: "Plan" }).getByRole("list", { name: "Create" }).waitFor();
  await form0.getByRole("button", { name: "Launch" }).click();
  await page.getByRole("heading", { name: "Stack hello-old" }).waitFor();
  const oldPanel = page.getByRole("region", { name: "Catalog application" });
  await expect.poll(() => oldPanel.getByLabel("Template version").textContent()).toBe("0 (v1.0.0)");
  await oldPanel.getByText("upgrade available: 1").waitFor();
  await shot(page, "stack-upgrade-available");

  // Upgrade: the plan first (web changes), then the upgrade; then roll back.
  await oldPanel.getByRole("button", { name: "Upgrade" }).click();
  const confirm = oldPanel.getByRole("group", { name: "Confirm upgrade" });
  // Version 1 adds COLOUR to web's environment and changes its upgrade settings.
  await expect
    .poll(() => confirm.getByRole("list", { name: "Change" }).getByRole("listitem").allTextContents())
    .toEqual(expect.arrayContaining([expect.stringMatching(/^hello-old-web \(.*\benv\b.*\)$/)]));
  await confirm.getByRole("button", { name: "Upgrade to version 1" }).click();
  await expect.poll(() => oldPanel.getByLabel("Template version").textContent()).toBe("1 (v1.1.0)");
  await expect.poll(() => oldPanel.getByText(/upgrade available/).count()).toBe(0);
  expect((await apps()).find((a) => a.stack === "hello-old")?.version).toBe("1");
  await oldPanel.getByRole("button", { name: "Roll back" }).click();
  await oldPanel.getByRole("group", { name: "Confirm rollback" }).getByRole("button", { name: "Roll back to version 0" }).click();
  await expect.poll(() => oldPanel.getByLabel("Template version").textContent()).toBe("0 (v1.0.0)");
  await oldPanel.getByText("upgrade available: 1").waitFor();
  expect((await apps()).find((a) => a.stack === "hello-old")?.version).toBe("0");

  await close();
  // The refused launch over the existing stack is a 409 the page showed.
  expect(errors.filter((e) => !/status of 409/.test(e))).toEqual([]);
});

it("offers the environment's stack services and certificates to a template's service and certificate questions", async () => {
  await server.ok("POST", "/v1/catalogs", admin, { name: "e2e", url: `file://${pickerCatalog()}` });
  await server.ok("POST", "/v1/catalogs/e2e/refresh", admin);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(scratch, "key.pem"),
      "-out", join(scratch, "cert.pem"), "-days", "2", "-subj", "/CN=shop.example.com"],
    { stdio: "ignore" },
  );
  await server.ok("POST", `${ENV}/certificates`, admin, {
    kind: "Certificate",
    meta: { name: "shop" },
    spec: { certificate: readFileSync(join(scratch, "cert.pem"), "utf8"), key: readFileSync(join(scratch, "key.pem"), "utf8") },
  });

  const { page, errors, close } = await logIn("erin", "erin-password-1");
  await page.goto(server.url + "/environments/default/catalog/e2e/picker");
  const form = page.getByRole("form", { name: "Launch Picker" });
  const backend = form.getByLabel("Backend");
  const tls = form.getByLabel("TLS certificate");
  const options = async (input: typeof backend): Promise<string[]> => {
    const list = (await input.getAttribute("list")) ?? "";
    return page.locator(`datalist[id="${list}"] option`).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  };
  // The stacks launched by the test above, by their compose names (the page sorts them as names; here plainly).
  await expect.poll(async () => (await options(backend)).sort()).toEqual(["hello-old/lb", "hello-old/web", "hello/lb", "hello/web"]);
  await expect.poll(() => options(tls)).toEqual(["shop"]);

  // A certificate that is not there is refused by the server beside its question; the offered one is taken.
  await form.getByLabel("Stack name").fill("picked");
  await backend.fill("hello/web");
  await tls.fill("nope");
  await form.getByRole("button", { name: "Review plan" }).click();
  await expect.poll(() => field(page, "TLS certificate (required)").getByRole("alert").textContent()).toMatch(/no certificate "nope"/);
  await tls.fill("shop");
  await form.getByRole("button", { name: "Review plan" }).click();
  await form.getByRole("region", { name: "Plan" }).getByRole("list", { name: "Create" }).waitFor();
  expect(await form.getByRole("definition").allTextContents()).toEqual(expect.arrayContaining(["hello/web", "shop"]));
  await shot(page, "catalog-pickers");
  await close();
  expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([]);
});

it("shows a read-only user the catalog and a template without Launch", async () => {
  const { page, errors, close } = await logIn("rob", "rob-password-1");
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Catalog" }).click();
  await card(page, "Hello").waitFor();
  expect(await page.getByRole("button", { name: /Launch/ }).count()).toBe(0);
  await card(page, "Hello").getByRole("link", { name: "Hello" }).click();
  await page.getByRole("region", { name: "README" }).getByRole("heading", { name: "Hello" }).waitFor();
  const questions = page.getByRole("table", { name: "Questions" });
  await questions.getByRole("cell", { name: "public_port" }).waitFor();
  expect(await page.getByRole("form").count()).toBe(0);
  expect(await page.getByRole("button", { name: /Launch|Review plan/ }).count()).toBe(0);
  await shot(page, "catalog-template-read-only", false);

  // The stack launched earlier: its template and version, no Upgrade.
  await page.goto(server.url + "/environments/default/stacks/hello-old");
  const panel = page.getByRole("region", { name: "Catalog application" });
  await panel.getByText("upgrade available: 1").waitFor();
  expect(await panel.getByRole("button").count()).toBe(0);
  await close();
  expect(errors).toEqual([]);
});
