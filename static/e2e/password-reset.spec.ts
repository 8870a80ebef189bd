// A forgotten password: the reset link is mailed (the daemon's console backend logs it to e2e/output/daemon.log),
// followed, a new password set, and the listener logs in with it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, loggedOut, test } from "./fixtures";
import { outputDir } from "./paths";

/** The reset link of the last message logged for `email`, its quoted-printable undone. */
function mailedLink(email: string): string | null {
  const log = readFileSync(join(outputDir, "daemon.log"), "utf8");
  const start = log.lastIndexOf(`To: ${email}`);
  if (start < 0) return null;
  const message = log
    .slice(start, log.indexOf("-".repeat(79), start))
    .replace(/\n\t/g, "\n")
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return message.match(/https?:\/\/\S+\/auth\/password\/reset\/confirm\?\S+/)?.[0] ?? null;
}

test.describe("logged out", () => {
  test.use(loggedOut);

  test("a forgotten password: the mailed link sets a new one, which logs in", async ({ page, listener }) => {
    const email = `${listener.username}@example.org`;
    await page.goto("/login");
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByRole("button", { name: "Send the link" }).click();
    await expect(page.getByText("a link to choose a new password was sent")).toBeVisible();
    let link: string | null = null;
    await expect.poll(() => (link = mailedLink(email)), { message: "the mailed reset link" }).not.toBeNull();
    const url = new URL(link!);
    await page.goto(`${url.pathname}${url.search}`);
    await page.getByLabel("New password", { exact: true }).fill("narwhal-tusk-77");
    await page.getByLabel("New password again").fill("narwhal-tusk-77");
    await page.getByRole("button", { name: "Set the password" }).click();
    await expect(page.getByText("Your password was changed")).toBeVisible();
    // the link is used up
    await expect(page.getByRole("button", { name: "Set the password" })).toHaveCount(0);
    await page.getByRole("link", { name: "Log in", exact: true }).click();
    await page.getByLabel("Username").fill(listener.username);
    await page.getByLabel("Password").fill("narwhal-tusk-77");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.getByRole("heading", { name: new RegExp(`, ${listener.username}$`) })).toBeVisible();
  });

  test("a bad reset link says so in words", async ({ page }) => {
    await page.goto("/auth/password/reset/confirm?uid=zz&token=bad-token");
    await page.getByLabel("New password", { exact: true }).fill("narwhal-tusk-77");
    await page.getByLabel("New password again").fill("narwhal-tusk-77");
    await page.getByRole("button", { name: "Set the password" }).click();
    await expect(page.getByRole("alert")).toHaveText(/invalid, expired or already used/);
  });
});
