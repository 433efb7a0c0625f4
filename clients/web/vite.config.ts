import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The console is static files that Berth serves at / from dist/web (src/server/console.ts).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../../dist/web", import.meta.url)),
    emptyOutDir: true,
    // No inline scripts or eval: the console runs under a strict Content-Security-Policy.
    assetsInlineLimit: 0,
    sourcemap: true,
    // One page, one main bundle (about 166 kB gzipped, uPlot 22.5 kB of it): splitting it would only add round trips.
    chunkSizeWarningLimit: 1024,
  },
  oxc: { jsx: { runtime: "automatic" } },
  // `npx vite --config clients/web/vite.config.ts`: hot reload, with the API of a Berth on :8080.
  server: {
    proxy: {
      "^/berth\\.v1\\..*": process.env.BERTH_URL ?? "http://127.0.0.1:8080",
      "/console/config.json": process.env.BERTH_URL ?? "http://127.0.0.1:8080",
    },
  },
});
