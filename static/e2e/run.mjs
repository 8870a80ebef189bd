// End-to-end test of the web app in a real Chromium (playwright-core, Debian's /usr/bin/chromium) against a real
// daemon (embedded PostgreSQL and Redis in a temporary data dir) with real audio files made by ffmpeg.
//
//   node e2e/run.mjs            (from static/, after `npm run build`; `make test` runs it)
//
// No Chromium: prints "e2e SKIPPED: no chromium" and exits 0, or 1 when FUNKWHALE_REQUIRE_E2E=1.
// Screenshots of every screen it checks go to e2e/screenshots/ (desktop and phone-sized).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const staticDir = resolve(here, "..");
const project = resolve(staticDir, "..");
const shots = join(here, "screenshots");
const venv = process.env.FUNKWHALE_VENV ?? join(project, ".venv");
const started = Date.now();

// CHROMIUM=path picks the browser (CHROMIUM= with nothing: as if there were none).
function findChromium() {
  const candidates = process.env.CHROMIUM !== undefined
    ? [process.env.CHROMIUM]
    : ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
  return candidates.find((path) => path && existsSync(path)) ?? null;
}

const chromium = findChromium();
if (!chromium) {
  const required = process.env.FUNKWHALE_REQUIRE_E2E === "1";
  console.log(`e2e SKIPPED: no chromium${required ? " (FUNKWHALE_REQUIRE_E2E=1: this is a failure)" : ""}`);
  process.exit(required ? 1 : 0);
}
if (!existsSync(join(staticDir, "dist", "index.html"))) {
  console.error("e2e: static/dist is missing; run `make front` (or `npm run build`) first");
  process.exit(1);
}

const { chromium: playwright } = await import("playwright-core");

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const data = mkdtempSync(join(tmpdir(), "fw-e2e-"));
const music = join(data, "album");
const [ogg, flac, aiff] = execFileSync(join(venv, "bin", "python"), [join(here, "make_album.py"), music], { cwd: project })
  .toString().trim().split("\n");
const files = [ogg, flac];
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const daemon = spawn(
  join(venv, "bin", "twistd"),
  ["-n", "--pidfile=", "funkwhale", "--data-dir", join(data, "data"), "--listen", `tcp:${port}:interface=127.0.0.1`],
  {
    cwd: project,
    env: { ...process.env, FUNKWHALE_STATIC_ROOT: join(staticDir, "dist"), FUNKWHALE_REGISTRATION: "open",
           FUNKWHALE_HOSTNAME: `127.0.0.1:${port}` },
    stdio: ["ignore", "pipe", "pipe"],
  },
);
let log = "";
daemon.stdout.on("data", (chunk) => (log += chunk));
daemon.stderr.on("data", (chunk) => (log += chunk));
let browser = null;

async function cleanup() {
  await browser?.close().catch(() => undefined);
  if (daemon.exitCode === null) {
    daemon.kill("SIGTERM");
    for (let i = 0; i < 60 && daemon.exitCode === null && daemon.signalCode === null; i++) await sleep(500);
  }
  rmSync(data, { recursive: true, force: true });
}

