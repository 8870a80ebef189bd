// Pure helpers for the federation screens: what a pasted library address sends, the words for a follow's and a
// scan's state, a notification in a sentence, and where a remote track, album or artist comes from.
import type { FederatedLibrary, InboxItem, LibraryFollow, LibraryScan } from "./types";

export type LibraryAddress = { fid: string; error?: undefined } | { fid?: undefined; error: string };

const HANDLE = /^@?([a-z0-9_.+-]+)@([a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?)$/i;

/** What to send to `federation/libraries/fetch/` for a pasted library link or account handle, or why not. */
export function libraryAddress(text: string): LibraryAddress {
  const value = text.trim().replace(/^<(.*)>$/, "$1");
  if (!value) return { error: "Paste a library link or an account such as @alice@music.example." };
  if (/^https?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return { error: "This link is not a valid address." };
    }
    if (!url.hostname) return { error: "This link has no server name." };
    return { fid: url.href };
  }
  const handle = HANDLE.exec(value);
  if (handle) return { fid: `@${handle[1]}@${handle[2].toLowerCase()}` };
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && !/^[^:/]+:\d/.test(value)) {
    return { error: "Only https:// links can be followed." };
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

/** A follow's library: the API nests it, older answers give its uuid only. */
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
  const files = (n: number) => `${n} file${n === 1 ? "" : "s"}`;
  switch (scan.status) {
    case "pending":
      return "Waiting to scan";
    case "scanning":
      return scan.total_files
        ? `Scanning: ${scan.processed_files} of ${files(scan.total_files)}${errored}`
        : `Scanning: ${files(scan.processed_files)}${errored}`;
    case "finished":
      return `Scanned ${files(scan.processed_files)}${errored}`;
    case "errored":
      return `The last scan failed after ${files(scan.processed_files)}`;
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
  /** The follow a Follow notification asks about, to approve or reject it from the notification. */
  follow?: { uuid: string; approved: boolean | null };
}

function name(ref: { name?: string } | null | undefined): string {
  return ref?.name ? `“${ref.name}”` : "";
}

/** A notification in one sentence, as Funkwhale words them. */
export function describeNotification(item: InboxItem): NotificationText {
  const { activity } = item;
  const who = activity.actor?.full_username ?? activity.actor?.fid ?? "Someone";
  const object = activity.object ?? null;
  const related = activity.related_object ?? null;
  const library = [object, related, activity.target].find((ref) => ref?.type === "music.Library" || ref?.name);
  const title = name(library) || "a library";
  switch (activity.type) {
    case "Follow": {
      const follow = related?.type === "federation.LibraryFollow" && related.uuid ? related : null;
      const approved = follow?.approved ?? null;
      const verb = approved === true ? "follows" : approved === false ? "asked to follow" : "wants to follow";
      return {
        text: `${who} ${verb} your library ${title}`,
        follow: follow ? { uuid: follow.uuid as string, approved } : undefined,
      };
    }
    case "Accept":
      return { text: `${who} accepted your follow of ${title}` };
    case "Reject":
      return { text: `${who} refused your follow of ${title}` };
    case "Undo":
      return { text: `${who} stopped following ${title}` };
    case "Delete":
      return { text: `${who} deleted ${name(library) || "something you follow"}` };
    default:
      return { text: `${who}: ${activity.type ?? "activity"}${library ? ` on ${title}` : ""}` };
  }
}
