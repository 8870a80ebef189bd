// Listening: a track plays and reports progress, the listen goes to history, favorites, the keyboard, a radio.
import type { Page } from "@playwright/test";
import { expect, nav, seekMoves, shot, test } from "./fixtures";

test.use({ album: true });

async function openAlbum(page: Page): Promise<void> {
  await page.goto("/library/albums");
  await page.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
  await expect(page.getByRole("heading", { name: "Deep Blue" })).toBeVisible();
}

test("a track plays from the album page, reports progress, and its listen is recorded in history", async ({ page }) => {
  const player = page.getByRole("region", { name: "Player" });
  await test.step("the track plays and the audio reports progress", async () => {
    await openAlbum(page);
    await expect(page.getByRole("list", { name: "Tracks of Deep Blue" }).getByText("Morning Tide")).toBeVisible();
    await shot(page, "07-album-desktop");
    await page.getByRole("button", { name: "Play Morning Tide" }).click();
    await expect(page.getByTestId("now-playing").filter({ hasText: "Morning Tide" })).toBeVisible();
    await seekMoves(page);
    await expect(player.getByRole("button", { name: "Pause", exact: true })).toBeVisible();
    const shown = await page.evaluate(() => {
      const m = navigator.mediaSession.metadata;
      return [m?.title, m?.artist, m?.album];
    });
    expect(shown).toEqual(["Morning Tide", "The Whales", "Deep Blue"]); // what the OS shows
    await shot(page, "08-playing-desktop");
  });

  await test.step("a listen is recorded in history after half the track played", async () => {
    await expect
      .poll(() => page.evaluate(() => fetch("/api/v1/history/listenings/").then((r) => r.json()).then((d) => d.count)), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0);
    await page.keyboard.press("Space"); // the keyboard shortcut pauses
    await expect(player.getByRole("button", { name: "Play", exact: true })).toBeVisible();
    await nav(page, "History");
    await expect(page.getByRole("list", { name: "Listening history" }).getByText("Morning Tide")).toBeVisible();
    await shot(page, "09-history-desktop");
  });
});

test("a track is favorited and listed in favorites", async ({ page }) => {
  await openAlbum(page);
  await page.getByRole("button", { name: "Favorite Harbour Lights" }).first().click();
  await expect(page.getByText("Added “Harbour Lights” to favorites")).toBeVisible();
  await nav(page, "Favorites");
  await expect(page.getByRole("list", { name: "Favorite tracks" }).getByText("Harbour Lights")).toBeVisible();
  await shot(page, "10-favorites-desktop");
});

test("the keyboard reaches the skip link and drives a track menu", async ({ page }) => {
  const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim());
  await page.goto("/");
  await nav(page, "Albums");
  await page.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
  await expect(page.getByRole("heading", { name: "Deep Blue" })).toBeVisible();
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("main"); // focus follows navigation
  await page.reload();
  await expect(page.getByRole("heading", { name: "Deep Blue" })).toBeVisible();
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("Skip to content");
  await page.keyboard.press("Enter");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
  await page.getByRole("button", { name: "More actions for Harbour Lights" }).focus();
  await page.keyboard.press("Enter");
  expect(await focused()).toBe("Play next");
  await page.keyboard.press("ArrowDown");
  expect(await focused()).toBe("Add to queue");
  await page.keyboard.press("Enter");
  await expect(page.getByText("“Harbour Lights” added to the queue")).toBeVisible();
  expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe(
    "More actions for Harbour Lights",
  );
});

test("a radio starts from an artist and fills the queue", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Radios");
  await expect(page.getByRole("button", { name: "The Whales" })).toBeVisible();
  await shot(page, "13-radios-desktop");
  await page.getByRole("button", { name: "The Whales" }).click();
  await expect(page.getByText("The Whales radio started")).toBeVisible();
  await expect(page.getByTestId("now-playing")).toBeVisible();
  await page.getByRole("button", { name: /^Queue/ }).click();
  await expect(page.getByText("Radio · The Whales")).toBeVisible();
  await expect(page.locator(".queue-item").nth(1)).toBeVisible();
  await shot(page, "14-radio-queue-desktop");
  await page.getByRole("button", { name: "Close the queue" }).click();
  await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Pause", exact: true }).click();
});
