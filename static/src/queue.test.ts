import { describe, expect, it } from "vitest";
import { indexAfterMove, move, nextIndex, shuffled } from "./queue";

describe("move", () => {
  it("moves an item down and up", () => {
    expect(move(["a", "b", "c", "d"], 0, 2)).toEqual(["b", "c", "a", "d"]);
    expect(move(["a", "b", "c", "d"], 3, 1)).toEqual(["a", "d", "b", "c"]);
  });
  it("clamps the target and ignores a bad source", () => {
    expect(move(["a", "b"], 0, 9)).toEqual(["b", "a"]);
    expect(move(["a", "b"], 5, 0)).toEqual(["a", "b"]);
  });
});

describe("indexAfterMove", () => {
  it("follows the current item when it moves or others cross it", () => {
    expect(indexAfterMove(1, 1, 3)).toBe(3);
    expect(indexAfterMove(2, 0, 3)).toBe(1);
    expect(indexAfterMove(2, 4, 0)).toBe(3);
    expect(indexAfterMove(2, 3, 4)).toBe(2);
  });
  it("agrees with move on every pair", () => {
    const list = ["a", "b", "c", "d", "e"];
    for (let current = 0; current < list.length; current++) {
      for (let from = 0; from < list.length; from++) {
        for (let to = 0; to < list.length; to++) {
          const moved = move(list, from, to);
          expect(moved[indexAfterMove(current, from, to)]).toBe(list[current]);
        }
      }
    }
  });
});

describe("shuffled", () => {
  it("keeps the current item first and every item once", () => {
    const list = [1, 2, 3, 4, 5, 6];
    const result = shuffled(list, 3, () => 0.42);
    expect(result[0]).toBe(4);
    expect([...result].sort()).toEqual(list);
  });
});

describe("nextIndex", () => {
  it("stops at the end unless repeating", () => {
    expect(nextIndex(0, 2, "off", false)).toBe(1);
    expect(nextIndex(1, 2, "off", false)).toBeNull();
    expect(nextIndex(1, 2, "all", false)).toBe(0);
    expect(nextIndex(0, 0, "all", false)).toBeNull();
  });
  it("repeats one track when it ends, but next moves on", () => {
    expect(nextIndex(1, 3, "one", false)).toBe(1);
    expect(nextIndex(1, 3, "one", true)).toBe(2);
  });
});
