// The web app and the server agree on lists: an album longer than the server's largest page shows whole, and
// "My playlists" holds only mine.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiAs, newListener, post } from "./accounts";
import { expect, test } from "./fixtures";
import { e2eDir, project, venv } from "./paths";

test("an album of 60 tracks shows all 60", async ({ page, baseURL }) => {
  test.setTimeout(240_000);
  const folder = mkdtempSync(join(tmpdir(), "fw-e2e-long-"));
  try {
    const made = execFileSync(join(venv, "bin", "python"), [join(e2eDir, "make_long_album.py"), folder, "60"], { cwd: project });
    const owner = await newListener(baseURL!, made.toString().trim().split("\n"));
    await page.context().clearCookies();
    await page.context().addCookies(owner.state.cookies);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  await page.goto("/library/albums");
  await page.locator(".album-card a", { hasText: "Long Player" }).first().click();
  const list = page.getByRole("list", { name: "Tracks of Long Player" });
  await expect(list.getByRole("listitem")).toHaveCount(60);
  await expect(list.getByText("Wave 60", { exact: true })).toBeVisible();
  await expect(page.getByText("60 tracks")).toBeVisible();
});

test("My playlists lists mine, not another listener's shared one", async ({ page, baseURL, listener }) => {
  for (const [who, name] of [
    [await newListener(baseURL!), "Someone else's mix"],
    [listener, "Mine only"],
  ] as const) {
    const api = await apiAs(baseURL!, who);
    try {
      await post(api, "playlists/", { data: { name, privacy_level: "instance" } });
    } finally {
      await api.dispose();
    }
  }
  await page.goto("/playlists");
  await expect(page.locator(".album-card", { hasText: "Mine only" })).toBeVisible();
  await expect(page.locator(".album-card", { hasText: "Mine only" })).toBeVisible();
  await expect(page.locator(".album-card", { hasText: "Someone else's mix" })).toHaveCount(0);
});
