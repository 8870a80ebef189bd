import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { nextTick } from "vue";
import type { Track } from "../types";
import { usePlayer } from "./player";

function track(id: number, playable = true): Track {
  return {
    id,
    title: `Track ${id}`,
    artist: { id: 1, name: "Artist" },
    album: null,
    uploads: playable ? [{ uuid: `u${id}`, listen_url: `/api/v1/listen/t${id}/?upload=u${id}`, mimetype: "audio/ogg", duration: 100, bitrate: null }] : [],
    listen_url: `/api/v1/listen/t${id}/`,
    position: id,
    disc_number: null,
    tags: [],
    cover: null,
    is_playable: playable,
  };
}

beforeEach(() => {
  localStorage.clear();
  setActivePinia(createPinia());
  vi.spyOn(window.HTMLMediaElement.prototype, "play").mockImplementation(() => Promise.resolve());
  vi.spyOn(window.HTMLMediaElement.prototype, "pause").mockImplementation(() => undefined);
  vi.spyOn(window.HTMLMediaElement.prototype, "load").mockImplementation(() => undefined);
});

describe("player queue", () => {
  it("plays from the chosen track and skips unplayable ones", () => {
    const player = usePlayer();
    const list = [track(1), track(2, false), track(3)];
    player.playTracks(list, 2);
    expect(player.queue.map((t) => t.id)).toEqual([1, 3]);
    expect(player.current?.id).toBe(3);
    expect(player.element().src).toContain("/api/v1/listen/t3/");
  });

  it("keeps the current track while the queue is reordered or trimmed", () => {
    const player = usePlayer();
    player.playTracks([track(1), track(2), track(3), track(4)], 1);
    player.moveItem(3, 0);
    expect(player.queue.map((t) => t.id)).toEqual([4, 1, 2, 3]);
    expect(player.current?.id).toBe(2);
    player.remove(0);
    expect(player.current?.id).toBe(2);
    expect(player.index).toBe(1);
  });

  it("queues next after the current track", () => {
    const player = usePlayer();
    player.playTracks([track(1), track(2)], 0);
    player.enqueue([track(9)], true);
    expect(player.queue.map((t) => t.id)).toEqual([1, 9, 2]);
  });

  it("shuffles with the current track first and restores the order", () => {
    const player = usePlayer();
    player.playTracks([track(1), track(2), track(3), track(4), track(5)], 2);
    player.toggleShuffle();
    expect(player.current?.id).toBe(3);
    expect(player.index).toBe(0);
    player.toggleShuffle();
    expect(player.queue.map((t) => t.id)).toEqual([1, 2, 3, 4, 5]);
    expect(player.current?.id).toBe(3);
  });

  it("goes to the next track and stops at the end without repeat", async () => {
    const player = usePlayer();
    player.playTracks([track(1), track(2)], 0);
    await player.next();
    expect(player.current?.id).toBe(2);
    await player.next(false);
    expect(player.current?.id).toBe(2);
    player.cycleRepeat();
    await player.next(false);
    expect(player.current?.id).toBe(1);
  });
});

describe("player persistence", () => {
  it("gives the queue back after a reload, paused", async () => {
    const first = usePlayer();
    first.playTracks([track(1), track(2), track(3)], 1);
    first.cycleRepeat();
    await nextTick();
    setActivePinia(createPinia());
    const again = usePlayer();
    expect(again.queue.map((t) => t.id)).toEqual([1, 2, 3]);
    expect(again.current?.id).toBe(2);
    expect(again.repeat).toBe("all");
    expect(again.playing).toBe(false);
  });

  it("forgets it when cleared (logging out)", async () => {
    const first = usePlayer();
    first.playTracks([track(1)], 0);
    await nextTick();
    first.clear();
    await nextTick();
    setActivePinia(createPinia());
    expect(usePlayer().queue).toEqual([]);
  });
});
