import { defineConfig } from "vitest/config";

// The UI benchmark (`npm run bench`): a real `corral server` (CORRAL_BIN)
// serving ui/dist (CORRAL_UI_DIR), 1,000 services and 10,000 instances,
// and Debian's Chromium driven by playwright-core. docs/UI.md, "Performance".
export default defineConfig({
  test: {
    include: ["bench/**/*.bench.ts"],
    environment: "node",
    testTimeout: 900_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
