import { afterEach, describe, expect, it, vi } from "vitest";
import { allPages, messageFrom, sameOrigin, withQuery } from "./api";
import { MAX_PAGE_SIZE, QUOTA_REACHED } from "./generated/server";
import { ago, bytes, duration, importError } from "./format";

describe("messageFrom", () => {
  it("names the first field in error", () => {
    const { message, fields } = messageFrom(400, {
      username: ["A user with that username already exists."],
      detail: "username: A user with that username already exists.",
      code: "invalid",
    });
    expect(message).toBe("Username: A user with that username already exists.");
    expect(fields.username).toHaveLength(1);
    expect(messageFrom(400, { password1: ["This password is too short."] }).message).toBe("Password: This password is too short.");
  });
  it("prefers non-field errors, then detail, then the status", () => {
    expect(messageFrom(400, { non_field_errors: ["Bad credentials."] }).message).toBe("Bad credentials.");
    expect(messageFrom(403, { detail: "Registration has been disabled" }).message).toBe("Registration has been disabled");
    expect(messageFrom(404, null).message).toMatch(/not found/);
    expect(messageFrom(502, { detail: "Traceback…" }).message).toMatch(/server had a problem/);
  });
});

describe("messageFrom codes", () => {
  it("words the server's quota code rather than echoing it", () => {
    const refused = messageFrom(400, { non_field_errors: [QUOTA_REACHED], detail: QUOTA_REACHED, code: QUOTA_REACHED });
    expect(refused.message).toMatch(/quota is full/);
    expect(refused.code).toBe("upload_quota_reached");
    expect(messageFrom(413, { detail: "This upload would exceed your quota.", code: QUOTA_REACHED }).message).toMatch(/quota is full/);
  });
});

describe("allPages", () => {
  afterEach(() => vi.unstubAllGlobals());
  it("asks pages of the server's largest size until there is no next one", async () => {
    const asked: string[] = [];
    const all = Array.from({ length: 60 }, (_, i) => ({ id: i }));
    vi.stubGlobal("fetch", async (url: string) => {
      asked.push(url);
      const query = new URL(url, "http://x").searchParams;
      const page = Number(query.get("page"));
      const size = Math.min(Number(query.get("page_size")), 50);
      const results = all.slice((page - 1) * size, page * size);
      const next = page * size < all.length ? `http://x/api/v1/tracks/?page=${page + 1}` : null;
      return new Response(JSON.stringify({ count: all.length, next, previous: null, results }));
    });
    const got = await allPages<{ id: number }>("tracks/", { album: 7 });
    expect(got.map((t) => t.id)).toEqual(all.map((t) => t.id));
    expect(asked).toEqual([
      `/api/v1/tracks/?album=7&page=1&page_size=${MAX_PAGE_SIZE}`,
      `/api/v1/tracks/?album=7&page=2&page_size=${MAX_PAGE_SIZE}`,
    ]);
    expect(await allPages("tracks/", {}, undefined, 10)).toHaveLength(10);
    expect(asked).toHaveLength(3);
  });
});

describe("withQuery", () => {
  it("skips empty values and keeps an existing query", () => {
    expect(withQuery("/api/v1/albums/", { q: "", page: 2, tag: null, ordering: "title" })).toBe("/api/v1/albums/?page=2&ordering=title");
    expect(withQuery("/x?a=1", { b: "c d" })).toBe("/x?a=1&b=c+d");
  });
});

describe("sameOrigin", () => {
  it("loads API pictures from the page's own origin", () => {
    expect(sameOrigin("http://localhost:5000/api/v1/attachments/u/proxy?next=medium_square_crop")).toBe(
      "/api/v1/attachments/u/proxy?next=medium_square_crop",
    );
    expect(sameOrigin("https://cdn.example/pic.jpg")).toBe("https://cdn.example/pic.jpg");
    expect(sameOrigin(null)).toBeNull();
  });
});

describe("format", () => {
  it("writes durations and sizes", () => {
    expect(duration(65)).toBe("1:05");
    expect(duration(3725)).toBe("1:02:05");
    expect(duration(null)).toBe("–:––");
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(250 * 1024 * 1024)).toBe("250 MB");
  });
  it("explains import errors in words", () => {
    expect(importError("errored", { error_code: "invalid_metadata", detail: "title: missing" })).toMatch(/tags are missing/);
    expect(importError("skipped", {})).toMatch(/already have this file/);
    expect(importError("errored", { detail: "odd" })).toBe("odd");
  });
});

describe("ago", () => {
  it("says how long ago, in words", () => {
    const now = new Date("2026-01-10T12:00:00Z");
    expect(ago("2026-01-10T11:59:30Z", now)).toBe("just now");
    expect(ago("2026-01-10T11:55:00Z", now)).toBe("5 minutes ago");
    expect(ago("2026-01-10T11:00:00Z", now)).toBe("1 hour ago");
    expect(ago("2026-01-08T12:00:00Z", now)).toBe("2 days ago");
  });
});
