import { reactive, watch, type WatchSource } from "vue";
import { api, type RequestOptions } from "../api";

/** A list read page by page: `more()` appends the next page; a change of `sources` starts over. */
export function usePaged<T>(path: string | (() => string), query: () => RequestOptions["query"] = () => ({}), sources: WatchSource[] = []) {
  const state = reactive({
    items: [] as T[],
    count: null as number | null,
    loading: false,
    error: null as string | null,
    done: false,
    more,
    reset,
  });
  let page = 0;
  let generation = 0;

  async function more() {
    if (state.loading || state.done) return;
    const mine = generation;
    state.loading = true;
    state.error = null;
    try {
      const answer = await api.page<T>(typeof path === "string" ? path : path(), page + 1, query());
      if (mine !== generation) return;
      page += 1;
      state.items = [...state.items, ...answer.results] as typeof state.items;
      state.count = answer.count;
      state.done = !answer.next || answer.results.length === 0;
    } catch (e) {
      if (mine === generation) state.error = (e as Error).message;
    } finally {
      if (mine === generation) state.loading = false;
    }
  }

  function reset() {
    generation += 1;
    page = 0;
    state.items = [];
    state.count = null;
    state.done = false;
    state.loading = false;
    void more();
  }

  if (sources.length) watch(sources, reset);
  void more();
  return state;
}
