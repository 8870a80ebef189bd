// Uploading through the web app: progress and import, a format the browser cannot play (played through the
// server's mp3 transcode), a dropped file that is not audio.
import { basename } from "node:path";
import { expect, files, nav, seekMoves, shot, test } from "./fixtures";

test("two files are uploaded with progress and imported", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Upload & libraries");
  await page.getByLabel("Audio files to upload").setInputFiles([files.ogg, files.flac]);
  for (const file of [files.ogg, files.flac]) {
    const state = page.getByTestId(`upload-${basename(file)}`).getByTestId("upload-state");
    await expect(state.filter({ hasText: "Imported" })).toBeVisible({ timeout: 60_000 });
  }
  await expect(page.getByText("2 of 2 done · 2 imported")).toBeVisible();
  await expect(page.getByRole("cell", { name: "Harbour Lights", exact: true })).toBeVisible();
  await shot(page, "03-uploads-desktop");
});

test("a format the browser cannot play is transcoded to mp3 by the server", async ({ page }) => {
  await page.goto("/");
  expect(await page.evaluate(() => new Audio().canPlayType("audio/aiff"))).toBe("");
  await nav(page, "Upload & libraries");
  await page.getByLabel("Audio files to upload").setInputFiles(files.aiff);
  const state = page.getByTestId("upload-03 Sea Glass.aiff").getByTestId("upload-state");
  await expect(state.filter({ hasText: "Imported" })).toBeVisible({ timeout: 60_000 });
  const transcoded = page.waitForRequest((request) => /\/api\/v1\/listen\/.*to=mp3/.test(request.url()));
  await page.getByRole("link", { name: "Sea Glass — Deep Blue" }).click();
  await page.getByRole("button", { name: "Play Sea Glass" }).click();
  await transcoded;
  await expect(page.getByTestId("now-playing").filter({ hasText: "Sea Glass" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Player" }).getByText("0:08", { exact: true })).toBeVisible(); // the stream has no length
  await seekMoves(page);
});

test("a dropped file that is not audio fails, the reason said in words; a library is shared", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Upload & libraries");
  const dataTransfer = await page.evaluateHandle((text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], "broken.mp3", { type: "audio/mpeg" }));
    return transfer;
  }, "these are liner notes, not music\n".repeat(200));
  await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer }); // dropped, as from a file manager
  const item = page.getByTestId("upload-broken.mp3");
  await expect(item.getByTestId("upload-state").filter({ hasText: "Failed" })).toBeVisible({ timeout: 60_000 });
  await expect(item.getByRole("alert")).toHaveText(/damaged|not an audio format/);
  await shot(page, "12b-upload-error-desktop");
  // This listener's library holds nothing playable: sharing it shows the other specs' listeners nothing new.
  await page.getByLabel("Who can listen to My music").selectOption("instance");
  await expect(page.getByText("My music: everyone on this server can listen")).toBeVisible();
});
