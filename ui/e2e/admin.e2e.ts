// The admin, members, load balancer and certificate pages, the themes,
// the focus ring and the lost-connection banner, in a real browser against
// a real `corral server` (no Docker: the balancer stays pending). Run like
// dashboard.e2e.ts (CORRAL_BIN, and CORRAL_UI_DIR for a UI newer than the
// binary's).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

import { launchChromium, shot } from "./browser";
import { CorralServer } from "./server";

const TIMEOUT = 15_000;

let server: CorralServer;
let browser: Browser;
let admin: string;
let certDir: string;
const consoleErrors: string[] = [];

beforeAll(async () => {
  const binary = process.env.CORRAL_BIN;
  if (!binary) throw new Error("CORRAL_BIN must name the corral binary (cargo xtask ui test sets it)");
  // Our own CA and server certificate, so that the server restarted
  // below presents the same key (it makes a new one at each start).
  certDir = mkdtempSync(join(tmpdir(), "corral-ui-cert-"));
  const at = (name: string): string => join(certDir, name);
  const ssl = (...args: string[]): void => { execFileSync("openssl", args, { stdio: "ignore" }); };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl("req", "-x509", ...ec, "-keyout", at("ca.key"), "-out", at("ca.pem"), "-days", "2", "-subj", "/CN=corral-ui-test-ca",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
  ssl("req", ...ec, "-keyout", at("server.key"), "-out", at("server.csr"), "-subj", "/CN=127.0.0.1");
  writeFileSync(at("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  ssl("x509", "-req", "-in", at("server.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-CAcreateserial",
    "-days", "2", "-extfile", at("server.ext"), "-out", at("server.pem"));
  const ca = readFileSync(at("ca.pem"), "utf8");
  writeFileSync(at("chain.pem"), readFileSync(at("server.pem"), "utf8") + ca);
  server = await CorralServer.start(binary, { cert: at("chain.pem"), key: at("server.key"), ca });
  admin = await server.login("admin", server.adminPassword);
  // The balancer's target (pending: there is no host).
  await server.ok("POST", "/v1/environments/default/services", admin, {
    kind: "Service",
    meta: { name: "web" },
    spec: { image: "corral-test/busybox", scale: 1 },
  });
  // A certificate for shop.example.com and its key.
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", join(certDir, "key.pem"), "-out", join(certDir, "cert.pem"), "-days", "90",
    "-subj", "/CN=shop.example.com", "-addext", "subjectAltName=DNS:shop.example.com,DNS:www.shop.example.com",
  ], { stdio: "ignore" });
  browser = await launchChromium(await server.presentedSpkiHash());
});

afterAll(async () => {
  await browser.close();
  await server.stop();
  rmSync(certDir, { recursive: true, force: true });
});


function rowOf(page: Page, table: string, text: string) {
  return page.getByRole("table", { name: table }).getByRole("row").filter({ hasText: text });
}

function watchConsole(page: Page): void {
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  // Every confirmation (remove ...) is accepted.
  page.on("dialog", (dialog) => void dialog.accept());
}

/** The controls of the page without an accessible name (a label, aria-label or text). */
function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>("input, select, textarea, button")]
      .filter((el) => {
        if (el.getAttribute("aria-label")?.trim()) return false;
        if (el.closest("label") !== null || el.getAttribute("aria-labelledby")) return false;
        return el.tagName !== "BUTTON" || el.innerText.trim() === "";
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
}

/** The element focused now: where it is, and whether a ring is drawn. */
function focused(page: Page): Promise<{ tag: string; inHeader: boolean; outline: string; width: number }> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!(el instanceof HTMLElement)) return { tag: "", inHeader: false, outline: "none", width: 0 };
    const style = getComputedStyle(el);
    return {
      tag: el.tagName.toLowerCase(),
      inHeader: el.closest("header.top") !== null,
      outline: style.outlineStyle,
      width: parseFloat(style.outlineWidth),
    };
  });
}

