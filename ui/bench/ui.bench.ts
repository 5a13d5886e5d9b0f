// The web UI's figures of issue 14 against a real `corral server` (started
// from CORRAL_BIN, with CORRAL_UI_DIR passed on so that it serves the
// freshly built ui/dist; no Docker needed: services without nodes get
// pending instances) and Debian's Chromium:
//
//   (a) the JavaScript the first page loads, gzipped (index.html's scripts,
//       their modulepreloads and static imports; not the lazy chunks);
//   (b) navigation start to a dashboard showing the counts of all 10,000
//       instances of 1,000 services and the first rows of its services
//       table (median of 3, each in a new browser context: a cold cache);
//   (c) a burst of 1,000 watch events (a label changed on each of the
//       1,000 services through the API): from the first event the page's
//       live list applied to the last one in the rendered DOM, beside the
//       time the API writes took.
//
// `npm run build` first, then
//   CORRAL_BIN=... CORRAL_UI_DIR=$PWD/dist npm run bench
// CORRAL_BENCH_OUT=FILE also writes the figures as JSON. Everything has a
// timeout; the server and its directory are removed at the end.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

import { launchChromium } from "../e2e/browser";
import { CorralServer, type Reply } from "../e2e/server";

const DIST = process.env.CORRAL_UI_DIR ?? join(import.meta.dirname, "../dist");
const SERVICES = Number(process.env.CORRAL_BENCH_SERVICES ?? 1_000);
const SCALE = Number(process.env.CORRAL_BENCH_SCALE ?? 10);
const INSTANCES = SERVICES * SCALE;
const RUNS = 3;
const CONCURRENCY = 16;
const ENV = "/v1/environments/default";
const VIEWPORT = { width: 1280, height: 720 };

const GOALS = { firstPageJsGzipKb: 300, dashboardMs: 1_500, burstMs: 300 };
const ANCHORS = {
  firstPageJsGzipKb: "~170 kB: the JS budget of a 5 s first load on a mid-range phone (A. Russell, 2017)",
  dashboardMs: "1 s: RAIL's 'load' for content a user waits on",
  burstMs: "100 ms: RAIL's 'response'; 16.7 ms: one frame",
};

