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

export interface ArtistRef {
  id: number;
  name: string;
  cover?: Attachment | null;
}

export interface AlbumRef {
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

export interface Track {
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
