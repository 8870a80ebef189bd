// Listeners made through the API, so each test starts from its own account (and its own uploads): no test
// depends on what another did or in which order they ran.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { expect, request, type APIRequestContext, type BrowserContextOptions } from "@playwright/test";

export type StorageState = Exclude<BrowserContextOptions["storageState"], string | undefined>;

export interface Listener {
  username: string;
  password: string;
  /** The logged-in session, for a browser context. */
  state: StorageState;
}

export const PASSWORD = "whale-song-2024";

let made = 0;

/** A name no other test uses: the worker's pid and a counter. */
export function uniqueName(prefix: string): string {
  made += 1;
  return `${prefix}${process.pid}x${made}`;
}

async function csrfHeader(api: APIRequestContext): Promise<Record<string, string>> {
  const token = (await api.storageState()).cookies.find((c) => c.name === "csrftoken")?.value;
  return token ? { "X-CSRFToken": token } : {};
}

/** POST /api/v1/<path> with the context's CSRF token; fails the test unless it succeeds; the JSON answer. */
export async function post(api: APIRequestContext, path: string, body: Parameters<APIRequestContext["post"]>[1]) {
  const answer = await api.post(`/api/v1/${path}`, { ...body, headers: await csrfHeader(api) });
  expect(answer.ok(), `POST ${path}: ${answer.status()} ${await answer.text()}`).toBe(true);
  return answer.json().catch(() => null);
}

/** Upload a file into the library and wait until it is imported. */
export async function upload(api: APIRequestContext, library: string, path: string): Promise<void> {
  const name = basename(path);
  const sent = await post(api, "uploads/", {
    multipart: {
      library,
      import_reference: "e2e",
      source: `upload://${name}`,
      audio_file: { name, mimeType: "application/octet-stream", buffer: readFileSync(path) },
    },
  });
  await expect
    .poll(async () => (await (await api.get(`/api/v1/uploads/${sent.uuid}/`)).json()).import_status, {
      message: `the import of ${name}`,
      timeout: 60_000,
    })
    .toBe("finished");
}

const NOBODY: StorageState = { cookies: [], origins: [] };

/** An API client with no cookies (inside a test, a new context would otherwise carry the test's session). */
export function anonymousApi(baseURL: string): Promise<APIRequestContext> {
  return request.newContext({ baseURL, storageState: NOBODY });
}

/** An API client logged in as `listener` (dispose it after use). */
export function apiAs(baseURL: string, listener: Listener): Promise<APIRequestContext> {
  return request.newContext({ baseURL, storageState: listener.state });
}

/** Sign up a new listener, log in, and upload `files` into a private library (“My music”). */
export async function newListener(baseURL: string, files: string[] = []): Promise<Listener> {
  const api = await anonymousApi(baseURL);
  try {
    await api.get("/api/v1/instance/nodeinfo/2.0/"); // the csrftoken cookie
    const username = uniqueName("listener");
    await post(api, "auth/registration/", {
      data: { username, email: `${username}@example.org`, password1: PASSWORD, password2: PASSWORD },
    });
    await post(api, "users/login/", { form: { username, password: PASSWORD } });
    if (files.length) {
      const library = await post(api, "libraries/", { data: { name: "My music", privacy_level: "me", description: "" } });
      // Three at a time: the server refuses more concurrent uploads per user (FUNKWHALE_UPLOAD_MAX_CONCURRENT_PER_USER).
      const waiting = [...files];
      const lane = async () => {
        for (let file = waiting.shift(); file; file = waiting.shift()) await upload(api, library.uuid, file);
      };
      await Promise.all([lane(), lane(), lane()]);
    }
    return { username, password: PASSWORD, state: await api.storageState() };
  } finally {
    await api.dispose();
  }
}
