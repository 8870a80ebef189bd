/// <reference types="vitest/config" />
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import vue from "@vitejs/plugin-vue";
import { defineConfig, type Plugin } from "vite";

// The daemon (and nginx's gzip_static) answer a `.gz` twin to browsers that accept gzip.
function gzipTwins(): Plugin {
  let outDir = "dist";
  return {
    name: "gzip-twins",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          if (statSync(path).isDirectory()) walk(path);
          else if (/\.(js|css|svg|json|html)$/.test(name) && statSync(path).size > 1024) {
            writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
          }
        }
      };
      walk(outDir);
    },
  };
}

const backend = process.env.FUNKWHALE_DEV_BACKEND ?? "http://127.0.0.1:5000";

export default defineConfig({
  plugins: [vue(), gzipTwins()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 400,
    // The web app, and the embeddable player that /api/v1/oembed/'s iframe shows (/front/embed.html).
    rollupOptions: { input: { app: "index.html", embed: "embed.html" } },
  },
  server: { proxy: { "/api": backend, "/rest": backend } },
  test: { environment: "jsdom", include: ["src/**/*.test.ts"] },
});
