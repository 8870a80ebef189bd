// One daemon for the whole run (each spec signs up its own listeners on it), and the album every spec uploads:
// real audio made by ffmpeg (make_album.py). Returns the teardown: the daemon stops, the files go.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "./daemon";
import { e2eDir, project, screenshotsDir, staticDir, venv } from "./paths";

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(join(staticDir, "dist", "index.html"))) {
    throw new Error("static/dist is missing; run `make front` (or `npm run build`) first");
  }
  rmSync(screenshotsDir, { recursive: true, force: true });
  mkdirSync(screenshotsDir, { recursive: true });
  const music = mkdtempSync(join(tmpdir(), "fw-e2e-album-"));
  const [ogg, flac, aiff] = execFileSync(join(venv, "bin", "python"), [join(e2eDir, "make_album.py"), music], {
    cwd: project,
  })
    .toString()
    .trim()
    .split("\n");
  const started = Date.now();
  const daemon = await startDaemon("daemon");
  console.log(`e2e: daemon ready at ${daemon.url} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The workers inherit these (see fixtures.ts).
  process.env.FUNKWHALE_E2E_URL = daemon.url;
  process.env.FUNKWHALE_E2E_FILES = JSON.stringify({ ogg, flac, aiff, avatar: join(music, "avatar.png") });
  return async () => {
    await daemon.stop();
    rmSync(music, { recursive: true, force: true });
  };
}
