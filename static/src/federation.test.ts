import { describe, expect, it } from "vitest";
import {
  describeNotification,
  followState,
  followedLibraryUuid,
  libraryAddress,
  remoteDomain,
  scanProgress,
  scanRunning,
} from "./federation";
import type { ApiActor, InboxItem } from "./types";

describe("libraryAddress", () => {
  it("sends a library link as it is", () => {
    const link = "https://music.example/federation/music/libraries/6e2f7e43-3bb4-4e38-9d1b-0a4f2d0c6b8a";
    expect(libraryAddress(`  ${link}\n`)).toEqual({ fid: link });
    expect(libraryAddress(`<${link}>`)).toEqual({ fid: link });
    expect(libraryAddress("http://localhost:8000/federation/music/libraries/x").fid).toBe(
      "http://localhost:8000/federation/music/libraries/x",
    );
  });
  it("sends a handle as @user@host, with or without its first @", () => {
    expect(libraryAddress("@alice@Music.Example")).toEqual({ fid: "@alice@music.example" });
    expect(libraryAddress("alice@music.example")).toEqual({ fid: "@alice@music.example" });
    expect(libraryAddress("@bob@localhost:8000")).toEqual({ fid: "@bob@localhost:8000" });
  });
  it("says why anything else cannot be followed", () => {
    expect(libraryAddress("   ").error).toMatch(/Paste a library link/);
    expect(libraryAddress("https://").error).toMatch(/not a valid address/);
    expect(libraryAddress("ftp://music.example/lib").error).toMatch(/https/);
    expect(libraryAddress("javascript:alert(1)").error).toMatch(/https/);
    expect(libraryAddress("my favourite library").error).toMatch(/neither a library link/);
    expect(libraryAddress("@alice").error).toMatch(/neither/);
    expect(libraryAddress("@a@b@c.example").error).toMatch(/neither/);
  });
});

describe("follow and scan states", () => {
  it("words approved as pending, accepted or rejected", () => {
    expect(followState(null)).toBe("pending");
    expect(followState(undefined)).toBe("pending");
    expect(followState(true)).toBe("accepted");
    expect(followState(false)).toBe("rejected");
  });
  it("finds the followed library's uuid nested or flat", () => {
    expect(followedLibraryUuid({ target: "u-1" })).toBe("u-1");
    expect(followedLibraryUuid({ target: { uuid: "u-2" } as never })).toBe("u-2");
  });
  it("says how far a scan went", () => {
    const scan = { total_files: 40, processed_files: 12, errored_files: 0 };
    expect(scanProgress(null)).toBeNull();
    expect(scanProgress({ ...scan, status: "pending" })).toBe("Waiting to scan");
    expect(scanProgress({ ...scan, status: "scanning" })).toBe("Scanning: 12 of 40 files");
    expect(scanProgress({ ...scan, total_files: 0, status: "scanning" })).toBe("Scanning: 12 files");
    expect(scanProgress({ ...scan, processed_files: 40, errored_files: 2, status: "finished" })).toBe("Scanned 40 files (2 failed)");
    expect(scanProgress({ ...scan, processed_files: 1, status: "finished" })).toBe("Scanned 1 file");
    expect(scanProgress({ ...scan, status: "errored" })).toMatch(/failed after 12 files/);
    expect(scanRunning({ ...scan, status: "scanning" })).toBe(true);
    expect(scanRunning({ ...scan, status: "finished" })).toBe(false);
    expect(scanRunning(null)).toBe(false);
  });
});

describe("remoteDomain", () => {
  it("is the host of a remote object's fid", () => {
    expect(remoteDomain({ is_local: false, fid: "https://music.example:8443/federation/music/tracks/1" })).toBe("music.example:8443");
    expect(remoteDomain({ is_local: true, fid: "https://here.example/federation/music/tracks/1" })).toBeNull();
    expect(remoteDomain({ fid: "https://music.example/x" })).toBeNull(); // is_local not given: not claimed remote
    expect(remoteDomain({ is_local: false, fid: null })).toBeNull();
    expect(remoteDomain({ is_local: false, fid: "not a url" })).toBeNull();
    expect(remoteDomain(null)).toBeNull();
  });
});

