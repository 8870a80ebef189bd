// What the embeddable player (`/front/embed.html?type=&id=`, the iframe of /api/v1/oembed/) plays: the object
// named by its query, asked anonymously, as Funkwhale 1.4's embed does.
import { allPages, api } from "../api";
import { coverOf } from "../format";
import type { Album, Artist, Attachment, Playlist, PlaylistEntry, Track } from "../types";

export const KINDS = ["track", "album", "artist", "playlist"] as const;
export type EmbedKind = (typeof KINDS)[number];

export interface Embedded {
  title: string;
  subtitle: string;
  cover: Attachment | null;
  coverUrl: string | null;
  /** The object's page in the web app (opened in a new tab). */
  link: string;
  tracks: Track[];
}

/** The kind and id of `?type=album&id=3`, or null for anything else. */
export function parseEmbed(search: string): { kind: EmbedKind; id: number } | null {
  const params = new URLSearchParams(search);
  const kind = params.get("type") as EmbedKind | null;
  const id = Number(params.get("id"));
  if (!kind || !KINDS.includes(kind) || !Number.isInteger(id) || id <= 0) return null;
  return { kind, id };
}

const ARTIST_TRACKS = 500; // an artist's first tracks, by release

const playable = (tracks: Track[]) => tracks.filter((t) => t.uploads.length > 0);

export async function loadEmbed(kind: EmbedKind, id: number): Promise<Embedded> {
  if (kind === "track") {
    const track = await api.get<Track>(`tracks/${id}/`);
    const link = track.album ? `/library/albums/${track.album.id}` : `/library/artists/${track.artist.id}`;
    return { title: track.title, subtitle: track.artist.name, cover: coverOf(track), coverUrl: null, link, tracks: playable([track]) };
  }
  if (kind === "album") {
    const [album, tracks] = await Promise.all([
      api.get<Album>(`albums/${id}/`),
      allPages<Track>("tracks/", { album: id, playable: "true", ordering: "disc_number,position" }),
    ]);
    return { title: album.title, subtitle: album.artist.name, cover: album.cover ?? null, coverUrl: null, link: `/library/albums/${id}`, tracks: playable(tracks) };
  }
  if (kind === "artist") {
    const [artist, tracks] = await Promise.all([
      api.get<Artist>(`artists/${id}/`),
      allPages<Track>("tracks/", { artist: id, playable: "true", ordering: "album__release_date,disc_number,position" }, undefined, ARTIST_TRACKS),
    ]);
    const cover = artist.cover ?? artist.albums.find((a) => a.cover)?.cover ?? null;
    return { title: artist.name, subtitle: `${tracks.length} tracks`, cover, coverUrl: null, link: `/library/artists/${id}`, tracks: playable(tracks) };
  }
  const [playlist, entries] = await Promise.all([
    api.get<Playlist>(`playlists/${id}/`),
    allPages<PlaylistEntry>(`playlists/${id}/tracks/`),
  ]);
  return {
    title: playlist.name,
    subtitle: `Playlist by ${playlist.user.username}`,
    cover: null,
    coverUrl: playlist.album_covers[0] ?? null,
    link: `/playlists/${id}`,
    tracks: playable(entries.map((e) => e.track)),
  };
}
