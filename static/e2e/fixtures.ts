// What every spec imports: `test` with the run's daemon as baseURL, a fresh listener per test (`listener`,
// logged in in the test's browser context; `album: true` uploads the album into their library first), a check
// that no page logged an error, and small helpers (`nav`, `shot`, `files`).
import { join } from "node:path";
import { test as base, expect, type Page } from "@playwright/test";
import { newListener, type Listener } from "./accounts";
import { screenshotsDir } from "./paths";

/** The files global-setup.ts made: three tracks of “Deep Blue” by The Whales (ogg, flac, aiff) and a picture. */
export const files: { ogg: string; flac: string; aiff: string; avatar: string } = JSON.parse(
  process.env.FUNKWHALE_E2E_FILES ?? "{}",
);

interface Fixtures {
  /** Upload Morning Tide (ogg) and Harbour Lights (flac) into the listener's library before the test. */
  album: boolean;
  listener: Listener;
  pageProblems: void;
}

export const test = base.extend<Fixtures>({
  baseURL: async ({}, use) => use(process.env.FUNKWHALE_E2E_URL),
  album: [false, { option: true }],
  listener: async ({ baseURL, album }, use) => use(await newListener(baseURL!, album ? [files.ogg, files.flac] : [])),
  storageState: async ({ listener }, use) => use(listener.state),
  pageProblems: [
    async ({ context }, use) => {
      const problems: string[] = [];
      context.on("weberror", (error) => problems.push(`page error: ${error.error().message}`));
      context.on("console", (message) => {
        if (message.type() === "error" && !/Failed to load resource/.test(message.text())) problems.push(message.text());
      });
      await use();
      expect(problems, "the page logged errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Tests that start logged out (first run, sign-up): no listener is made. */
export const loggedOut = { storageState: { cookies: [], origins: [] } };

/** A link of the sidebar (“Main” navigation). */
export function nav(page: Page, name: string): Promise<void> {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
}

/** e2e/screenshots/<name>.png of the viewport, scrolled to the top once transitions settled. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(screenshotsDir, `${name}.png`), fullPage: false });
}

/** The seek bar of the player has moved past one second: the audio really plays. */
export function seekMoves(page: Page): Promise<unknown> {
  return page.waitForFunction(() => Number(document.querySelector<HTMLInputElement>('input[aria-label="Seek"]')?.value) > 1, null, {
    timeout: 20_000,
  });
}
