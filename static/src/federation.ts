// Pure helpers for the federation screens: what a pasted library address sends, the words for a follow's and a
// scan's state, a notification in a sentence, and where a remote track, album or artist comes from.
import { plural } from "./format";
import type { FederatedLibrary, InboxItem, LibraryFollow, LibraryScan } from "./types";

export type LibraryAddress = { fid: string; error?: undefined } | { fid?: undefined; error: string };

const HANDLE = /^@?([a-z0-9_.+-]+)@([a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?)$/i;

/** What to send to `federation/libraries/fetch/` for a pasted library link or account handle, or why not. */
export function libraryAddress(text: string): LibraryAddress {
  const value = text.trim().replace(/^<(.*)>$/, "$1");
  if (!value) return { error: "Paste a library link or an account such as @alice@music.example." };
  if (/^https?:\/\//i.test(value)) {
    try {
      return { fid: new URL(value).href };
    } catch {
      return { error: "This link is not a valid address." };
    }
  }
  const handle = HANDLE.exec(value);
  if (handle) return { fid: `@${handle[1]}@${handle[2].toLowerCase()}` };
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && !/^[^:/]+:\d/.test(value)) {
    return { error: "Only web links (https://…) can be followed." };
  }
  return {
    error: "This is neither a library link (https://…/federation/music/libraries/…) nor an account (@alice@music.example).",
  };
}

export type FollowState = "pending" | "accepted" | "rejected";

export function followState(approved: boolean | null | undefined): FollowState {
  return approved === true ? "accepted" : approved === false ? "rejected" : "pending";
}

export const FOLLOW_LABELS: Record<FollowState, string> = {
  pending: "Waiting for approval",
  accepted: "Following",
  rejected: "Refused",
};

/** A follow's library: Funkwhale nests it in answers (a bare uuid is taken too). */
export function followedLibrary(follow: Pick<LibraryFollow, "target">): FederatedLibrary | null {
  return typeof follow.target === "object" && follow.target ? follow.target : null;
}

export function followedLibraryUuid(follow: Pick<LibraryFollow, "target">): string {
  return typeof follow.target === "string" ? follow.target : follow.target.uuid;
}

/** A scan in words: "Scanning: 12 of 40 files", "Scanned 40 files (2 failed)", "Waiting to scan". */
export function scanProgress(scan: LibraryScan | null | undefined): string | null {
  if (!scan) return null;
  const errored = scan.errored_files ? ` (${scan.errored_files} failed)` : "";
  switch (scan.status) {
    case "pending":
      return "Waiting to scan";
    case "scanning":
      return scan.total_files
        ? `Scanning: ${scan.processed_files} of ${plural(scan.total_files, "file")}${errored}`
        : `Scanning: ${plural(scan.processed_files, "file")}${errored}`;
    case "finished":
      return `Scanned ${plural(scan.processed_files, "file")}${errored}`;
    case "errored":
      return `The last scan failed after ${plural(scan.processed_files, "file")}`;
    default:
      return `Scan ${scan.status}`;
  }
}

/** A scan still under way: the screen asks again a moment later. */
export function scanRunning(scan: LibraryScan | null | undefined): boolean {
  return !!scan && (scan.status === "pending" || scan.status === "scanning");
}

/** The server a remote object comes from (the host of its fid), or null for a local one. */
export function remoteDomain(item: { is_local?: boolean; fid?: string | null } | null | undefined): string | null {
  if (!item || item.is_local !== false || !item.fid) return null;
  try {
    return new URL(item.fid).host || null;
  } catch {
    return null;
  }
}

export interface NotificationText {
  text: string;
  /** The follow a Follow notification asks about, when the answer names it: approve or reject it from here. */
  follow?: { uuid: string; approved: boolean | null };
  /** A follow request of one of my libraries (its fid, when the activity gives it), answered from the library's
   * followers. */
  followRequest?: { library: string | null };
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | null {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : null;
}

function quoted(name: unknown): string {
  return typeof name === "string" && name ? `“${name}”` : "";
}

/**
 * A notification in one sentence. Funkwhale names the library and the follow in `object` / `related_object`
 * (`{type: "music.Library", name}`, `{type: "federation.LibraryFollow", uuid, approved}`); otherwise the
 * activity's `payload` says what happened, and `names` (library fid → name, e.g. my libraries) names it.
 */
export function describeNotification(item: InboxItem, names: Record<string, string> = {}): NotificationText {
  const { activity } = item;
  const who = activity.actor?.full_username ?? activity.actor?.fid ?? "Someone";
  const payload = asObject(activity.payload) ?? {};
  const inner = asObject(payload.object);
  const refs = [activity.object, activity.related_object, activity.target];
  const libraryRef = refs.find((ref) => ref?.type === "music.Library" && ref.name);
  const libraryFid = typeof payload.object === "string" ? payload.object : typeof inner?.object === "string" ? inner.object : "";
  const library = quoted(libraryRef?.name) || quoted(names[libraryFid]);
  switch (activity.type) {
    case "Follow": {
      const ref = refs.find((r) => r?.type === "federation.LibraryFollow" && r.uuid);
      const approved = ref?.approved ?? null;
      const verb = approved === true ? "follows" : approved === false ? "asked to follow" : "wants to follow";
      const text = `${who} ${verb} ${library ? `your library ${library}` : "one of your libraries"}`;
      return ref ? { text, follow: { uuid: ref.uuid as string, approved } } : { text, followRequest: { library: libraryFid || null } };
    }
    case "Accept":
      return { text: `${who} accepted your follow${library ? ` of ${library}` : ""}` };
    case "Reject":
      return { text: `${who} refused your follow${library ? ` of ${library}` : ""}` };
    case "Undo":
      return { text: `${who} stopped following ${library ? `your library ${library}` : "one of your libraries"}` };
    case "Create":
    case "Update":
    case "Delete": {
      const verbs = { Create: "added", Update: "changed", Delete: "removed" };
      const what = inner?.type === "Audio" ? quoted(inner.name) || "a track" : inner?.type === "Library" ? `the library ${quoted(inner.name)}`.trim() : "something";
      return { text: `${who} ${verbs[activity.type]} ${what}` };
    }
    default:
      return { text: `${who}: ${activity.type ?? "activity"}${library ? ` on ${library}` : ""}` };
  }
}
