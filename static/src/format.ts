// Small pure helpers for what the screens show.
import type { Attachment, ImportDetails, Track } from "./types";
import { sameOrigin } from "./api";
import type { ImportErrorCode } from "./generated/server";

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "–:––";
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

// Every code the server may write (generated/server.ts): a new one fails the type check until it has words.
const IMPORT_ERRORS: Record<ImportErrorCode, string> = {
  invalid_metadata: "The file's tags are missing or wrong (a title, an artist and an album are needed).",
  unsupported_format: "This is not an audio format the server knows (mp3, ogg, opus, flac, m4a, wav, aiff).",
  empty_file: "The file is empty.",
  corrupt_file: "The file is damaged and cannot be read.",
  quota_exceeded: "Your upload quota is full: delete some uploads first.",
  file_not_found: "The file disappeared from the server before it could be imported.",
  already_imported_in_owned_libraries: "You already have this file in one of your libraries, so it was skipped.",
  track_uuid_not_found: "The track this file was meant for does not exist any more.",
  storage_unavailable: "The server could not reach its media storage: try uploading this file again later.",
  unknown_error: "Something unexpected went wrong while importing this file.",
};

/** Why an upload was not imported, in words. */
export function importError(status: string, details: ImportDetails | null | undefined): string {
  const code = details?.error_code;
  if (code && code in IMPORT_ERRORS) return IMPORT_ERRORS[code as ImportErrorCode];
  if (status === "skipped") return IMPORT_ERRORS.already_imported_in_owned_libraries;
  return details?.detail || IMPORT_ERRORS.unknown_error;
}

export function coverOf(track: Pick<Track, "cover" | "album"> | null | undefined): Attachment | null {
  return track?.cover ?? track?.album?.cover ?? null;
}

// The crops Funkwhale 1.4 names in an attachment's urls; small thumbnails use the medium (200 px) crop.
const CROPS = { small: "medium_square_crop", medium: "medium_square_crop", large: "large_square_crop" } as const;

export function coverUrl(cover: Attachment | null | undefined, size: keyof typeof CROPS = "medium") {
  if (!cover) return null;
  return sameOrigin(cover.urls[CROPS[size]] ?? cover.urls.original);
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

export function year(date: string | null | undefined): string {
  return date ? date.slice(0, 4) : "";
}

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago", then the date. */
export function ago(iso: string, now: Date = new Date()): string {
  const seconds = Math.max(0, (now.getTime() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${plural(Math.floor(seconds / 60), "minute")} ago`;
  if (seconds < 86400) return `${plural(Math.floor(seconds / 3600), "hour")} ago`;
  if (seconds < 7 * 86400) return `${plural(Math.floor(seconds / 86400), "day")} ago`;
  return new Date(iso).toLocaleDateString();
}
