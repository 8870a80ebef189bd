// Embedding: the album page's "Embed" gives the oEmbed iframe code, and that player, framed by another site,
// plays the album anonymously. Anonymous listening is an instance setting its administrator turns on, so this
// spec starts a daemon of its own (its first account is the administrator).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { apiAs, post, upload } from "./accounts";
import { startDaemon } from "./daemon";
import { test as base, expect, files, shot } from "./fixtures";

const test = base.extend<{ openInstance: string }>({
  openInstance: [
    async ({}, use) => {
      const daemon = await startDaemon("embed-daemon");
      await use(daemon.url);
      await daemon.stop();
    },
    { timeout: 150_000 },
  ],
  baseURL: async ({ openInstance }, use) => use(openInstance),
});

test("an album shared with everyone is embedded in another site and plays there without an account", async ({ page, baseURL, listener }) => {
  test.setTimeout(150_000);
  let albumId = 0;
  await test.step("the administrator opens listening to anonymous visitors and shares an album with everyone", async () => {
    const adminApi = await apiAs(baseURL!, listener); // the instance's first account: its administrator
    await post(adminApi, "instance/admin/settings/bulk/", { data: { common__api_authentication_required: false } });
    const library = await post(adminApi, "libraries/", { data: { name: "Shared", privacy_level: "everyone", description: "" } });
    for (const file of [files.ogg, files.flac]) await upload(adminApi, library.uuid, file);
    const albums = await (await adminApi.get("/api/v1/albums/", { params: { q: "Deep Blue" } })).json();
    albumId = albums.results[0].id;
    await adminApi.dispose();
  });

  let code = "";
  await test.step("the album page's Embed button gives the iframe code", async () => {
    await page.goto(`/library/albums/${albumId}`);
    await page.getByRole("button", { name: "Embed" }).click();
    const box = page.getByLabel("Paste this code into your page");
    await expect(box).toHaveValue(/<iframe .*front\/embed\.html\?type=album&amp;id=\d+/);
    code = await box.inputValue();
    await shot(page, "40-embed-code");
  });

  await test.step("another site frames the player, which plays the album to a visitor without an account", async () => {
    await page.context().clearCookies();
    // Another origin on this machine (Chromium keeps public pages from framing loopback addresses).
    const blog = createServer((_, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(`<!doctype html><title>Blog</title><h1>My favourite album</h1>${code}`);
    });
    await new Promise<void>((resolve) => blog.listen(0, "127.0.0.1", resolve));
    await page.goto(`http://127.0.0.1:${(blog.address() as AddressInfo).port}/post`);
    const player = page.frameLocator("iframe");
    await expect(player.getByRole("link", { name: "Deep Blue" })).toBeVisible();
    await expect(player.getByRole("button", { name: /Morning Tide/ })).toBeVisible();
    await player.getByRole("button", { name: "Play", exact: true }).click();
    await expect(player.getByRole("button", { name: "Pause", exact: true })).toBeVisible();
    await expect
      .poll(() => player.getByLabel("Position").evaluate((el) => Number((el as HTMLInputElement).value)), { timeout: 20_000 })
      .toBeGreaterThan(1);
    await shot(page, "41-embedded-player");
    blog.close();
  });
});
