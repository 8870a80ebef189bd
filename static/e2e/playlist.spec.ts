// Playlists: tracks added from the track menu, reordered by drag and drop, the queue kept across a reload.
import { expect, nav, shot, test } from "./fixtures";

test.use({ album: true });

test("tracks are added to a playlist from the track menu and reordered by drag and drop", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Albums");
  await page.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
  const list = page.getByRole("list", { name: "Tracks of Deep Blue" });
  await list.getByRole("button", { name: "More actions for Morning Tide" }).click();
  await page.getByRole("menuitem", { name: "Add to playlist…" }).click();
  await page.getByLabel("New playlist name").fill("Road trip");
  await shot(page, "11-add-to-playlist-desktop");
  await page.getByRole("button", { name: "Create and add" }).click();
  await expect(page.getByText("Added “Morning Tide” to Road trip")).toBeVisible();
  await list.getByRole("button", { name: "More actions for Harbour Lights" }).click();
  await page.getByRole("menuitem", { name: "Add to playlist…" }).click();
  await page.getByRole("button", { name: /Road trip/ }).click();
  await expect(page.getByText("Added “Harbour Lights” to Road trip")).toBeVisible();
  // Two tracks queued, for the reload below.
  await list.getByRole("button", { name: "More actions for Morning Tide" }).click();
  await page.getByRole("menuitem", { name: "Add to queue" }).click();
  await list.getByRole("button", { name: "More actions for Harbour Lights" }).click();
  await page.getByRole("menuitem", { name: "Add to queue" }).click();
  await expect(page.getByRole("button", { name: "Queue (2)" })).toBeVisible();

  await nav(page, "Playlists");
  await page.locator(".album-card a", { hasText: "Road trip" }).click();
  const rows = page.getByRole("list", { name: "Tracks of Road trip" });
  await expect(rows.getByTestId("track-1").getByText("Harbour Lights")).toBeVisible();
  await rows.getByTestId("track-1").dragTo(rows.getByTestId("track-0"));
  await expect(rows.getByTestId("track-0").getByText("Harbour Lights")).toBeVisible();
  await page.reload();
  await expect(page.getByRole("button", { name: "Queue (2)" })).toBeVisible(); // the queue survives a reload
  await expect(rows.getByTestId("track-0").getByText("Harbour Lights")).toBeVisible();
  await expect(rows.getByTestId("track-1").getByText("Morning Tide")).toBeVisible();
  await shot(page, "12-playlist-desktop");
  await rows.getByRole("button", { name: "Remove Morning Tide" }).click();
  await expect(rows.getByText("Morning Tide")).toHaveCount(0);
});
