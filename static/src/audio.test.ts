import { describe, expect, it } from "vitest";
import { listenThreshold, playbackUrl } from "./audio";

const track = {
  listen_url: "/api/v1/listen/abc/",
  uploads: [
    { uuid: "u1", listen_url: "/api/v1/listen/abc/?upload=u1", mimetype: "audio/flac", duration: 200, bitrate: 900000 },
    { uuid: "u2", listen_url: "/api/v1/listen/abc/?upload=u2", mimetype: "audio/ogg", duration: 200, bitrate: 160000 },
  ],
};

describe("playbackUrl", () => {
  it("takes the first upload the browser plays as it is", () => {
    expect(playbackUrl(track, (m) => m === "audio/ogg")).toBe("/api/v1/listen/abc/?upload=u2");
    expect(playbackUrl(track, () => true)).toBe("/api/v1/listen/abc/?upload=u1");
  });
  it("asks for an mp3 transcode when the browser plays none of them", () => {
    expect(playbackUrl(track, () => false)).toBe("/api/v1/listen/abc/?upload=u1&to=mp3");
  });
  it("still asks for something when the track lists no upload", () => {
    expect(playbackUrl({ listen_url: "/api/v1/listen/abc/", uploads: [] }, () => true)).toBe("/api/v1/listen/abc/?to=mp3");
  });
});

describe("listenThreshold", () => {
  it("is half the track, at most four minutes", () => {
    expect(listenThreshold(8)).toBe(4);
    expect(listenThreshold(3600)).toBe(240);
    expect(listenThreshold(Number.NaN)).toBe(30);
  });
});
