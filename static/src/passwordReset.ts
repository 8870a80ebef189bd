// The words of the password-reset pages: which server error the listener sees after following a mailed link.
import { ApiError } from "./api";

export const BAD_LINK = "This reset link is invalid, expired or already used. Ask for a new one.";

/** The sentence for a failed `auth/password/reset/confirm/`: a bad uid or token is the link's fault (the server
 * only says "Invalid value"); a refused password keeps the server's words. */
export function confirmError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.fields.uid || error.fields.token) return BAD_LINK;
    const password = error.fields.new_password2 ?? error.fields.new_password1;
    if (password?.length) return password.join(" ");
  }
  return (error as Error).message;
}

/** uid and token of the mailed link's query, or null when one is missing. */
export function linkParams(query: Record<string, unknown>): { uid: string; token: string } | null {
  const { uid, token } = query;
  return typeof uid === "string" && uid && typeof token === "string" && token ? { uid, token } : null;
}
