import { defineStore } from "pinia";
import { ref } from "vue";

export interface Toast {
  id: number;
  text: string;
  kind: "info" | "error";
}

/** Short messages at the bottom of the screen ("Added to Road trip"), read out by screen readers. */
export const useToasts = defineStore("toasts", () => {
  const items = ref<Toast[]>([]);
  let next = 1;
  function show(text: string, kind: Toast["kind"] = "info") {
    const id = next++;
    items.value.push({ id, text, kind });
    window.setTimeout(() => dismiss(id), kind === "error" ? 7000 : 3500);
  }
  function dismiss(id: number) {
    items.value = items.value.filter((t) => t.id !== id);
  }
  /** Forget every message (at logout: the next person at the screen should not read them). */
  function clear() {
    items.value = [];
  }
  return { items, show, error: (text: string) => show(text, "error"), dismiss, clear };
});
