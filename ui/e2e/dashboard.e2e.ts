// The UI end to end in a real browser: Debian's Chromium driven by
// playwright-core against a real `corral server` (no Docker needed: the
// services stay pending, which the dashboard shows with the scheduler's
// reason). Run by `cargo xtask ui test`, which builds the UI into the
// binary first and passes CORRAL_BIN.


import { type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

import { launchChromium, shot } from "./browser";
import { CorralServer } from "./server";

const TIMEOUT = 15_000;

let server: CorralServer;
let browser: Browser;
let admin: string;
const consoleErrors: string[] = [];

function service(name: string): unknown {
  return { kind: "Service", meta: { name }, spec: { image: "corral-test/busybox", scale: 2 } };
}

beforeAll(async () => {
  const binary = process.env.CORRAL_BIN;
  if (!binary) throw new Error("CORRAL_BIN must name the corral binary (cargo xtask ui test sets it)");
  server = await CorralServer.start(binary);
  admin = await server.login("admin", server.adminPassword);
  // Three environments; dana is a member of one, read-only in another,
  // and nothing in the third.
  for (const env of ["staging", "secret"]) {
    await server.ok("POST", "/v1/environments", admin, { meta: { name: env }, spec: {} });
  }
  await server.ok("POST", "/v1/users", admin, { name: "dana", password: "dana-password-1" });
  await server.ok("POST", "/v1/environments/default/members", admin, { subject: "dana", role: "member" });
  await server.ok("POST", "/v1/environments/staging/members", admin, { subject: "dana", role: "read-only" });

  const spki = await server.presentedSpkiHash();
  browser = await launchChromium(spki);
});

afterAll(async () => {
  await browser.close();
  await server.stop();
});


/**
 * The session token in the browser's cookie, which must be HttpOnly (no
 * script of the page can read it) and SameSite=Strict.
 */
async function sessionToken(page: Page): Promise<string> {
  const cookie = (await page.context().cookies()).find((c) => c.name === "corral_session");
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.secure).toBe(true);
  expect(cookie?.sameSite).toBe("Strict");
  expect(await page.evaluate(() => document.cookie)).not.toContain("corral_session");
  const stored = await page.evaluate(() =>
    [localStorage, sessionStorage].flatMap((s) => Object.keys(s).map((k) => s.getItem(k) ?? "")).join("\n"),
  );
  expect(stored).not.toContain("crl_");
  const token = cookie?.value ?? "";
  expect(token).not.toBe("");
  return token;
}

function rowOf(page: Page, table: string, name: string) {
  return page.getByRole("table", { name: table }).getByRole("row").filter({ hasText: name });
}

