import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { BAD_LINK, confirmError, linkParams } from "./passwordReset";

describe("confirmError", () => {
  it("blames the link for a bad uid or token", () => {
    expect(confirmError(new ApiError("Token: Invalid value", 400, { token: ["Invalid value"] }))).toBe(BAD_LINK);
    expect(confirmError(new ApiError("Uid: Invalid value", 400, { uid: ["Invalid value"] }))).toBe(BAD_LINK);
  });
  it("keeps the server's words for a refused password", () => {
    const error = new ApiError("x", 400, { new_password2: ["This password is too short.", "It is too common."] });
    expect(confirmError(error)).toBe("This password is too short. It is too common.");
  });
  it("falls back to the error's message", () => {
    expect(confirmError(new ApiError("Too many attempts.", 429))).toBe("Too many attempts.");
  });
});

describe("linkParams", () => {
  it("reads uid and token", () => {
    expect(linkParams({ uid: "b", token: "abc-123" })).toEqual({ uid: "b", token: "abc-123" });
  });
  it("is null when one is missing or repeated", () => {
    expect(linkParams({ uid: "b" })).toBeNull();
    expect(linkParams({ uid: "b", token: ["x", "y"] })).toBeNull();
  });
});
