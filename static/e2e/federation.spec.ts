// Federation screens against one daemon: following a library that cannot be found, and the empty states of my
// follows, of my library's followers and of the notifications (two servers are the Python suite's business).
import { expect, nav, shot, test } from "./fixtures";
import type { Page } from "@playwright/test";

/** Skip a test whose screen needs the federation client API when this build has none (it answers 404). */
async function needsFederationApi(page: Page, path: string): Promise<void> {
  const answer = await page.request.get(`/api/v1/${path}`);
  test.skip(answer.status() === 404, `GET /api/v1/${path} is not served by this build`);
  expect(answer.ok(), `GET /api/v1/${path}: ${answer.status()}`).toBe(true);
}

test("following a library: a wrong address is refused, an unreachable library says so", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Follow a library");
  await expect(page.getByRole("heading", { name: "Follow a library", level: 1 })).toBeVisible();
  const address = page.getByLabel("Library link or account");

  await address.fill("my favourite library");
  await page.getByRole("button", { name: "Look up" }).click();
  await expect(page.getByRole("alert")).toContainText("neither a library link");

  // Port 9 (discard) on the loopback: nothing answers there, and a server never fetches its own loopback anyway.
  await address.fill("https://127.0.0.1:9/federation/music/libraries/6e2f7e43-3bb4-4e38-9d1b-0a4f2d0c6b8a");
  await page.getByRole("button", { name: "Look up" }).click();
  const failure = page.getByRole("alert");
  await expect(failure).toContainText(/could not be loaded|Nothing was found/);
  await expect(failure.getByRole("button", { name: "Try again" })).toBeVisible();
  await expect(page.getByRole("button", { name: /^Follow / })).toHaveCount(0);
  await shot(page, "23-follow-library-error-desktop");

  // An account on a server that cannot be reached, given in the address (?fid=, looked up at once): the same.
  await page.goto("/libraries/follow?fid=@nobody@127.0.0.1:9");
  await expect(address).toHaveValue("@nobody@127.0.0.1:9");
  await expect(page.getByRole("alert")).toContainText(/could not be loaded|Nothing was found/);
});

test("my follows: none yet, with the way to follow one", async ({ page }) => {
  await page.goto("/");
  await needsFederationApi(page, "federation/follows/library/");
  await nav(page, "My follows");
  await expect(page.getByText("You follow no library yet.")).toBeVisible();
  await page.getByRole("link", { name: "Follow one from its link" }).click();
  await expect(page.getByRole("heading", { name: "Follow a library", level: 1 })).toBeVisible();
});

test("my library's followers: none yet, and its sharing link", async ({ page, listener }) => {
  await page.goto("/");
  await needsFederationApi(page, "federation/follows/library/");
  await nav(page, "Upload & libraries");
  await page.getByRole("button", { name: "New library" }).click();
  await page.getByLabel("Library name").fill(`Shared by ${listener.username}`);
  await page.getByLabel("Who can listen", { exact: true }).selectOption("everyone");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("button", { name: `Followers of Shared by ${listener.username}` }).click();
  await expect(page.getByText("Nobody follows this library yet.")).toBeVisible();
  await expect(page.getByLabel("Sharing link")).toHaveValue(/\/federation\/music\/libraries\/[0-9a-f-]{36}$/);
  await expect(page.getByText("Anyone who follows this library is accepted at once.")).toBeVisible();
});

test("notifications: none yet, nothing unread", async ({ page }) => {
  await page.goto("/");
  await needsFederationApi(page, "federation/inbox/");
  await nav(page, "Notifications");
  await expect(page.getByText(/^No notification yet/)).toBeVisible();
  await expect(page.getByTestId("unread-count")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Mark all as read" })).toBeDisabled();
});

test.describe("phone-sized", () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

  test("the follow screen is reached from the menu and fits the screen", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByText("What would you like to hear?")).toBeVisible(); // the app settled: a route change closes the drawer
    await page.getByRole("button", { name: "Menu" }).click();
    const follow = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Follow a library" });
    await expect(follow).toBeVisible();
    await follow.click();
    await page.getByLabel("Library link or account").fill("ftp://music.example/library");
    await page.getByRole("button", { name: "Look up" }).click();
    await expect(page.getByRole("alert")).toContainText("Only web links");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "24-follow-library-phone");
  });
});
