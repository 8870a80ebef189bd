// A real daemon for the browser tests: twistd from the project's venv (FUNKWHALE_VENV), its own temporary data
// dir (embedded PostgreSQL and Redis), a free port, registration open, the built web app served at /.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outputDir, project, staticDir, venv } from "./paths";

export interface Daemon {
  url: string;
  /** SIGTERM, wait for the exit (the embedded servers stop with it), remove the data dir. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Start a daemon on an empty instance and resolve once it answers; its log goes to e2e/output/<name>.log. */
export async function startDaemon(name: string): Promise<Daemon> {
  const data = mkdtempSync(join(tmpdir(), "fw-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(outputDir, { recursive: true });
  const logPath = join(outputDir, `${name}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(
    join(venv, "bin", "twistd"),
    ["-n", "--pidfile=", "funkwhale", "--data-dir", join(data, "data"), "--listen", `tcp:${port}:interface=127.0.0.1`],
    {
      cwd: project,
      env: {
        ...process.env,
        FUNKWHALE_STATIC_ROOT: join(staticDir, "dist"),
        FUNKWHALE_REGISTRATION: "open",
        // every test signs up its own listener from this one address: lift the per-address sign-up limit
        FUNKWHALE_SIGNUP_RATE_LIMIT: "1000",
        FUNKWHALE_HOSTNAME: `127.0.0.1:${port}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = () => child.exitCode !== null || child.signalCode !== null;

  async function stop() {
    if (!exited()) {
      child.kill("SIGTERM");
      for (let i = 0; i < 60 && !exited(); i++) await sleep(500);
    }
    log.end();
    rmSync(data, { recursive: true, force: true });
  }

  const tail = () => readFileSync(logPath, "utf8").split("\n").slice(-30).join("\n");
  for (let i = 0; i < 240; i++) {
    if (exited()) {
      await stop();
      throw new Error(`the daemon exited (log: ${logPath}):\n${tail()}`);
    }
    try {
      if ((await fetch(`${url}/api/v1/instance/nodeinfo/2.0/`)).ok) return { url, stop };
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  const last = tail();
  await stop();
  throw new Error(`the daemon did not answer in 120 s (log: ${logPath}):\n${last}`);
}
