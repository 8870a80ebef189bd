import { afterEach, describe, expect, it, vi } from "vitest";
import { loadEmbed, parseEmbed } from "./load";

describe("parseEmbed", () => {
  it("reads the kind and id the oEmbed iframe gives", () => {
    expect(parseEmbed("?type=album&id=12")).toEqual({ kind: "album", id: 12 });
    expect(parseEmbed("?&type=track&id=3")).toEqual({ kind: "track", id: 3 });
  });
  it("refuses what it cannot play", () => {
    for (const search of ["", "?type=channel&id=1", "?type=album", "?type=album&id=-2", "?type=album&id=1.5", "?type=album&id=x"]) {
      expect(parseEmbed(search), search).toBeNull();
    }
  });
});

describe("loadEmbed", () => {
  afterEach(() => vi.unstubAllGlobals());
  const upload = { uuid: "u", listen_url: "/api/v1/listen/t/?upload=u", mimetype: "audio/ogg", duration: 60, bitrate: 1 };
  const track = (id: number, uploads = [upload]) => ({
    id, title: `T${id}`, artist: { id: 9, name: "The Whales" }, album: null, uploads, listen_url: "/api/v1/listen/t/", cover: null,
  });

  it("plays a public playlist's playable tracks, with its first album cover", async () => {
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      asked.push(url);
      const body = url.startsWith("/api/v1/playlists/4/tracks/")
        ? { count: 2, next: null, results: [{ index: 0, track: track(1) }, { index: 1, track: track(2, []) }] }
        : { id: 4, name: "Road trip", user: { username: "alice" }, album_covers: ["https://pod/cover.jpg"] };
      return new Response(JSON.stringify(body), { status: 200 });
    });
    const embedded = await loadEmbed("playlist", 4);
    expect(embedded.title).toBe("Road trip");
    expect(embedded.subtitle).toBe("Playlist by alice");
    expect(embedded.coverUrl).toBe("https://pod/cover.jpg");
    expect(embedded.tracks.map((t) => t.title)).toEqual(["T1"]); // nothing it cannot play
    expect(embedded.link).toBe("/playlists/4");
    expect(asked.some((u) => u.startsWith("/api/v1/playlists/4/"))).toBe(true);
  });

  it("asks an album's playable tracks in disc and position order", async () => {
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      asked.push(url);
      const body = url.startsWith("/api/v1/tracks/")
        ? { count: 1, next: null, results: [track(1)] }
        : { id: 3, title: "Deep Blue", artist: { id: 9, name: "The Whales" }, cover: null };
      return new Response(JSON.stringify(body), { status: 200 });
    });
    const embedded = await loadEmbed("album", 3);
    expect([embedded.title, embedded.subtitle, embedded.link]).toEqual(["Deep Blue", "The Whales", "/library/albums/3"]);
    const list = new URL(asked.find((u) => u.startsWith("/api/v1/tracks/"))!, "http://x");
    expect(Object.fromEntries(list.searchParams)).toMatchObject({ album: "3", playable: "true", ordering: "disc_number,position" });
  });
});
