import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the API to a running server (CORRAL_URL, default
// https://127.0.0.1:7480, its certificate unchecked: a developer's own
// server on loopback); `vite build` writes dist/, which the corral binary embeds.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      "/v1": { target: process.env.CORRAL_URL ?? "https://127.0.0.1:7480", secure: false },
    },
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
