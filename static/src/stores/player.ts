import { defineStore } from "pinia";
import { computed, ref, watch } from "vue";
import { ApiError, api } from "../api";
import { browserCanPlay, listenThreshold, playbackUrl } from "../audio";
import { coverUrl, coverOf } from "../format";
import { indexAfterMove, move, nextIndex, shuffled, type Repeat } from "../queue";
import type { RadioSession, Track } from "../types";
import { useToasts } from "./toasts";

const VOLUME_KEY = "funkwhale.volume";
const QUEUE_KEY = "funkwhale.queue";

interface SavedQueue {
  queue: Track[];
  index: number;
  shuffle: boolean;
  repeat: Repeat;
}

function savedQueue(): SavedQueue | null {
  try {
    const saved = JSON.parse(localStorage.getItem(QUEUE_KEY) ?? "null") as SavedQueue | null;
    return saved && Array.isArray(saved.queue) ? saved : null;
  } catch {
    return null;
  }
}

/** The queue and the one <audio> element: what plays, what comes next, and the listens it records. */
export const usePlayer = defineStore("player", () => {
  const queue = ref<Track[]>([]);
  const index = ref(-1);
  const playing = ref(false);
  const buffering = ref(false);
  const position = ref(0);
  const length = ref(0);
  const volume = ref(Number(localStorage.getItem(VOLUME_KEY) ?? "0.8"));
  const muted = ref(false);
  const shuffle = ref(false);
  const repeat = ref<Repeat>("off");
  const radio = ref<RadioSession | null>(null);
  const queueOpen = ref(false);
  let unshuffled: Track[] | null = null;
  let audio: HTMLAudioElement | null = null;
  let played = 0;
  let lastTime = 0;
  let listened = false;

  const current = computed(() => queue.value[index.value] ?? null);
  const hasNext = computed(() => index.value + 1 < queue.value.length || repeat.value !== "off" || !!radio.value);

  function element(): HTMLAudioElement {
    if (audio) return audio;
    audio = new Audio();
    audio.preload = "auto";
    audio.volume = volume.value;
    audio.addEventListener("play", () => (playing.value = true));
    audio.addEventListener("pause", () => (playing.value = false));
    audio.addEventListener("waiting", () => (buffering.value = true));
    audio.addEventListener("playing", () => (buffering.value = false));
    // A live transcode has no known length (Infinity): the upload's own duration stands in.
    audio.addEventListener("durationchange", () => {
      const known = audio!.duration;
      length.value = Number.isFinite(known) && known > 0 ? known : (current.value?.uploads[0]?.duration ?? 0);
    });
    audio.addEventListener("timeupdate", onTime);
    audio.addEventListener("ended", () => void next(false));
    audio.addEventListener("error", onError);
    return audio;
  }

  function onTime() {
    const el = element();
    position.value = el.currentTime;
    const step = el.currentTime - lastTime;
    if (step > 0 && step < 2) played += step; // seeking forward does not count as listening
    lastTime = el.currentTime;
    const track = current.value;
    if (track && !listened && played >= listenThreshold(length.value)) {
      listened = true;
      api.post("history/listenings/", { track: track.id }).catch(() => undefined);
    }
  }

  function onError() {
    if (!current.value || !audio?.src) return;
    useToasts().error(`“${current.value.title}” cannot be played.`);
    playing.value = false;
    buffering.value = false;
  }

  function load(autoplay = true) {
    const track = current.value;
    const el = element();
    played = 0;
    lastTime = 0;
    listened = false;
    position.value = 0;
    length.value = track?.uploads[0]?.duration ?? 0;
    if (!track) {
      el.removeAttribute("src");
      el.load();
      return;
    }
    el.src = playbackUrl(track, browserCanPlay(el));
    updateMediaSession(track);
    if (autoplay) {
      buffering.value = true;
      el.play().catch(() => (buffering.value = false));
    }
  }

  function playable(tracks: Track[]): Track[] {
    return tracks.filter((t) => t.is_playable !== false && t.uploads.length > 0);
  }

  function playTracks(tracks: Track[], start = 0) {
    const chosen = tracks[start];
    const list = playable(tracks);
    if (!list.length) {
      useToasts().error("None of these tracks can be played.");
      return;
    }
    radio.value = null;
    const at = Math.max(0, chosen ? list.indexOf(chosen) : 0);
    unshuffled = null;
    queue.value = shuffle.value ? shuffled(list, at) : list;
    if (shuffle.value) unshuffled = list;
    index.value = shuffle.value ? 0 : at;
    load();
  }

  function enqueue(tracks: Track[], afterCurrent = false) {
    const list = playable(tracks);
    if (!list.length) return;
    const at = afterCurrent ? index.value + 1 : queue.value.length;
    queue.value = [...queue.value.slice(0, at), ...list, ...queue.value.slice(at)];
    useToasts().show(list.length === 1 ? `“${list[0].title}” added to the queue` : `${list.length} tracks queued`);
    if (index.value === -1) {
      index.value = 0;
      load();
    }
  }

  function toggle() {
    const el = element();
    if (!current.value) return;
    if (el.paused) el.play().catch(() => undefined);
    else el.pause();
  }

  async function next(manual = true) {
    if (radio.value && index.value + 1 >= queue.value.length) await fetchRadioTrack();
    const target = nextIndex(index.value, queue.value.length, repeat.value, manual);
    if (target === null) {
      playing.value = false;
      return;
    }
    index.value = target;
    load();
  }

  function previous() {
    if (element().currentTime > 3 || index.value <= 0) {
      seek(0);
      return;
    }
    index.value -= 1;
    load();
  }

  function playAt(i: number) {
    if (i < 0 || i >= queue.value.length) return;
    index.value = i;
    load();
  }

  function seek(seconds: number) {
    const el = element();
    if (!current.value) return;
    el.currentTime = Math.max(0, Math.min(seconds, length.value || seconds));
    lastTime = el.currentTime;
    position.value = el.currentTime;
  }

  function setVolume(value: number) {
    volume.value = Math.max(0, Math.min(1, value));
    muted.value = false;
  }

  function moveItem(from: number, to: number) {
    queue.value = move(queue.value, from, to);
    index.value = indexAfterMove(index.value, from, Math.max(0, Math.min(to, queue.value.length - 1)));
  }

  function remove(i: number) {
    const wasCurrent = i === index.value;
    queue.value = queue.value.filter((_, k) => k !== i);
    if (i < index.value) index.value -= 1;
    if (wasCurrent) {
      if (index.value >= queue.value.length) index.value = queue.value.length - 1;
      load(playing.value);
    }
  }

  function clear() {
    queue.value = [];
    index.value = -1;
    radio.value = null;
    load(false);
  }

  function toggleShuffle() {
    shuffle.value = !shuffle.value;
    if (shuffle.value) {
      unshuffled = queue.value;
      queue.value = shuffled(queue.value, index.value);
      index.value = queue.value.length ? 0 : -1;
    } else if (unshuffled) {
      const playingNow = current.value;
      const kept = unshuffled.filter((t) => queue.value.includes(t));
      queue.value = [...kept, ...queue.value.filter((t) => !kept.includes(t))];
      index.value = playingNow ? queue.value.indexOf(playingNow) : -1;
      unshuffled = null;
    }
  }

  function cycleRepeat() {
    repeat.value = repeat.value === "off" ? "all" : repeat.value === "all" ? "one" : "off";
  }

  async function fetchRadioTrack(first = false): Promise<boolean> {
    if (!radio.value) return false;
    try {
      const answer = await api.post<{ track: Track }>("radios/tracks/", { session: radio.value.id });
      queue.value = [...queue.value, answer.track];
      return true;
    } catch (error) {
      const empty = error instanceof ApiError && error.status === 404;
      useToasts().error(
        first && empty ? "This radio has nothing to play yet." : `The radio stopped: ${(error as Error).message}`,
      );
      radio.value = null;
      return false;
    }
  }

  /** A radio session: `type` random | favorites | artist | tag | less-listened, `related` the artist id or tag.
   * True once its first track plays. */
  async function startRadio(type: string, related?: string | number, label?: string): Promise<boolean> {
    const session = await api.post<RadioSession>("radios/sessions/", {
      radio_type: type,
      ...(related === undefined ? {} : { related_object_id: related }),
    });
    queue.value = [];
    index.value = -1;
    radio.value = { ...session, related_object_id: label ?? session.related_object_id };
    if (!(await fetchRadioTrack(true))) return false;
    index.value = 0;
    load();
    await fetchRadioTrack();
    return true;
  }

  function updateMediaSession(track: Track) {
    if (!("mediaSession" in navigator) || typeof MediaMetadata === "undefined") return;
    const art = coverUrl(coverOf(track), "large");
    navigator.mediaSession.metadata = new MediaMetadata({
      title: track.title,
      artist: track.artist?.name ?? "",
      album: track.album?.title ?? "",
      artwork: art ? [{ src: new URL(art, location.origin).href, sizes: "600x600", type: "image/jpeg" }] : [],
    });
  }

  function installMediaSession() {
    if (!("mediaSession" in navigator)) return;
    const handlers: [MediaSessionAction, MediaSessionActionHandler][] = [
      ["play", () => element().play().catch(() => undefined)],
      ["pause", () => element().pause()],
      ["previoustrack", () => previous()],
      ["nexttrack", () => void next()],
      ["seekto", (details) => seek(details.seekTime ?? 0)],
    ];
    for (const [action, handler] of handlers) {
      try {
        navigator.mediaSession.setActionHandler(action, handler);
      } catch {
        // an action this browser does not know
      }
    }
  }

  // The queue survives a reload (not the radio session); logging out clears it.
  const saved = savedQueue();
  if (saved) {
    queue.value = saved.queue;
    index.value = Math.min(saved.index, saved.queue.length - 1);
    shuffle.value = saved.shuffle;
    repeat.value = saved.repeat;
    if (current.value) load(false);
  }
  watch([queue, index, shuffle, repeat], () => {
    const state: SavedQueue = { queue: queue.value.slice(0, 500), index: index.value, shuffle: shuffle.value, repeat: repeat.value };
    localStorage.setItem(QUEUE_KEY, JSON.stringify(state));
  });

  watch(volume, (value) => {
    localStorage.setItem(VOLUME_KEY, String(value));
    if (audio) audio.volume = value;
  });
  watch(muted, (value) => {
    if (audio) audio.muted = value;
  });
  watch(playing, (value) => {
    if ("mediaSession" in navigator) navigator.mediaSession.playbackState = value ? "playing" : "paused";
  });

  return {
    queue, index, playing, buffering, position, length, volume, muted, shuffle, repeat, radio, queueOpen,
    current, hasNext,
    element, playTracks, enqueue, toggle, next, previous, playAt, seek, setVolume, moveItem, remove, clear,
    toggleShuffle, cycleRepeat, startRadio, installMediaSession,
  };
});