it("administers users, members, keys, balancers and certificates, with themes, focus and the connection banner", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: "light" });
  const page = await context.newPage();
  watchConsole(page);

  // Log in as the admin.
  await page.goto(server.url + "/");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(server.adminPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { level: 1, name: /default/ }).waitFor();

  // Tabbing through the header: each control gets a visible ring.
  // (After a load, the first Tab goes to the page's first control.)
  await page.reload();
  await page.getByRole("heading", { level: 1, name: /default/ }).waitFor();
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    expect(f.inHeader).toBe(true);
    expect(f.outline).not.toBe("none");
    expect(f.width).toBeGreaterThanOrEqual(2);
    seen.push(f.tag);
  }
  // The environment switcher, the Admin link, the theme toggle, Log out.
  expect(seen).toEqual(["select", "a", "button", "button"]);
  await shot(page, "focus-header", false);

  // Users: the Admin link; a bad password is refused beside its field.
  await page.getByRole("navigation", { name: "Administration" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("heading", { level: 1, name: "Administration" }).waitFor();
  expect(new URL(page.url()).pathname).toBe("/admin/users");
  await rowOf(page, "Users", "admin").waitFor();
  const newUser = page.getByRole("region", { name: "New user" });
  await newUser.getByLabel("User name").fill("erin");
  await newUser.getByLabel("Password").fill("short");
  await newUser.getByRole("button", { name: "Create user" }).click();
  const passwordError = newUser.locator("#user-password-error");
  await expect.poll(() => passwordError.textContent()).toMatch(/at least 8 characters/);
  expect(await passwordError.getAttribute("role")).toBe("alert");
  expect(await newUser.getByLabel("Password").getAttribute("aria-describedby")).toBe("user-password-error");
  await shot(page, "admin-user-error", false);
  await newUser.getByLabel("Password").fill("erin-password-1");
  await newUser.getByLabel("Display name").fill("Erin Example");
  await newUser.getByRole("button", { name: "Create user" }).click();
  await rowOf(page, "Users", "Erin Example").waitFor();
  // A new password, which then logs in.
  await page.getByLabel("New password for erin").fill("erin-password-2");
  await page.getByRole("button", { name: "Set password of erin" }).click();
  await rowOf(page, "Users", "erin").getByText("password set").waitFor();
  await server.login("erin", "erin-password-2");
  expect(await unlabelled(page)).toEqual([]);
  await shot(page, "admin-users");

  // Members: erin joins default as read-only, then becomes a member.
  await page.getByLabel("Environment").selectOption("default");
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Members" }).click();
  expect(new URL(page.url()).pathname).toBe("/environments/default/members");
  const addMember = page.getByRole("region", { name: "Add a member" });
  await addMember.getByLabel("User name").fill("nobody-here");
  await addMember.getByRole("button", { name: "Add member" }).click();
  await expect.poll(() => addMember.locator("#member-subject-error").textContent()).toMatch(/no user "nobody-here"/);
  await addMember.getByLabel("User name").fill("erin");
  await addMember.getByRole("combobox", { name: "Role" }).selectOption("read-only");
  await addMember.getByRole("button", { name: "Add member" }).click();
  await rowOf(page, "Members", "erin").waitFor();
  await page.getByLabel("Role of erin").selectOption("member");
  await expect
    .poll(async () => {
      const body = await server.ok("GET", "/v1/environments/default/members", admin);
      const members = (JSON.parse(body) as { items: { spec: { subject: string; role: string } }[] }).items;
      return members.find((m) => m.spec.subject === "erin")?.spec.role;
    })
    .toBe("member");
  // A directory group as owner, then removed.
  await addMember.getByLabel("Member kind").selectOption("group");
  await addMember.getByLabel("Group name").fill("ops");
  await addMember.getByRole("combobox", { name: "Role" }).selectOption("owner");
  await addMember.getByRole("button", { name: "Add member" }).click();
  const group = rowOf(page, "Members", "ops (group)");
  await group.waitFor();
  expect(await page.getByLabel("Role of ops (group)").inputValue()).toBe("owner");
  expect(await unlabelled(page)).toEqual([]);
  await shot(page, "members");
  await page.getByRole("button", { name: "Remove ops (group)" }).click();
  await group.waitFor({ state: "detached" });
  // The list is live: a member added elsewhere (through the API) shows
  // without a reload, and goes the same way.
  await server.ok("POST", "/v1/environments/default/members", admin, { subject: "group:auditors", role: "read-only" });
  const auditors = rowOf(page, "Members", "auditors (group)");
  await auditors.waitFor();
  await server.ok("DELETE", "/v1/environments/default/members/group:auditors", admin);
  await auditors.waitFor({ state: "detached" });

  // API keys: the secret is shown once, works, and stops working when deactivated.
  await page.getByRole("link", { name: "Admin" }).click();
  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "API keys" }).click();
  expect(new URL(page.url()).pathname).toBe("/admin/apikeys");
  await page.getByLabel("Description").fill("ci key");
  await page.getByRole("button", { name: "Create API key" }).click();
  const secretBox = page.getByRole("group", { name: "New API key secret" });
  const secret = await secretBox.getByRole("textbox").inputValue();
  expect(secret).toMatch(/^crl_/);
  expect((await server.call("GET", "/v1/whoami", secret)).status).toBe(200);
  const keyRow = rowOf(page, "API keys", "ci key");
  await keyRow.waitFor();
  const keyId = (await keyRow.locator("code").first().textContent()) ?? "";
  expect(keyId).not.toBe("");
  expect(secret).toContain(keyId);
  await shot(page, "admin-apikeys-secret", false);
  await secretBox.getByRole("button", { name: "Done" }).click();
  await secretBox.waitFor({ state: "detached" });
  expect(await page.content()).not.toContain(secret);
  await keyRow.getByRole("button", { name: `Deactivate ${keyId}` }).click();
  await keyRow.getByText("inactive").waitFor();
  expect((await server.call("GET", "/v1/whoami", secret)).status).toBe(401);
  expect(await unlabelled(page)).toEqual([]);
  await shot(page, "admin-apikeys");
  // Activated again, it works again; removed, it is gone.
  await keyRow.getByRole("button", { name: `Activate ${keyId}` }).click();
  await keyRow.getByText("active", { exact: true }).waitFor();
  expect((await server.call("GET", "/v1/whoami", secret)).status).toBe(200);
  await keyRow.getByRole("button", { name: `Remove ${keyId}` }).click();
  await page.getByText("No API keys yet.").waitFor();
  expect((await server.call("GET", "/v1/whoami", secret)).status).toBe(401);
  // A user made through the API, removed from the page.
  await server.ok("POST", "/v1/users", admin, { name: "temp", password: "temp-password-1" });
  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "Users" }).click();
  await rowOf(page, "Users", "temp").waitFor();
  await page.getByRole("button", { name: "Remove temp" }).click();
  await rowOf(page, "Users", "temp").waitFor({ state: "detached" });
  expect((await server.call("GET", "/v1/users/temp", admin)).status).toBe(404);
  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "API keys" }).click();

  // The audit log shows these actions, newest first, filtered by action.
  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "Audit log" }).click();
  await rowOf(page, "Audit log", "stored user _global/erin").first().waitFor();
  await rowOf(page, "Audit log", "stored member default/user--erin").first().waitFor();
  await rowOf(page, "Audit log", `apikeys/${keyId}`).first().waitFor();
  await page.getByLabel("Action").fill("deactivate");
  await expect.poll(() => page.getByRole("table", { name: "Audit log" }).locator("tbody tr").count()).toBe(1);
  await rowOf(page, "Audit log", `apikeys/${keyId}`).waitFor();
  await page.getByLabel("Action").fill("");
  await page.getByLabel("Audit user").fill("erin");
  // erin's own requests: the logins of the test (none by the admin).
  await expect
    .poll(async () => {
      const users = await page.getByRole("table", { name: "Audit log" }).locator("tbody tr td:nth-child(2)").allTextContents();
      return users.length > 0 && users.every((u) => u === "erin");
    })
    .toBe(true);
  await page.getByLabel("Audit user").fill("");
  const timeCells = page.getByRole("table", { name: "Audit log" }).locator("tbody tr td:first-child");
  await expect.poll(() => timeCells.count()).toBeGreaterThan(10);
  const times = await timeCells.allTextContents();
  expect([...times].sort().reverse()).toEqual(times);
  expect(await unlabelled(page)).toEqual([]);
  await shot(page, "admin-audit");

  // Certificates: added by pasting the PEMs; the page and the API never show the key.
  const cert = readFileSync(join(certDir, "cert.pem"), "utf8");
  const key = readFileSync(join(certDir, "key.pem"), "utf8");
  const keyBody = key.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
  await page.goto(server.url + "/environments/default/balancers");
  await page.getByRole("heading", { name: /Load balancers/ }).waitFor();
  const addCert = page.getByRole("region", { name: "Add certificate" });
  await addCert.getByLabel("Certificate name").fill("shop");
  await addCert.getByLabel("Certificate (PEM)").fill(cert);
  await addCert.getByLabel("Private key (PEM)").fill("not a key");
  await addCert.getByRole("button", { name: "Add certificate" }).click();
  await expect.poll(() => addCert.locator("#cert-key-error").textContent()).toMatch(/PRIVATE KEY/);
  await addCert.getByLabel("Private key file").setInputFiles(join(certDir, "key.pem"));
  await expect.poll(() => addCert.getByLabel("Private key (PEM)").inputValue()).toBe(key);
  await addCert.getByRole("button", { name: "Add certificate" }).click();
  const certRow = rowOf(page, "Certificates", "shop.example.com");
  await certRow.waitFor();
  expect(await certRow.textContent()).toMatch(/www\.shop\.example\.com.*(89|90) days left/);
  expect(await addCert.getByLabel("Private key (PEM)").inputValue()).toBe("");
  const html = await page.content();
  expect(html).not.toContain("PRIVATE KEY");
  expect(html).not.toContain(keyBody.slice(0, 40));
  const listed = JSON.parse(await server.ok("GET", "/v1/environments/default/certificates", admin)) as {
    items: { spec: Record<string, unknown> }[];
  };
  expect(listed.items.map((c) => [c.spec.key, "sealed_key" in c.spec])).toEqual([["", false]]);
  expect(JSON.stringify(listed)).not.toContain(keyBody.slice(0, 40));

  // A load balancer from the form: a bad host name is refused beside its field.
  const form = page.getByRole("region", { name: "New load balancer" });
  await form.getByLabel("Name", { exact: true }).fill("edge");
  await form.getByLabel("Source port").fill("443");
  await form.getByLabel("Protocol").selectOption("https");
  await form.getByLabel("Hostname").fill("bad host!");
  await form.getByLabel("Target service").fill("web");
  await form.getByLabel("Target port").fill("8080");
  await form.getByLabel("shop").check();
  await form.getByRole("button", { name: "Create load balancer" }).click();
  const hostError = form.locator("#rule-0-hostname-error");
  await expect.poll(() => hostError.textContent()).toMatch(/"bad host!" is not a host name/);
  expect(await form.getByLabel("Hostname").getAttribute("aria-invalid")).toBe("true");
  await shot(page, "balancer-error", false);
  await form.getByLabel("Hostname").fill("shop.example.com");
  await form.getByRole("button", { name: "Create load balancer" }).click();
  const lbRow = rowOf(page, "Load balancers", "edge");
  await lbRow.waitFor();
  expect(await lbRow.textContent()).toContain("443/https shop.example.com -> web:8080");
  expect(await certRow.textContent()).toContain("edge");
  expect(await unlabelled(page)).toEqual([]);
  await shot(page, "balancers");

  // The dark theme: toggled, remembered over a reload.
  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");
  const lightBg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  await page.getByRole("button", { name: "Switch to the dark theme" }).click();
  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
  expect(await page.evaluate(() => localStorage.getItem("corral.theme"))).toBe("dark");
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).not.toBe(lightBg);
  await page.reload();
  await lbRow.waitFor();
  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
  await shot(page, "balancers-dark");
  await page.goto(server.url + "/admin/audit");
  await rowOf(page, "Audit log", "stored user _global/erin").first().waitFor();
  await shot(page, "admin-audit-dark");
  await page.getByRole("button", { name: "Switch to the light theme" }).click();
  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");

  // Up to here the only errors are the browser's notes of the four
  // refusals the test asked for (password, member, key, host name: 422).
  const refused = consoleErrors.splice(0).filter((e) => !/status of 422/.test(e));
  expect(refused).toEqual([]);

  // The server goes away: the banner; it comes back: the banner goes.
  await page.goto(server.url + "/environments/default/balancers");
  await lbRow.waitFor();
  const banner = page.getByText("Connection lost — reconnecting…");
  expect(await banner.count()).toBe(0);
  await server.kill();
  await banner.waitFor({ timeout: 30_000 });
  await shot(page, "connection-lost", false);
  await server.restart();
  await banner.waitFor({ state: "detached", timeout: 60_000 });
  await lbRow.waitFor();

  await context.close();
  // The only errors: the browser's notes of the refused connections
  // while the server was away.
  expect(consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|network error|Failed to fetch/i.test(e))).toEqual([]);
});

