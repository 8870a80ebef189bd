import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useToasts } from "./toasts";

beforeEach(() => {
  vi.useFakeTimers();
  setActivePinia(createPinia());
});
afterEach(() => vi.useRealTimers());

describe("toasts", () => {
  it("dismisses messages on their own, errors later than notices", () => {
    const toasts = useToasts();
    toasts.show("Added to Road trip");
    toasts.error("The upload failed");
    vi.advanceTimersByTime(4000);
    expect(toasts.items.map((t) => t.text)).toEqual(["The upload failed"]);
    vi.advanceTimersByTime(4000);
    expect(toasts.items).toEqual([]);
  });

  it("forgets everything at logout", () => {
    const toasts = useToasts();
    toasts.show("one");
    toasts.error("two");
    toasts.clear();
    expect(toasts.items).toEqual([]);
  });
});
