// Debian's Chromium as the browser tests start it: headless, without the
// background traffic this machine's closed network refuses, trusting the
// test server's certificate (by its key's hash) and nothing else.

import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { chromium, type Browser, type Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Starts Chromium trusting only the certificate whose key hashes to `spki`. */
export function launchChromium(spki: string): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--ignore-certificate-errors-spki-list=${spki}`,
    ],
  });
}

/** Where screenshots go: `CORRAL_UI_SCREENSHOTS`, else target/ui. */
export const SCREENSHOTS = process.env.CORRAL_UI_SCREENSHOTS ?? join(import.meta.dirname, "../../target/ui");

/**
 * Screenshots of the whole page as it is now, at 1280×720 (`NAME.png`)
 * and, unless `both` is false, at 1920×1080 (`NAME-1920.png`); the page is
 * left at 1280×720.
 */
export async function shot(page: Page, name: string, both = true): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  if (!both) return;
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-1920.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });
}
