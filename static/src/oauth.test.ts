import { describe, expect, it } from "vitest";
import { authorizationParams, followable, scopeSentences, scopeString } from "./oauth";

describe("scopeSentences", () => {
  it("words the whole modes and the areas", () => {
    expect(scopeSentences("read")).toEqual(["See everything in your account"]);
    expect(scopeSentences("read write:playlists write:favorites")).toEqual([
      "See everything in your account",
      "Change your favorites and your playlists",
    ]);
    expect(scopeSentences(["read:profile", "read:listenings", "read:radios"])).toEqual([
      "See your profile, your listening history and your radios",
    ]);
  });
  it("names scopes it does not know as they are", () => {
    expect(scopeSentences("read:profile read:instance:settings")).toEqual([
      "See your profile",
      "Other access: read:instance:settings",
    ]);
  });
});

describe("authorizationParams", () => {
  it("keeps the request's parameters, first value of each", () => {
    const query = { client_id: "abc", redirect_uri: ["https://app/cb", "https://evil/cb"], scope: "read", state: "", x: "y" };
    expect(authorizationParams(query)).toEqual({ client_id: "abc", redirect_uri: "https://app/cb", scope: "read" });
  });
});

describe("followable", () => {
  it("follows web addresses and shows the code for the others", () => {
    expect(followable("https://app.example/cb?code=1")).toBe(true);
    expect(followable("http://localhost:8080/cb")).toBe(true);
    expect(followable("urn:ietf:wg:oauth:2.0:oob?code=1")).toBe(false);
    expect(followable("javascript:alert(1)")).toBe(false);
  });
});

describe("scopeString", () => {
  it("writes a whole mode when every area is chosen", () => {
    expect(scopeString(["read:playlists", "write:playlists"])).toBe("read:playlists write:playlists");
    const everyRead = ["profile", "libraries", "favorites", "listenings", "follows", "playlists", "radios", "filters",
      "notifications", "edits", "security", "reports", "plugins"].map((a) => `read:${a}`);
    expect(scopeString([...everyRead, "write:favorites"])).toBe("read write:favorites");
  });
});
