import { defineConfig } from "vitest/config";

// The browser test: a real `corral server` and Debian's Chromium, driven by
// playwright-core (run by `cargo xtask ui test`, which passes CORRAL_BIN).
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
