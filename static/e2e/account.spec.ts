// The account: settings (Subsonic token, profile, avatar), an ended session, a password change, logging out,
// a wrong password and signing up.
import { expect, files, loggedOut, nav, shot, test } from "./fixtures";
import { PASSWORD, uniqueName } from "./accounts";

test("settings: a Subsonic token, the display name and an avatar", async ({ page }) => {
  await page.goto("/");
  await nav(page, "Settings");
  await page.getByRole("button", { name: "Create a Subsonic token" }).click();
  await expect(page.getByLabel("Token")).toBeVisible();
  await page.getByLabel("Display name").fill("Ada the admin");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByText("Profile saved")).toBeVisible();
  await page.locator(".avatar-row input[type=file]").setInputFiles(files.avatar);
  await expect(page.getByText("Avatar updated")).toBeVisible();
  await page.waitForFunction(() => (document.querySelector<HTMLImageElement>(".avatar img")?.naturalWidth ?? 0) > 0);
  await shot(page, "17-settings-desktop");
});

test("an ended session leads to the login screen and back to the page after logging in; password change", async ({
  page,
  context,
  listener,
}) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: new RegExp(`, ${listener.username}$`) })).toBeVisible();
  await context.clearCookies({ name: "sessionid" });
  await nav(page, "Favorites");
  await page.waitForURL((url) => url.pathname === "/login" && url.searchParams.get("next") === "/favorites");
  await page.getByLabel("Username").fill(listener.username);
  await page.getByLabel("Password").fill(listener.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Favorites" })).toBeVisible();
  await nav(page, "Settings");
  await page.getByLabel("Current password").fill(listener.password);
  await page.getByLabel("New password", { exact: true }).fill("humpback-2026");
  await page.getByLabel("New password again").fill("humpback-2026");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed.")).toBeVisible();
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL("**/login");
  await page.getByLabel("Username").fill(listener.username);
  await page.getByLabel("Password").fill("humpback-2026");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: new RegExp(`, ${listener.username}$`) })).toBeVisible();
});

test.describe("logged out", () => {
  test.use(loggedOut);

  test("the login form refuses a wrong password, and a new listener signs up", async ({ page, listener }) => {
    await page.goto("/login");
    await page.getByLabel("Username").fill(listener.username);
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.getByRole("alert")).toBeVisible();
    await shot(page, "22-login-error-desktop");
    await page.getByRole("link", { name: "Create an account" }).click();
    await expect(page.getByRole("heading", { name: "Create an account" })).toBeVisible();
    const username = uniqueName("bob");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Email").fill(`${username}@example.org`);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Password again").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await expect(page.getByRole("heading", { name: new RegExp(`, ${username}$`) })).toBeVisible();
  });
});
