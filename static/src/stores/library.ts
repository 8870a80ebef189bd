import { defineStore } from "pinia";
import { ref } from "vue";
import { api } from "../api";
import type { Playlist, Track } from "../types";
import { useToasts } from "./toasts";

/** The listener's favorites (as a set of track ids) and playlists, shared by every track menu. */
export const useLibrary = defineStore("library", () => {
  const favorites = ref(new Set<number>());
  const playlists = ref<Playlist[]>([]);
  const picking = ref<Track[] | null>(null);

  async function load() {
    const [all, mine] = await Promise.allSettled([
      api.get<{ results: { track: number }[] }>("favorites/tracks/all/"),
      api.all<Playlist>("playlists/", { scope: "me", ordering: "-modification_date" }),
    ]);
    if (all.status === "fulfilled") favorites.value = new Set(all.value.results.map((f) => f.track));
    if (mine.status === "fulfilled") playlists.value = mine.value;
  }

  function reset() {
    favorites.value = new Set();
    playlists.value = [];
  }

  async function toggleFavorite(track: Track) {
    const toasts = useToasts();
    const was = favorites.value.has(track.id);
    const nextSet = new Set(favorites.value);
    if (was) nextSet.delete(track.id);
    else nextSet.add(track.id);
    favorites.value = nextSet;
    try {
      if (was) await api.post("favorites/tracks/remove/", { track: track.id });
      else await api.post("favorites/tracks/", { track: track.id });
      toasts.show(was ? `Removed “${track.title}” from favorites` : `Added “${track.title}” to favorites`);
    } catch (error) {
      const undo = new Set(favorites.value);
      if (was) undo.add(track.id);
      else undo.delete(track.id);
      favorites.value = undo;
      toasts.error((error as Error).message);
    }
  }

  async function createPlaylist(name: string, privacy: Playlist["privacy_level"] = "me"): Promise<Playlist> {
    const created = await api.post<Playlist>("playlists/", { name, privacy_level: privacy });
    playlists.value = [created, ...playlists.value];
    return created;
  }

  async function addToPlaylist(playlist: Playlist, tracks: Track[]) {
    await api.post(`playlists/${playlist.id}/add/`, { tracks: tracks.map((t) => t.id), allow_duplicates: true });
    playlists.value = playlists.value.map((p) =>
      p.id === playlist.id ? { ...p, tracks_count: p.tracks_count + tracks.length } : p,
    );
    useToasts().show(
      tracks.length === 1 ? `Added “${tracks[0].title}” to ${playlist.name}` : `Added ${tracks.length} tracks to ${playlist.name}`,
    );
  }

  return { favorites, playlists, picking, load, reset, toggleFavorite, createPlaylist, addToPlaylist };
});
