import { ref, watch, type Ref } from "vue";

/** `source`'s value, `delay` ms after it last changed (search as you type without a request per key). */
export function useDebounced<T>(source: Ref<T>, delay = 250): Ref<T> {
  const value = ref(source.value) as Ref<T>;
  let timer: number | undefined;
  watch(source, (next) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => (value.value = next), delay);
  });
  return value;
}
