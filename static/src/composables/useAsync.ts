import { ref, shallowRef, watch, type WatchSource } from "vue";

/** Run `load` now and whenever `sources` change: `data`, `loading`, `error` (a sentence) and `reload()`. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, sources: WatchSource[] = []) {
  const data = shallowRef<T | null>(null);
  const loading = ref(true);
  const error = ref<string | null>(null);
  let controller: AbortController | null = null;

  async function reload() {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    loading.value = true;
    error.value = null;
    try {
      const result = await load(mine.signal);
      if (controller === mine) data.value = result;
    } catch (e) {
      if (controller === mine && (e as Error).name !== "AbortError") error.value = (e as Error).message;
    } finally {
      if (controller === mine) loading.value = false;
    }
  }

  if (sources.length) watch(sources, () => void reload());
  void reload();
  return { data, loading, error, reload };
}
