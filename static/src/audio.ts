// Which URL the player loads for a track: an upload the browser can play as it is, otherwise a transcode to mp3.
import type { Track } from "./types";

export type CanPlay = (mimetype: string) => boolean;

export function browserCanPlay(element: HTMLMediaElement): CanPlay {
  return (mimetype) => element.canPlayType(mimetype) !== "";
}

export function playbackUrl(track: Pick<Track, "uploads" | "listen_url">, canPlay: CanPlay): string {
  const native = track.uploads.find((upload) => upload.mimetype && canPlay(upload.mimetype));
  if (native) return native.listen_url;
  const first = track.uploads[0];
  const base = track.listen_url.includes("?") ? `${track.listen_url}&` : `${track.listen_url}?`;
  return first ? `${base}upload=${first.uuid}&to=mp3` : `${base}to=mp3`;
}

/** A listen counts once the track played (not skipped over) for half its length or four minutes. */
export function listenThreshold(durationSeconds: number): number {
  if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) return 30;
  return Math.min(durationSeconds / 2, 240);
}
