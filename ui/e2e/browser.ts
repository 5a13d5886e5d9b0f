// Debian's Chromium as the browser tests start it: headless, without the
// background traffic this machine's closed network refuses, trusting the
// test server's certificate (by its key's hash) and nothing else.

import { chromium, type Browser } from "playwright-core";

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
