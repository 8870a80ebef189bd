// The Funkwhale 1.4 shapes the web app reads (only the fields it uses).

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface Attachment {
  uuid: string;
  urls: { original: string; medium_square_crop: string; large_square_crop: string };
}

/** Where a catalog object comes from: `is_local` false for one from another server, whose host is in `fid`. */
export interface Origin {
  fid?: string | null;
  is_local?: boolean;
}

export interface ArtistRef extends Origin {
  id: number;
  name: string;
  cover?: Attachment | null;
}

export interface AlbumRef extends Origin {
  id: number;
  title: string;
  cover?: Attachment | null;
  artist?: ArtistRef | number;
}

export interface Album extends AlbumRef {
  artist: ArtistRef;
  release_date: string | null;
  tracks_count: number;
  tags?: string[];
  duration?: number;
  creation_date: string;
}

export interface Artist extends ArtistRef {
  albums: (AlbumRef & { tracks_count: number; release_date: string | null })[];
  tracks_count: number;
  tags: string[];
}

export interface TrackUpload {
  uuid: string;
  listen_url: string;
  mimetype: string;
  duration: number | null;
  bitrate: number | null;
  extension?: string;
}

export interface Track extends Origin {
  id: number;
  uuid?: string;
  title: string;
  artist: ArtistRef;
  album: AlbumRef | null;
  uploads: TrackUpload[];
  listen_url: string;
  position: number | null;
  disc_number: number | null;
  tags: string[];
  cover: Attachment | null;
  is_playable: boolean;
}

export interface Library {
  uuid: string;
  fid?: string;
  name: string;
  description: string;
  privacy_level: "me" | "instance" | "everyone";
  uploads_count: number;
  size: number;
}

export interface ImportDetails {
  error_code?: string;
  detail?: string;
}

export interface Upload {
  uuid: string;
  filename: string;
  import_status: "draft" | "pending" | "finished" | "errored" | "skipped";
  import_details: ImportDetails;
  track: { id: number; title: string; artist: ArtistRef; album: AlbumRef | null } | null;
  size: number;
  creation_date: string;
}

export interface UserRef {
  id: number;
  username: string;
  name: string;
  avatar: Attachment | null;
}

export interface Me extends UserRef {
  email: string;
  is_superuser: boolean;
  privacy_level: string;
  full_username: string;
  quota_status?: { max: number; remaining: number; current: number };
}

export interface Playlist {
  id: number;
  name: string;
  user: UserRef;
  privacy_level: "me" | "instance" | "everyone";
  tracks_count: number;
  duration: number;
  album_covers: string[];
  modification_date: string;
}

export interface PlaylistEntry {
  index: number;
  track: Track;
}

export interface Activity {
  id: number;
  track: Track;
  creation_date: string;
}

export interface Tag {
  name: string;
}

export interface SearchResults {
  artists: Artist[];
  albums: Album[];
  tracks: Track[];
  tags: Tag[];
}

export interface RadioSession {
  id: number;
  radio_type: string;
  related_object_id: string | null;
}

// Federation (`/api/v1/federation/…`).

export interface ApiActor {
  fid: string;
  full_username: string;
  preferred_username: string;
  name?: string | null;
  domain: string;
  is_local: boolean;
}

export interface LibraryScan {
  status: string;
  total_files: number;
  processed_files: number;
  errored_files: number;
  creation_date?: string;
  modification_date?: string | null;
}

export interface NestedFollow {
  uuid: string;
  fid?: string | null;
  approved: boolean | null;
  creation_date?: string;
}

/** A library as `federation/libraries/…` shows it: someone's, maybe on another server. */
export interface FederatedLibrary {
  uuid: string;
  fid: string;
  name: string;
  description: string | null;
  privacy_level: Library["privacy_level"];
  actor: ApiActor;
  uploads_count: number;
  follow: NestedFollow | null;
  latest_scan?: LibraryScan | null;
  creation_date?: string;
}

export interface LibraryFollow {
  uuid: string;
  fid?: string | null;
  approved: boolean | null;
  /** The followed library (its uuid only in some answers). */
  target: FederatedLibrary | string;
  creation_date: string;
  actor: ApiActor;
}

/** An object an activity is about: `{uuid, type: "music.Library", name}` or `{uuid, type: "federation.LibraryFollow", approved}`. */
export interface ActivityRef {
  uuid?: string;
  type?: string;
  name?: string;
  approved?: boolean | null;
}

export interface InboxItem {
  id: number;
  type: "to" | "cc";
  is_read: boolean;
  activity: {
    uuid?: string;
    fid?: string | null;
    type: string | null;
    actor: ApiActor;
    /** The activity as received (what Funkwhale's `object` / `related_object` don't name). */
    payload?: Record<string, unknown> | null;
    object: ActivityRef | null;
    target?: ActivityRef | null;
    related_object?: ActivityRef | null;
    creation_date: string;
  };
}
