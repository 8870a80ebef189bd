// Browsing a library: home, albums, search as you type, artists and tags.
import { expect, nav, shot, test } from "./fixtures";

test.use({ album: true });

test("home and albums show the album with its cover", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Recently added" })).toBeVisible();
  await expect(page.locator(".album-card", { hasText: "Deep Blue" }).first()).toBeVisible();
  await page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>(".album-card img")].some((img) => img.complete && img.naturalWidth > 0),
  );
  await shot(page, "04-home-desktop");
  await nav(page, "Albums");
  await expect(page.getByRole("heading", { name: "Albums", level: 1 })).toBeVisible();
  await expect(page.locator(".album-card", { hasText: "Deep Blue" })).toBeVisible();
  await shot(page, "05-albums-desktop");
});

test("search shows results as you type", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Search");
  await page.getByLabel("Search artists, albums, tracks and tags").pressSequentially("harb", { delay: 40 });
  await expect(page.getByRole("list", { name: "Tracks found" }).getByText("Harbour Lights")).toBeVisible();
  expect(page.url()).toMatch(/\?q=harb/);
  await shot(page, "06-search-desktop");
});

test("artists, an artist and a tag render", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Artists");
  await expect(page.getByRole("heading", { name: "Artists", level: 1 })).toBeVisible();
  await expect(page.locator(".album-card", { hasText: "The Whales" })).toBeVisible();
  await shot(page, "15-artists-desktop");
  await page.locator(".album-card a", { hasText: "The Whales" }).click();
  await expect(page.getByRole("heading", { name: "The Whales" })).toBeVisible();
  await shot(page, "16-artist-desktop");
  await nav(page, "Tags");
  await page.getByRole("link", { name: "#Ambient" }).click();
  await expect(page.getByRole("heading", { name: "#Ambient" })).toBeVisible();
});
