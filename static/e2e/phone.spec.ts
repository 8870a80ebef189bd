// Phone-sized screens: home, the menu drawer, an album playing, the queue, uploads.
import { expect, shot, test } from "./fixtures";

test.use({ album: true, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

test("phone-sized screens: home, album, menu and player", async ({ page }) => {
  const main = page.getByRole("navigation", { name: "Main" });
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Recently added" })).toBeVisible();
  await shot(page, "18-home-phone");
  await page.getByRole("button", { name: "Menu" }).click();
  await expect(main.getByRole("link", { name: "Albums" })).toBeVisible();
  await shot(page, "19-menu-phone");
  await main.getByRole("link", { name: "Albums" }).click();
  await page.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
  await expect(page.getByRole("heading", { name: "Deep Blue" })).toBeVisible();
  await page.locator(".hero-actions").getByRole("button", { name: "Play", exact: true }).click();
  await expect(page.getByTestId("now-playing")).toBeVisible();
  await shot(page, "20-album-playing-phone");
  await page.getByRole("button", { name: /^Queue/ }).click();
  await expect(page.locator(".queue-item").nth(1)).toBeVisible();
  await shot(page, "20b-queue-phone");
  await page.getByRole("button", { name: "Close the queue" }).click();
  await page.goto("/uploads");
  await expect(page.getByRole("heading", { name: "My uploads" })).toBeVisible();
  await shot(page, "21-uploads-phone");
});