async function waitForDaemon() {
  for (let i = 0; i < 240; i++) {
    if (daemon.exitCode !== null) throw new Error(`the daemon exited:\n${log}`);
    try {
      const answer = await fetch(`${base}/api/v1/instance/nodeinfo/2.0/`);
      if (answer.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  throw new Error(`the daemon did not answer in 120 s:\n${log}`);
}

const steps = [];
async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  steps.push(name);
  console.log(`  ok  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

async function until(check, seconds = 20) {
  for (let i = 0; i < seconds * 2; i++) {
    if (await check()) return;
    await sleep(500);
  }
  throw new Error(`not true after ${seconds} s: ${check}`);
}

function nav(page, name) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
}

async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(150); // let transitions settle
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

try {
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  await waitForDaemon();
  browser = await playwright.launch({
    executablePath: chromium,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await desktop.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => msg.type() === "error" && !/Failed to load resource/.test(msg.text()) && problems.push(msg.text()));
  page.setDefaultTimeout(15000);

  await step("an empty instance opens on the first-run screen", async () => {
    await page.goto(`${base}/library/albums`);
    await page.waitForURL("**/setup");
    await page.getByRole("heading", { name: /Welcome to/ }).waitFor();
    await shot(page, "01-first-run-desktop");
  });

  await step("the first account is created and becomes the administrator", async () => {
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Email").fill("admin@example.org");
    await page.getByLabel("Password", { exact: true }).fill("whale-song-2024");
    await page.getByLabel("Password again").fill("whale-song-2024");
    await page.getByRole("button", { name: "Create the administrator account" }).click();
    await page.waitForURL("**/uploads?welcome=1");
    await page.getByText("Your administrator account is ready").waitFor();
    const me = await page.evaluate(() => fetch("/api/v1/users/me/").then((r) => r.json()));
    assert.equal(me.is_superuser, true);
  });

  await step("an empty library: home invites to upload, lists and radios say there is nothing yet", async () => {
    await nav(page, "Home");
    await page.getByRole("heading", { name: "Your library is empty" }).waitFor();
    await shot(page, "02-home-empty-desktop");
    await nav(page, "Albums");
    await page.getByText("No album yet.").waitFor();
    await nav(page, "Radios");
    await page.getByRole("button", { name: "Start random radio" }).click();
    await page.locator(".toast.error", { hasText: "This radio has nothing to play yet." }).waitFor();
  });

  await step("two files are uploaded with progress and imported", async () => {
    await nav(page, "Upload & libraries");
    await page.getByLabel("Audio files to upload").setInputFiles(files);
    for (const file of files) {
      const name = file.split("/").pop();
      await page.getByTestId(`upload-${name}`).getByTestId("upload-state").filter({ hasText: "Imported" }).waitFor({ timeout: 60000 });
    }
    await page.getByText(`2 of 2 done · 2 imported`).waitFor();
    await page.getByRole("cell", { name: "Harbour Lights", exact: true }).waitFor();
    await shot(page, "03-uploads-desktop");
  });

  await step("home and albums show the album with its cover", async () => {
    await nav(page, "Home");
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
    await page.locator(".album-card", { hasText: "Deep Blue" }).first().waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll(".album-card img")].some((img) => img.complete && img.naturalWidth > 0));
    await shot(page, "04-home-desktop");
    await nav(page, "Albums");
    await page.getByRole("heading", { name: "Albums", level: 1 }).waitFor();
    await page.locator(".album-card", { hasText: "Deep Blue" }).waitFor();
    await shot(page, "05-albums-desktop");
  });

  await step("search shows results as you type", async () => {
    await nav(page, "Search");
    await page.getByLabel("Search artists, albums, tracks and tags").pressSequentially("harb", { delay: 40 });
    await page.getByRole("list", { name: "Tracks found" }).getByText("Harbour Lights").waitFor();
    assert.match(page.url(), /\?q=harb/);
    await shot(page, "06-search-desktop");
  });

  await step("a track plays from the album page and the audio reports progress", async () => {
    await page.goto(`${base}/library/albums`);
    await page.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
    await page.getByRole("heading", { name: "Deep Blue" }).waitFor();
    await page.getByRole("list", { name: "Tracks of Deep Blue" }).getByText("Morning Tide").waitFor();
    await shot(page, "07-album-desktop");
    await page.getByRole("button", { name: "Play Morning Tide" }).click();
    await page.getByTestId("now-playing").filter({ hasText: "Morning Tide" }).waitFor();
    await page.waitForFunction(() => Number(document.querySelector('input[aria-label="Seek"]')?.value) > 1, null, { timeout: 20000 });
    await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Pause", exact: true }).waitFor();
    const os = await page.evaluate(() => { const m = navigator.mediaSession.metadata; return { title: m?.title, artist: m?.artist, album: m?.album }; });
    assert.deepEqual([os.title, os.artist, os.album], ["Morning Tide", "The Whales", "Deep Blue"]); // what the OS shows
    await shot(page, "08-playing-desktop");
  });

  await step("a listen is recorded in history after half the track played", async () => {
    await until(() => page.evaluate(() => fetch("/api/v1/history/listenings/").then((r) => r.json()).then((d) => d.count > 0)));
    await page.keyboard.press("Space"); // the keyboard shortcut pauses
    await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Play", exact: true }).waitFor();
    await nav(page, "History");
    await page.getByRole("list", { name: "Listening history" }).getByText("Morning Tide").waitFor();
    await shot(page, "09-history-desktop");
  });

  await step("a track is favorited and listed in favorites", async () => {
    await page.goBack();
    await page.getByRole("button", { name: "Favorite Harbour Lights" }).first().click();
    await page.getByText("Added “Harbour Lights” to favorites").waitFor();
    await nav(page, "Favorites");
    await page.getByRole("list", { name: "Favorite tracks" }).getByText("Harbour Lights").waitFor();
    await shot(page, "10-favorites-desktop");
  });

  await step("a format the browser cannot play is transcoded to mp3 by the server", async () => {
    assert.equal(await page.evaluate(() => new Audio().canPlayType("audio/aiff")), "");
    await nav(page, "Upload & libraries");
    await page.getByLabel("Audio files to upload").setInputFiles(aiff);
    await page.getByTestId("upload-03 Sea Glass.aiff").getByTestId("upload-state").filter({ hasText: "Imported" }).waitFor({ timeout: 60000 });
    const transcoded = page.waitForRequest((request) => /\/api\/v1\/listen\/.*to=mp3/.test(request.url()));
    await page.getByRole("link", { name: "Sea Glass — Deep Blue" }).click();
    await page.getByRole("button", { name: "Play Sea Glass" }).click();
    await transcoded;
    await page.getByTestId("now-playing").filter({ hasText: "Sea Glass" }).waitFor();
    await page.getByRole("region", { name: "Player" }).getByText("0:08", { exact: true }).waitFor(); // the stream has no length
    await page.waitForFunction(() => Number(document.querySelector('input[aria-label="Seek"]')?.value) > 1, null, { timeout: 20000 });
  });

  await step("a dropped file that is not audio fails, the reason said in words; a library is shared", async () => {
    await nav(page, "Upload & libraries");
    const dataTransfer = await page.evaluateHandle((text) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], "broken.mp3", { type: "audio/mpeg" }));
      return transfer;
    }, "these are liner notes, not music\n".repeat(200));
    await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer }); // dropped, as from a file manager
    const item = page.getByTestId("upload-broken.mp3");
    await item.getByTestId("upload-state").filter({ hasText: "Failed" }).waitFor({ timeout: 60000 });
    const reason = await item.getByRole("alert").textContent();
    assert.match(reason, /damaged|not an audio format/);
    await shot(page, "12b-upload-error-desktop");
    await page.getByLabel("Who can listen to My music").selectOption("instance");
    await page.getByText("My music: everyone on this server can listen").waitFor();
  });

  await step("tracks are added to a playlist from the track menu and reordered by drag and drop", async () => {
    await nav(page, "Albums");
    await page.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
    const list = page.getByRole("list", { name: "Tracks of Deep Blue" });
    await list.getByRole("button", { name: "More actions for Morning Tide" }).click();
    await page.getByRole("menuitem", { name: "Add to playlist…" }).click();
    await page.getByLabel("New playlist name").fill("Road trip");
    await shot(page, "11-add-to-playlist-desktop");
    await page.getByRole("button", { name: "Create and add" }).click();
    await page.getByText("Added “Morning Tide” to Road trip").waitFor();
    await list.getByRole("button", { name: "More actions for Harbour Lights" }).click();
    await page.getByRole("menuitem", { name: "Add to playlist…" }).click();
    await page.getByRole("button", { name: /Road trip/ }).click();
    await page.getByText("Added “Harbour Lights” to Road trip").waitFor();
    await nav(page, "Playlists");
    await page.locator(".album-card a", { hasText: "Road trip" }).click();
    const rows = page.getByRole("list", { name: "Tracks of Road trip" });
    await rows.getByTestId("track-1").getByText("Harbour Lights").waitFor();
    await rows.getByTestId("track-1").dragTo(rows.getByTestId("track-0"));
    await rows.getByTestId("track-0").getByText("Harbour Lights").waitFor();
    await page.reload();
    await page.getByRole("button", { name: "Queue (3)" }).waitFor(); // the queue survives a reload
    await rows.getByTestId("track-0").getByText("Harbour Lights").waitFor();
    await rows.getByTestId("track-1").getByText("Morning Tide").waitFor();
    await shot(page, "12-playlist-desktop");
    await rows.getByRole("button", { name: "Remove Morning Tide" }).click();
    await rows.getByText("Morning Tide").waitFor({ state: "detached" });
  });

  await step("the keyboard reaches the skip link and drives a track menu", async () => {
    await nav(page, "Albums");
    await page.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
    await page.getByRole("heading", { name: "Deep Blue" }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), "main"); // focus follows navigation
    await page.reload();
    await page.getByRole("heading", { name: "Deep Blue" }).waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
    await page.getByRole("button", { name: "More actions for Harbour Lights" }).focus();
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), "Play next");
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), "Add to queue");
    await page.keyboard.press("Enter");
    await page.getByText("“Harbour Lights” added to the queue").waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "More actions for Harbour Lights");
  });

  await step("a radio starts from an artist and fills the queue", async () => {
    await nav(page, "Radios");
    await shot(page, "13-radios-desktop");
    await page.getByRole("button", { name: "The Whales" }).click();
    await page.getByText("The Whales radio started").waitFor();
    await page.getByTestId("now-playing").waitFor();
    await page.getByRole("button", { name: /^Queue/ }).click();
    await page.getByText("Radio · The Whales").waitFor();
    await page.locator(".queue-item").nth(1).waitFor();
    await shot(page, "14-radio-queue-desktop");
    await page.getByRole("button", { name: "Close the queue" }).click();
    await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Pause", exact: true }).click();
  });

  await step("artists, tags and settings render", async () => {
    await nav(page, "Artists");
    await page.getByRole("heading", { name: "Artists", level: 1 }).waitFor();
    await page.locator(".album-card", { hasText: "The Whales" }).waitFor();
    await shot(page, "15-artists-desktop");
    await page.locator(".album-card a", { hasText: "The Whales" }).click();
    await page.getByRole("heading", { name: "The Whales" }).waitFor();
    await shot(page, "16-artist-desktop");
    await nav(page, "Tags");
    await page.getByRole("link", { name: "#Ambient" }).click();
    await page.getByRole("heading", { name: "#Ambient" }).waitFor();
    await nav(page, "Settings");
    await page.getByRole("button", { name: "Create a Subsonic token" }).click();
    await page.getByLabel("Token").waitFor();
    await page.getByLabel("Display name").fill("Ada the admin");
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByText("Profile saved").waitFor();
    await page.locator(".avatar-row input[type=file]").setInputFiles(join(music, "avatar.png"));
    await page.getByText("Avatar updated").waitFor();
    await page.waitForFunction(() => document.querySelector(".avatar img")?.naturalWidth > 0);
    await shot(page, "17-settings-desktop");
  });

  await step("phone-sized screens: home, album, menu and player", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await desktop.storageState(), isMobile: true, hasTouch: true });
    const mobile = await phone.newPage();
    mobile.on("pageerror", (error) => problems.push(`page error (phone): ${error.message}`));
    await mobile.goto(`${base}/`);
    await mobile.getByRole("heading", { name: "Recently added" }).waitFor();
    await shot(mobile, "18-home-phone");
    await mobile.getByRole("button", { name: "Menu" }).click();
    await mobile.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Albums" }).waitFor();
    await shot(mobile, "19-menu-phone");
    await mobile.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Albums" }).click();
    await mobile.locator(".album-card a", { hasText: "Deep Blue" }).first().click();
    await mobile.getByRole("heading", { name: "Deep Blue" }).waitFor();
    await mobile.locator(".hero-actions").getByRole("button", { name: "Play", exact: true }).click();
    await mobile.getByTestId("now-playing").waitFor();
    await shot(mobile, "20-album-playing-phone");
    await mobile.getByRole("button", { name: /^Queue/ }).click();
    await mobile.locator(".queue-item").nth(1).waitFor();
    await shot(mobile, "20b-queue-phone");
    await mobile.getByRole("button", { name: "Close the queue" }).click();
    await mobile.goto(`${base}/uploads`);
    await mobile.getByRole("heading", { name: "My uploads" }).waitFor();
    await shot(mobile, "21-uploads-phone");
    await phone.close();
  });

  await step("an ended session leads to the login screen and back to the page after logging in; password change", async () => {
    await desktop.clearCookies({ name: "sessionid" });
    await nav(page, "Favorites");
    await page.waitForURL((url) => url.pathname === "/login" && url.searchParams.get("next") === "/favorites");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("whale-song-2024");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Favorites" }).waitFor();
    await nav(page, "Settings");
    await page.getByLabel("Current password").fill("whale-song-2024");
    await page.getByLabel("New password", { exact: true }).fill("humpback-2026");
    await page.getByLabel("New password again").fill("humpback-2026");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Password changed.").waitFor();
  });

  await step("log out, the login form, and a second listener signs up", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL("**/login");
    await page.getByLabel("Password").waitFor();
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").waitFor();
    await shot(page, "22-login-error-desktop");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByRole("heading", { name: "Create an account" }).waitFor();
    await page.getByLabel("Username").fill("bob");
    await page.getByLabel("Email").fill("bob@example.org");
    await page.getByLabel("Password", { exact: true }).fill("whale-song-2025");
    await page.getByLabel("Password again").fill("whale-song-2025");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: /, bob$/ }).waitFor();
  });

  assert.deepEqual(problems, [], "the page logged errors");
  const took = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`e2e: ${steps.length} scenarios passed in ${took} s; ${readdirSync(shots).length} screenshots in ${shots}`);
  await cleanup();
} catch (error) {
  console.error(`e2e FAILED: ${error.stack ?? error}`);
  try {
    const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
    if (pages[0]) await pages[0].screenshot({ path: join(shots, "failure.png") });
  } catch {
    // the browser is gone
  }
  console.error(log.split("\n").slice(-30).join("\n"));
  await cleanup();
  process.exit(1);
}
