// The browser tests (`make e2e`, or `npx playwright test` from static/ after `make front`): the specs in e2e/
// run in Debian's Chromium (CHROMIUM=path for another) against one real daemon that e2e/global-setup.ts starts.
// A failed test keeps its trace (`npx playwright show-trace --port 0 e2e/output/results/<test>/trace.zip`) and a
// screenshot; the screens the specs check are saved in e2e/screenshots/.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  outputDir: "e2e/output/results",
  globalSetup: "./e2e/global-setup.ts",
  fullyParallel: true, // every test makes its own listener: any order, any worker
  workers: 2,
  retries: 0,
  forbidOnly: process.env.FUNKWHALE_REQUIRE_E2E === "1", // CI: a stray test.only fails the run
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    viewport: { width: 1280, height: 800 },
    actionTimeout: 15_000,
    navigationTimeout: 15_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
      ],
    },
  },
});