let server: CorralServer;
let browser: Browser;
let admin: string;

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: no answer within ${ms / 1000} s`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

function call(method: string, path: string, body?: unknown): Promise<Reply> {
  return within(server.call(method, path, admin, body), 30_000, `${method} ${path}`);
}

/** Runs `task` for every item, `limit` at a time; the first failure fails all. */
async function bounded<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const at = next;
      next += 1;
      results[at] = await task(items[at] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function serviceName(i: number): string {
  return `svc-${String(i).padStart(4, "0")}`;
}

interface Listed {
  items: { meta: { name: string; revision: number; labels: Record<string, string> } }[];
  revision: number;
}

async function listed(plural: string): Promise<Listed> {
  const reply = await within(server.call("GET", `${ENV}/${plural}`, admin), 60_000, `list ${plural}`);
  if (reply.status !== 200) throw new Error(`list ${plural}: ${reply.status} ${reply.body}`);
  return JSON.parse(reply.body) as Listed;
}

// (a) ---------------------------------------------------------------------

interface JsSize {
  files: string[];
  rawBytes: number;
  gzipBytes: number;
}

/** The JS files the first page loads: index.html's module scripts and modulepreloads, and their static imports. */
function firstPageJs(dist: string): JsSize {
  const html = readFileSync(join(dist, "index.html"), "utf8");
  const roots = [
    ...[...html.matchAll(/<script[^>]*\bsrc="([^"]+\.js)"/g)].map((m) => m[1] ?? ""),
    ...[...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+\.js)"/g)].map((m) => m[1] ?? ""),
  ].map((p) => p.replace(/^\//, ""));
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const file = queue.shift() ?? "";
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(join(dist, file), "utf8");
    // Static imports (`import{a}from"./x.js"`, `import"./x.js"`), not `import("./x.js")`.
    for (const m of text.matchAll(/\bimport\s*(?:[\w$*{},\s]+?\s*from\s*)?["'](\.{1,2}\/[^"']+\.js)["']/g)) {
      const target = join(file, "..", m[1] ?? "");
      if (!seen.has(target)) queue.push(target);
    }
  }
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const file of seen) {
    const bytes = readFileSync(join(dist, file));
    rawBytes += bytes.length;
    gzipBytes += gzipSync(bytes, { level: 9 }).length;
  }
  return { files: [...seen], rawBytes, gzipBytes };
}

// (b) ---------------------------------------------------------------------

declare global {
  interface Window {
    /** performance.now() when the dashboard first showed every instance and services' rows. */
    __benchShown?: number;
    /** The services section's data-revision, with when each was rendered. */
    __benchRevisions?: [number, number][];
    /** The live lists' `corral:live` marks. */
    __benchMarks?: { at: number; list: string; events: number; firstEventMs: number; revision: number }[];
  }
}

/** Installed before the page's scripts: notes when the dashboard is complete, without polling. */
function watchDashboard(expected: number): void {
  const complete = (): boolean => {
    const pills = document.querySelectorAll(".summary .counts:first-child .pill");
    let total = 0;
    for (const pill of pills) total += Number.parseInt(pill.textContent || "0", 10) || 0;
    const rows = document.querySelectorAll('table[aria-labelledby="services"] tbody tr:not(.spacer)').length;
    return total === expected && rows > 0;
  };
  const observer = new MutationObserver(() => {
    if (window.__benchShown === undefined && complete()) {
      window.__benchShown = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true, characterData: true });
}

async function newDashboardPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.addInitScript(watchDashboard, INSTANCES);
  return page;
}

interface Requested {
  path: string;
  startMs: number;
  endMs: number;
  bytes: number;
}

async function dashboardOnce(
  state: Awaited<ReturnType<BrowserContext["storageState"]>>,
): Promise<{ ms: number; page: Page; context: BrowserContext; requests: Requested[] }> {
  const context = await browser.newContext({ viewport: VIEWPORT, storageState: state });
  const page = await newDashboardPage(context);
  await page.goto(`${server.url}/environments/default`, { timeout: 60_000 });
  try {
    await page.waitForFunction(() => window.__benchShown !== undefined, undefined, { timeout: 60_000 });
  } catch (e) {
    const seen = await page.locator("body").innerText().catch(() => "");
    throw new Error(`the dashboard was not complete; the page showed: ${seen.slice(0, 600)}`, { cause: e });
  }
  const ms = await page.evaluate(() => window.__benchShown ?? NaN);
  // Where the time went: the API's answers the page waited for.
  const requests = await page.evaluate(() =>
    (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
      .filter((r) => r.name.includes("/v1/") && !r.name.includes("watch=true"))
      .map((r) => ({
        path: new URL(r.name).pathname,
        startMs: Math.round(r.startTime),
        endMs: Math.round(r.responseEnd),
        bytes: r.encodedBodySize,
      })),
  );
  return { ms, page, context, requests };
}

// (c) ---------------------------------------------------------------------

/** In the page: records the live lists' marks and each services revision rendered. */
function watchBurst(): void {
  const installed = window.__benchMarks !== undefined;
  window.__benchMarks = [];
  window.__benchRevisions = [];
  if (installed) return;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntriesByName("corral:live")) {
      const detail = (entry as PerformanceMark).detail as { list: string; events: number; firstEventMs: number; revision: number };
      window.__benchMarks?.push({ at: entry.startTime, ...detail });
    }
  }).observe({ entryTypes: ["mark"] });
  const section = document.querySelector('section[aria-labelledby="services"]');
  if (!section) throw new Error("no services section");
  new MutationObserver(() => {
    window.__benchRevisions?.push([Number(section.getAttribute("data-revision")), performance.now()]);
  }).observe(section, { attributes: true, attributeFilter: ["data-revision"] });
}

interface Burst {
  held: boolean;
  writesMs: number;
  /** First event applied in the page to the last write's revision in the DOM. */
  renderedMs: number;
  events: Record<string, number>;
  publishes: number;
}

/**
 * Changes a label of every service, 16 writes at a time. `held`: the page's
 * scripts are paused in the debugger (CDP) while the writes are made and
 * resumed after the last, so that the page gets the 1,000 events as one
 * burst (its stream buffered meanwhile): the figure is then the UI's own
 * time. Not held, the events come as fast as the API makes them, and the
 * figure is mostly the writes' pace.
 */
async function burst(page: Page, value: string, held: boolean): Promise<Burst> {
  await page.evaluate(watchBurst);
  const services = (await listed("services")).items;
  const started = await page.evaluate(() => performance.now());
  const cdp = held ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send("Debugger.enable");
    await cdp.send("Debugger.pause");
  }
  const t0 = performance.now();
  const revisions = await bounded(services, CONCURRENCY, async (listedService) => {
    // The listed object as it is, with one more label; read again after a 409
    // (a status report changed its revision meanwhile).
    let current = listedService;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const name = current.meta.name;
      const reply = await call("PUT", `${ENV}/services/${name}`, {
        ...current,
        meta: { ...current.meta, labels: { ...current.meta.labels, bench: value } },
      });
      if (reply.status === 200) return (JSON.parse(reply.body) as Listed["items"][number]).meta.revision;
      if (reply.status !== 409) throw new Error(`PUT ${name}: ${reply.status} ${reply.body}`);
      const again = await call("GET", `${ENV}/services/${name}`);
      current = JSON.parse(again.body) as Listed["items"][number];
    }
    throw new Error(`PUT ${listedService.meta.name}: still conflicting`);
  });
  const writesMs = performance.now() - t0;
  if (cdp) {
    await cdp.send("Debugger.resume");
    await cdp.send("Debugger.disable");
    await cdp.detach();
  }
  const target = Math.max(...revisions);
  await page.waitForFunction(
    (t) => (window.__benchRevisions ?? []).some(([r]) => r >= t),
    target,
    { timeout: 60_000, polling: 100 },
  );
  const { marks, rendered } = await page.evaluate(() => ({
    marks: window.__benchMarks ?? [],
    rendered: window.__benchRevisions ?? [],
  }));
  const ours = marks.filter((m) => m.at >= started && m.list === "services");
  const first = Math.min(...ours.map((m) => m.firstEventMs));
  const last = rendered.find(([r]) => r >= target)?.[1] ?? NaN;
  const events: Record<string, number> = {};
  for (const m of marks.filter((m) => m.at >= started)) events[m.list] = (events[m.list] ?? 0) + m.events;
  return { held, writesMs, renderedMs: last - first, events, publishes: ours.length };
}

// ---------------------------------------------------------------------------

beforeAll(async () => {
  const binary = process.env.CORRAL_BIN;
  if (!binary) throw new Error("CORRAL_BIN must name the corral binary");
  server = await CorralServer.start(binary);
  admin = await server.login("admin", server.adminPassword);
  browser = await launchChromium(await server.presentedSpkiHash());
}, 60_000);

afterAll(async () => {
  // Either may be missing when beforeAll failed half-way.
  await (browser as Browser | undefined)?.close().catch(() => undefined);
  await (server as CorralServer | undefined)?.stop();
}, 60_000);

it("measures the first page's JS, the dashboard of 10,000 instances and a burst of 1,000 events", async () => {
  const js = firstPageJs(DIST);

  // 1,000 services of scale 10, 16 at a time; then wait for the 10,000 instances.
  const createStarted = performance.now();
  await bounded(
    Array.from({ length: SERVICES }, (_, i) => i),
    CONCURRENCY,
    async (i) => {
      const reply = await call("POST", `${ENV}/services`, {
        kind: "Service",
        meta: { name: serviceName(i) },
        spec: { image: "corral-test/busybox", scale: SCALE },
      });
      if (reply.status !== 200 && reply.status !== 201) throw new Error(`create ${serviceName(i)}: ${reply.status} ${reply.body}`);
    },
  );
  const createMs = performance.now() - createStarted;
  const deadline = Date.now() + 240_000;
  for (;;) {
    const n = (await listed("instances")).items.length;
    if (n >= INSTANCES) break;
    if (Date.now() > deadline) throw new Error(`only ${n} of ${INSTANCES} instances after 4 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const settledMs = performance.now() - createStarted;

  // Log in once through the form; each run starts a new context with its cookie.
  const loginContext = await browser.newContext({ viewport: VIEWPORT });
  const login = await loginContext.newPage();
  login.setDefaultTimeout(60_000);
  await login.goto(`${server.url}/login`);
  await login.getByLabel("User name").fill("admin");
  await login.getByLabel("Password").fill(server.adminPassword);
  await login.getByRole("button", { name: "Log in" }).click();
  await login.waitForURL(/\/environments\//);
  await login.getByText("your role: admin").waitFor();
  const state = await loginContext.storageState();
  await loginContext.close();

  const runs: number[] = [];
  const requestsOfRuns: Requested[][] = [];
  let last: { page: Page; context: BrowserContext } | null = null;
  for (let run = 0; run < RUNS; run += 1) {
    if (last) await last.context.close();
    const once = await dashboardOnce(state);
    runs.push(once.ms);
    requestsOfRuns.push(once.requests);
    last = once;
  }
  if (!last) throw new Error("no run");
  // The dashboard at rest: 10,000 instances, a few dozen rows in the DOM.
  const domRows = await last.page.locator("tbody tr").count();

  const live = await burst(last.page, "live", false);
  const b = await burst(last.page, "held", true);
  await last.context.close();
  const medianRun = runs.indexOf(median(runs));

  const figures = {
    date: new Date().toISOString(),
    services: SERVICES,
    instances: INSTANCES,
    firstPageJs: { files: js.files, rawBytes: js.rawBytes, gzipBytes: js.gzipBytes },
    create: { ms: Math.round(createMs), untilAllInstancesListedMs: Math.round(settledMs) },
    dashboard: {
      runsMs: runs.map(Math.round),
      medianMs: Math.round(median(runs)),
      domRows,
      requestsOfMedianRun: requestsOfRuns[medianRun] ?? [],
    },
    burst: [b, live].map((x) => ({
      held: x.held,
      renderedMs: Math.round(x.renderedMs),
      writesMs: Math.round(x.writesMs),
      events: x.events,
      publishes: x.publishes,
    })),
    goals: GOALS,
  };
  const rows: [string, string, string, string][] = [
    ["(a) first page JS, gzipped", `${(js.gzipBytes / 1000).toFixed(1)} kB (${js.files.length} file(s), ${(js.rawBytes / 1000).toFixed(0)} kB raw)`, `< ${GOALS.firstPageJsGzipKb} kB`, ANCHORS.firstPageJsGzipKb],
    [`(b) dashboard of ${SERVICES} services / ${INSTANCES} instances`, `${figures.dashboard.medianMs} ms (runs ${figures.dashboard.runsMs.join(", ")}; ${domRows} rows in the DOM)`, `< ${GOALS.dashboardMs} ms`, ANCHORS.dashboardMs],
    [`(c) burst of ${SERVICES} watch events, delivered at once`, `${Math.round(b.renderedMs)} ms first applied to last rendered (${b.publishes} publishes; API writes ${Math.round(b.writesMs)} ms)`, `< ${GOALS.burstMs} ms`, ANCHORS.burstMs],
    [`(c') the same, as the API makes them`, `${Math.round(live.renderedMs)} ms first applied to last rendered (${live.publishes} publishes; API writes ${Math.round(live.writesMs)} ms)`, "(the writes' pace)", ""],
  ];
  const table = ["| figure | measured | goal | anchor |", "|---|---|---|---|", ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
  const waited = figures.dashboard.requestsOfMedianRun.map((r) => `${r.path} ${r.startMs}-${r.endMs} ms (${Math.round(r.bytes / 1000)} kB)`).join("; ");
  console.log(
    `\n${table}\n\nthe median run's API requests (from navigation start): ${waited}\n` +
      `events seen in the bursts by list: ${JSON.stringify(b.events)}, ${JSON.stringify(live.events)}; ` +
      `creating took ${figures.create.ms} ms, all instances listed after ${figures.create.untilAllInstancesListedMs} ms\n`,
  );
  if (process.env.CORRAL_BENCH_OUT) writeFileSync(process.env.CORRAL_BENCH_OUT, JSON.stringify(figures, null, 2) + "\n");

  expect(js.gzipBytes).toBeGreaterThan(0);
  expect(b.events.services ?? 0).toBeGreaterThanOrEqual(SERVICES);
  expect(live.events.services ?? 0).toBeGreaterThanOrEqual(SERVICES);
}, 900_000);
