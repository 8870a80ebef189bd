// Where things are, for the config, the global setup and the specs.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const e2eDir = dirname(fileURLToPath(import.meta.url));
export const staticDir = resolve(e2eDir, "..");
export const project = resolve(staticDir, "..");
export const venv = process.env.FUNKWHALE_VENV ?? join(project, ".venv");
/** Daemon logs; Playwright's traces and failure screenshots go to its results/ folder. */
export const outputDir = join(e2eDir, "output");
/** The screenshots of every screen the specs check (desktop and phone-sized), kept across runs for review. */
export const screenshotsDir = join(e2eDir, "screenshots");