it("logs in, follows the dashboard live, switches environments and logs out", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));

  // The login page; a wrong password is refused with the API's words.
  await page.goto(server.url + "/");
  if ((await page.getByText("built without its web UI").count()) > 0) {
    throw new Error(`${process.env.CORRAL_BIN ?? ""} has no UI embedded: cargo xtask ui build, then cargo build`);
  }
  await page.getByLabel("User name").fill("dana");
  await page.getByLabel("Password").fill("wrong");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/password|credentials|invalid/i);
  await page.getByLabel("Password").fill("dana-password-1");
  await page.getByRole("button", { name: "Log in" }).click();

  // The dashboard of the first environment dana sees, with dana's role.
  await page.getByRole("heading", { level: 1, name: /default/ }).waitFor();
  await page.getByText("your role: member").waitFor();
  expect(new URL(page.url()).pathname).toBe("/environments/default");
  const options = await page.getByLabel("Environment").locator("option").allTextContents();
  expect(options).toEqual(["default (member)", "staging (read-only)"]);
  await page.getByText("No services yet.").waitFor();
  await shot(page, "dashboard-empty");

  // A service made through the API appears without a reload, its
  // instances pending with the scheduler's reason (there is no host).
  await server.ok("POST", "/v1/environments/default/services", admin, service("web"));
  await rowOf(page, "Services", "web").waitFor();
  await expect.poll(() => page.getByRole("table", { name: "Pending" }).getByRole("row").count()).toBe(3);
  await expect
    .poll(() => rowOf(page, "Pending", "web").first().locator("td.reason").textContent())
    .toBe("no nodes");
  await shot(page, "dashboard-pending");

  // Removed through the API: gone without a reload.
  await server.ok("DELETE", "/v1/environments/default/services/web", admin);
  await page.getByText("No services yet.").waitFor();

  // Another environment: its own (live) lists.
  await page.getByLabel("Environment").selectOption("staging");
  await page.getByRole("heading", { level: 1, name: /staging/ }).waitFor();
  await page.getByText("your role: read-only").waitFor();
  expect(new URL(page.url()).pathname).toBe("/environments/staging");
  await server.ok("POST", "/v1/environments/staging/services", admin, service("api"));
  await rowOf(page, "Services", "api").waitFor();
  expect(await page.getByRole("table", { name: "Services" }).getByText("web").count()).toBe(0);

  // A long list is windowed: 250 more instances, only those in view (and a
  // margin) in the DOM, the table telling how many rows it has; the
  // keyboard scrolls its box to the last one (names in localeCompare order:
  // bulk-24-9 comes after bulk-24-10).
  for (let i = 0; i < 25; i += 1) {
    await server.ok("POST", "/v1/environments/staging/services", admin, {
      kind: "Service",
      meta: { name: `bulk-${String(i).padStart(2, "0")}` },
      spec: { image: "corral-test/busybox", scale: 10 },
    });
  }
  const instancesTable = page.getByRole("table", { name: "Instances" });
  await expect
    .poll(async () => (JSON.parse(await server.ok("GET", "/v1/environments/staging/instances", admin)) as { items: unknown[] }).items.length, {
      timeout: 30_000,
    })
    .toBe(252);
  await expect.poll(() => instancesTable.getAttribute("aria-rowcount"), { timeout: 10_000 }).toBe("253");
  const rendered = await instancesTable.getByRole("row").count();
  expect(rendered).toBeGreaterThan(10);
  expect(rendered).toBeLessThan(100);
  await expect.poll(() => rowOf(page, "Instances", "bulk-24-9").count()).toBe(0);
  const scroller = page.getByRole("region", { name: /^Instances: 252 rows/ });
  await scroller.focus();
  await page.keyboard.press("End");
  await rowOf(page, "Instances", "bulk-24-9").waitFor();
  expect(await rowOf(page, "Instances", "bulk-24-9").getAttribute("aria-rowindex")).toBe("253");
  await shot(page, "dashboard-windowed");
  await page.keyboard.press("Home");
  await rowOf(page, "Instances", "api-1").waitFor();

  // A reload keeps the session and the address (the server answers
  // index.html for it).
  await page.reload();
  await rowOf(page, "Services", "api").waitFor();

  // A session an admin revokes ends at the next page load: back to login.
  const revoked = await sessionToken(page);
  const id = /^crl_s_([^_]+)_/.exec(revoked)?.[1] ?? "";
  expect(id).not.toBe("");
  await server.ok("DELETE", `/v1/sessions/${id}`, admin);
  await page.reload();
  await page.getByLabel("User name").waitFor();
  await page.getByLabel("User name").fill("dana");
  await page.getByLabel("Password").fill("dana-password-1");
  await page.getByRole("button", { name: "Log in" }).click();
  // Back where dana was.
  await page.getByRole("heading", { level: 1, name: /staging/ }).waitFor();

  // Logging out ends the session on the server too.
  const token = await sessionToken(page);
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("User name").waitFor();
  expect((await page.context().cookies()).some((c) => c.name === "corral_session")).toBe(false);
  expect((await server.call("GET", "/v1/whoami", token)).status).toBe(401);
  await shot(page, "login");

  await context.close();
  // The errors expected: the browser's notes of the refused login and
  // of the revoked session's whoami (both 401).
  expect(consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
});