it("follows the system's dark preference, and keeps members read-only and admin pages away from a member", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: "dark" });
  const page = await context.newPage();
  consoleErrors.length = 0;
  watchConsole(page);
  await page.goto(server.url + "/");
  await page.getByLabel("User name").waitFor();
  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
  await shot(page, "login-dark", false);
  await page.getByLabel("User name").fill("erin");
  await page.getByLabel("Password").fill("erin-password-2");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByText("your role: member").waitFor();
  expect(await page.getByRole("link", { name: "Admin" }).count()).toBe(0);
  await page.getByRole("link", { name: "Members" }).click();
  await rowOf(page, "Members", "erin").waitFor();
  expect(await page.getByRole("button", { name: "Add member" }).count()).toBe(0);
  expect(await page.getByRole("button", { name: /^Remove / }).count()).toBe(0);
  await shot(page, "members-read-only-dark", false);
  // An admin address sends a member to the environment's dashboard.
  await page.goto(server.url + "/admin/users");
  await page.waitForURL((url) => url.pathname === "/environments/default");
  // A member makes balancers and certificates (restricted users only balancers).
  await page.getByRole("link", { name: "Load balancers" }).click();
  await rowOf(page, "Load balancers", "edge").waitFor();
  expect(await page.getByRole("region", { name: "New load balancer" }).count()).toBe(1);
  expect(await page.getByRole("region", { name: "Add certificate" }).count()).toBe(1);
  // Removed from the page: the balancer, then its certificate.
  await page.getByRole("button", { name: "Remove edge" }).click();
  await page.getByText("No load balancers yet.").waitFor();
  await page.getByRole("button", { name: "Remove shop" }).click();
  await page.getByText("No certificates yet.").waitFor();
  await context.close();
  expect(consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|network error|Failed to fetch/i.test(e))).toEqual([]);
});
