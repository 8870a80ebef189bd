// Third-party app sign-in (the consent screen at /authorize, as mopidy-funkwhale and Otter use it) and the
// applications settings (a personal token shown once, deleted).
import type { APIRequestContext, Page } from "@playwright/test";
import { anonymousApi } from "./accounts";
import { expect, shot, test } from "./fixtures";

const CALLBACK = "http://app.invalid/callback";

interface Registered {
  client_id: string;
  client_secret: string;
}

/** A third-party app registered as apps do it: anonymously, with its callback. */
async function registerApp(baseURL: string): Promise<Registered> {
  const api = await anonymousApi(baseURL);
  try {
    const answer = await api.post("/api/v1/oauth/apps/", {
      data: { name: "Mopidy at home", scopes: "read write:playlists write:favorites", redirect_uris: CALLBACK },
    });
    expect(answer.status(), await answer.text()).toBe(201);
    return answer.json();
  } finally {
    await api.dispose();
  }
}

/** The app's callback answers a page of its own; the address the browser lands on is what counts. */
async function catchCallback(page: Page): Promise<void> {
  await page.route(`${CALLBACK}**`, (route) => route.fulfill({ contentType: "text/html", body: "<p>app callback</p>" }));
}

function authorizeUrl(app: Registered, redirectUri = CALLBACK): string {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: app.client_id,
    redirect_uri: redirectUri,
    scope: "read write:playlists",
    state: "s-42",
  });
  return `/authorize?${query}`;
}

async function exchange(api: APIRequestContext, app: Registered, code: string) {
  const answer = await api.post("/api/v1/oauth/token/", {
    form: { grant_type: "authorization_code", code, redirect_uri: CALLBACK, client_id: app.client_id, client_secret: app.client_secret },
  });
  expect(answer.status(), await answer.text()).toBe(200);
  return answer.json();
}

test("an app is allowed on the consent screen and its code buys a token that works", async ({ page, baseURL, listener }) => {
  const app = await registerApp(baseURL!);
  await catchCallback(page);
  await page.goto(authorizeUrl(app));
  await expect(page.getByRole("heading", { name: "Allow “Mopidy at home” to use your account?" })).toBeVisible();
  await expect(page.getByText("See everything in your account")).toBeVisible();
  await expect(page.getByText("Change your playlists")).toBeVisible();
  await shot(page, "40-authorize");
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(`${CALLBACK}?**`);
  const landed = new URL(page.url());
  expect(landed.searchParams.get("state")).toBe("s-42");
  const code = landed.searchParams.get("code");
  expect(code).toBeTruthy();

  const api = await anonymousApi(baseURL!);
  try {
    const token = await exchange(api, app, code!);
    expect(token.scope).toBe("read write:playlists");
    const me = await api.get("/api/v1/users/me/", { headers: { Authorization: `Bearer ${token.access_token}` } });
    expect(me.status()).toBe(200);
    expect((await me.json()).username).toBe(listener.username);
  } finally {
    await api.dispose();
  }

  // The app is listed among the ones allowed, and revoked from there.
  await page.goto("/settings/applications");
  const allowed = page.getByRole("list", { name: "Apps you allowed" });
  await expect(allowed.getByText("Mopidy at home")).toBeVisible();
  await allowed.getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByText("You have not allowed any app yet.")).toBeVisible();
});

test("a listener who is logged out logs in first, then denies: the app gets error=access_denied", async ({ browser, baseURL, listener }) => {
  const app = await registerApp(baseURL!);
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await catchCallback(page);
  await page.goto(authorizeUrl(app));
  await page.getByLabel("Username").fill(listener.username);
  await page.getByLabel("Password").fill(listener.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: /Allow “Mopidy at home”/ })).toBeVisible();
  await page.getByRole("button", { name: "Deny" }).click();
  await page.waitForURL(`${CALLBACK}?**`);
  const landed = new URL(page.url());
  expect(landed.searchParams.get("error")).toBe("access_denied");
  expect(landed.searchParams.get("state")).toBe("s-42");
  expect(landed.searchParams.get("code")).toBeNull();
  await context.close();
});

test("a redirect URI the app did not register, or an unknown app, is an error page and no redirect", async ({ page, baseURL }) => {
  const app = await registerApp(baseURL!);
  let leftForEvil = false;
  await page.route("http://evil.invalid/**", (route) => {
    leftForEvil = true;
    return route.abort();
  });
  await page.goto(authorizeUrl(app, "http://evil.invalid/steal"));
  await expect(page.getByRole("heading", { name: "This sign-in link is not valid" })).toBeVisible();
  await expect(page.getByText(/redirect URI is not registered/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Allow" })).toHaveCount(0);
  await shot(page, "41-authorize-invalid");
  await page.goto(authorizeUrl({ client_id: "nope", client_secret: "" }, CALLBACK));
  await expect(page.getByRole("heading", { name: "This sign-in link is not valid" })).toBeVisible();
  await expect(page.getByText(/Invalid application/)).toBeVisible();
  expect(new URL(page.url()).pathname).toBe("/authorize");
  expect(leftForEvil).toBe(false);
});

test("a personal application's token is shown once, works, and stops working once deleted", async ({ page, baseURL, listener }) => {
  await page.goto("/settings");
  await page.getByRole("link", { name: "Manage applications" }).click();
  await expect(page.getByText("You have no application yet.")).toBeVisible();
  await page.getByRole("link", { name: "New application" }).click();
  await page.getByLabel("Name", { exact: true }).fill("My script");
  await page.getByLabel("Change your playlists").check();
  await shot(page, "42-new-application");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByText("it is shown only this once")).toBeVisible();
  const token = await page.getByLabel("Access token").inputValue();
  expect(token.length).toBeGreaterThan(20);

  const api = await anonymousApi(baseURL!);
  const bearer = { headers: { Authorization: `Bearer ${token}` } };
  try {
    const me = await api.get("/api/v1/users/me/", bearer);
    expect(me.status()).toBe(200);
    expect((await me.json()).username).toBe(listener.username);

    await page.getByRole("link", { name: "Done" }).click();
    const mine = page.getByRole("list", { name: "Your applications" });
    await expect(mine.getByText("My script")).toBeVisible();
    await expect(mine.getByText(/See everything in your account · Change your playlists/)).toBeVisible();
    await expect(page.getByLabel("Access token")).toHaveCount(0); // shown once only
    page.once("dialog", (dialog) => dialog.accept());
    await mine.getByRole("button", { name: "Delete" }).click();
    await expect(page.getByText("You have no application yet.")).toBeVisible();
    expect((await api.get("/api/v1/users/me/", bearer)).status()).toBe(401);
  } finally {
    await api.dispose();
  }
});
