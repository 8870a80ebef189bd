// Pure queue operations: the player store keeps its state with these so they can be tested alone.

/** `list` with the item at `from` moved to `to` (both clamped to the list). */
export function move<T>(list: readonly T[], from: number, to: number): T[] {
  const copy = list.slice();
  if (from < 0 || from >= copy.length) return copy;
  const target = Math.max(0, Math.min(to, copy.length - 1));
  const [item] = copy.splice(from, 1);
  copy.splice(target, 0, item);
  return copy;
}

/** Where the current item is after moving `from` to `to`. */
export function indexAfterMove(current: number, from: number, to: number): number {
  if (current === from) return to;
  if (from < current && to >= current) return current - 1;
  if (from > current && to <= current) return current + 1;
  return current;
}

/** The current item stays first, the rest are shuffled (Fisher–Yates with the given random source). */
export function shuffled<T>(list: readonly T[], current: number, random: () => number = Math.random): T[] {
  const rest = list.filter((_, i) => i !== current);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  return current >= 0 && current < list.length ? [list[current], ...rest] : rest;
}

export type Repeat = "off" | "all" | "one";

/** The index to play after `current` ends (or when "next" is pressed); null to stop. */
export function nextIndex(current: number, length: number, repeat: Repeat, manual: boolean): number | null {
  if (length === 0) return null;
  if (repeat === "one" && !manual) return current;
  if (current + 1 < length) return current + 1;
  return repeat === "off" ? null : 0;
}