describe("describeNotification", () => {
  const actor: ApiActor = {
    fid: "https://b.example/federation/actors/bob",
    full_username: "bob@b.example",
    preferred_username: "bob",
    domain: "b.example",
    is_local: false,
  };
  const item = (activity: Partial<InboxItem["activity"]>): InboxItem => ({
    id: 1,
    type: "to",
    is_read: false,
    activity: { type: null, actor, object: null, creation_date: "2026-01-01T00:00:00Z", ...activity },
  });
  const library = { uuid: "l-1", type: "music.Library", name: "Jazz" };

  it("a follow request carries the follow to approve", () => {
    const pending = describeNotification(
      item({ type: "Follow", object: library, related_object: { uuid: "f-1", type: "federation.LibraryFollow", approved: null } }),
    );
    expect(pending).toEqual({ text: "bob@b.example wants to follow your library “Jazz”", follow: { uuid: "f-1", approved: null } });
    const approved = describeNotification(
      item({ type: "Follow", object: library, related_object: { uuid: "f-1", type: "federation.LibraryFollow", approved: true } }),
    );
    expect(approved.text).toBe("bob@b.example follows your library “Jazz”");
  });
  it("an accepted or refused follow names the library", () => {
    const follow = { uuid: "f-2", type: "federation.LibraryFollow", approved: true };
    expect(describeNotification(item({ type: "Accept", object: follow, related_object: library })).text).toBe(
      "bob@b.example accepted your follow of “Jazz”",
    );
    expect(describeNotification(item({ type: "Reject", object: follow, related_object: library })).text).toBe(
      "bob@b.example refused your follow of “Jazz”",
    );
  });
  it("without Funkwhale's references, the payload says what happened and `names` names the library", () => {
    const mine = "https://a.example/federation/music/libraries/l-1";
    const names = { [mine]: "Jazz" };
    const follow = item({ type: "Follow", payload: { type: "Follow", id: "https://b.example/f#1", object: mine } });
    expect(describeNotification(follow, names)).toEqual({
      text: "bob@b.example wants to follow your library “Jazz”",
      followRequest: { library: mine },
    });
    expect(describeNotification(follow).text).toBe("bob@b.example wants to follow one of your libraries");
    const theirs = "https://b.example/federation/music/libraries/l-9";
    const accept = item({ type: "Accept", payload: { type: "Accept", object: { type: "Follow", object: theirs } } });
    expect(describeNotification(accept, { [theirs]: "Rock" }).text).toBe("bob@b.example accepted your follow of “Rock”");
    expect(describeNotification(accept).text).toBe("bob@b.example accepted your follow");
    const undo = item({ type: "Undo", payload: { type: "Undo", object: { type: "Follow", object: mine } } });
    expect(describeNotification(undo, names).text).toBe("bob@b.example stopped following your library “Jazz”");
    const audio = (type: string, object: unknown) => describeNotification(item({ type, payload: { type, object } })).text;
    expect(audio("Create", { type: "Audio", name: "Harbour Lights" })).toBe("bob@b.example added “Harbour Lights”");
    expect(audio("Delete", { type: "Audio", id: ["https://b.example/u/1"] })).toBe("bob@b.example removed a track");
    expect(audio("Update", { type: "Library", name: "Rock" })).toBe("bob@b.example changed the library “Rock”");
  });
  it("anything else still says who did what", () => {
    expect(describeNotification(item({ type: "Update" })).text).toBe("bob@b.example changed something");
    expect(describeNotification(item({ type: "Move" })).text).toBe("bob@b.example: Move");
    expect(describeNotification(item({ type: "Follow" })).follow).toBeUndefined();
  });
});
