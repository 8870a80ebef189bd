// The first run needs an instance without any account, so this spec starts a daemon of its own for its test:
// the run's shared daemon gets listeners from every other spec, in any order.
import { startDaemon } from "./daemon";
import { test as base, expect, loggedOut, nav, shot } from "./fixtures";

const test = base.extend<{ emptyInstance: string }>({
  emptyInstance: [
    async ({}, use) => {
      const daemon = await startDaemon("first-run-daemon");
      await use(daemon.url);
      await daemon.stop();
    },
    { timeout: 150_000 },
  ],
  baseURL: async ({ emptyInstance }, use) => use(emptyInstance),
});

test.use(loggedOut);

test("an empty instance: the first-run screen, the first account becomes administrator, an empty library", async ({
  page,
}) => {
  await test.step("an empty instance opens on the first-run screen", async () => {
    await page.goto("/library/albums");
    await page.waitForURL("**/setup");
    await expect(page.getByRole("heading", { name: /Welcome to/ })).toBeVisible();
    await shot(page, "01-first-run-desktop");
  });

  await test.step("the first account is created and becomes the administrator", async () => {
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Email").fill("admin@example.org");
    await page.getByLabel("Password", { exact: true }).fill("whale-song-2024");
    await page.getByLabel("Password again").fill("whale-song-2024");
    await page.getByRole("button", { name: "Create the administrator account" }).click();
    await page.waitForURL("**/uploads?welcome=1");
    await expect(page.getByText("Your administrator account is ready")).toBeVisible();
    const me = await page.evaluate(() => fetch("/api/v1/users/me/").then((r) => r.json()));
    expect(me.is_superuser).toBe(true);
  });

  await test.step("an empty library: home invites to upload, lists and radios say there is nothing yet", async () => {
    await nav(page, "Home");
    await expect(page.getByRole("heading", { name: "Your library is empty" })).toBeVisible();
    await shot(page, "02-home-empty-desktop");
    await nav(page, "Albums");
    await expect(page.getByText("No album yet.")).toBeVisible();
    await nav(page, "Radios");
    await page.getByRole("button", { name: "Start random radio" }).click();
    await expect(page.locator(".toast.error", { hasText: "This radio has nothing to play yet." })).toBeVisible();
  });
});
