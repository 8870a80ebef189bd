// The one way the web app talks to the server: same-origin fetch with the session cookie, the CSRF header on
// writes, and errors turned into sentences a listener can read.
import { MAX_PAGE_SIZE, QUOTA_REACHED } from "./generated/server";
import type { Page } from "./types";

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public fields: Record<string, string[]> = {},
    public code: string | null = null,
  ) {
    super(message);
  }
}

export const UNAUTHORIZED = "funkwhale:unauthorized";

export function cookie(name: string): string | null {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

const GENERIC: Record<number, string> = {
  401: "You need to log in first.",
  403: "You are not allowed to do that.",
  404: "This was not found. It may have been deleted.",
  413: "This file is larger than the server accepts.",
  429: "Too many attempts. Wait a little and try again.",
};

// Error codes (the body's `code`) whose words the app knows better than the server's detail.
const CODES: Record<string, string> = {
  [QUOTA_REACHED]: "Your upload quota is full: delete some uploads first.",
};

/** A readable message from an error body: a known code's words, field errors ("Username: already taken"), then
 * detail. */
export function messageFrom(
  status: number,
  body: unknown,
): { message: string; fields: Record<string, string[]>; code: string | null } {
  const fields: Record<string, string[]> = {};
  let detail: string | null = null;
  let code: string | null = null;
  if (body && typeof body === "object") {
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (key === "detail" && typeof value === "string") detail = value;
      else if (key === "code" && typeof value === "string") code = value;
      else if (Array.isArray(value) && value.every((v) => typeof v === "string")) fields[key] = value as string[];
    }
  }
  return { ...wordsOf(status, fields, detail, code), fields, code };
}

function wordsOf(status: number, fields: Record<string, string[]>, detail: string | null, code: string | null) {
  if (code && CODES[code]) return { message: CODES[code] };
  const general = fields.non_field_errors?.[0];
  if (general) return { message: general };
  const first = Object.entries(fields)[0];
  if (first) {
    const label = first[0].replace(/[0-9]$/, "").replace(/_/g, " ");
    return { message: `${label[0].toUpperCase()}${label.slice(1)}: ${first[1][0]}` };
  }
  if (detail && status < 500) return { message: detail };
  if (GENERIC[status]) return { message: GENERIC[status] };
  if (status >= 500) return { message: "The server had a problem. Try again in a moment." };
  return { message: detail ?? `The request failed (HTTP ${status}).` };
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  form?: Record<string, string>;
  body?: BodyInit;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
}

export function withQuery(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

export async function request<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? (options.json !== undefined || options.form ? "POST" : "GET");
  const headers: Record<string, string> = { Accept: "application/json" };
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = new URLSearchParams(options.form);
  }
  if (method !== "GET" && method !== "HEAD") {
    const token = cookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
  }
  let response: Response;
  try {
    response = await fetch(withQuery(`/api/v1/${path}`, options.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError("The server cannot be reached. Check your connection.", 0);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    // The session ended (expired, or logged out elsewhere): the app goes back to the login screen.
    if (response.status === 401 && path !== "users/me/") window.dispatchEvent(new Event(UNAUTHORIZED));
    const { message, fields, code } = messageFrom(response.status, data);
    throw new ApiError(message, response.status, fields, code);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: RequestOptions["query"], signal?: AbortSignal) =>
    request<T>(path, { query, signal }),
  post: <T>(path: string, json?: unknown) => request<T>(path, { method: "POST", json: json ?? {} }),
  patch: <T>(path: string, json: unknown) => request<T>(path, { method: "PATCH", json }),
  del: <T>(path: string) => request<T>(path, { method: "DELETE" }),
  page: <T>(path: string, page: number, query: RequestOptions["query"] = {}, signal?: AbortSignal) =>
    request<Page<T>>(path, { query: { ...query, page, page_size: 24 }, signal }),
  all: <T>(path: string, query: RequestOptions["query"] = {}, signal?: AbortSignal) => allPages<T>(path, query, signal),
};

/** Every result of a list, asked page after page of the server's largest size (it caps `page_size`). `limit`
 * stops early once that many results came. */
export async function allPages<T>(
  path: string,
  query: RequestOptions["query"] = {},
  signal?: AbortSignal,
  limit = Infinity,
): Promise<T[]> {
  const results: T[] = [];
  for (let page = 1; ; page++) {
    const answer = await request<Page<T>>(path, { query: { ...query, page, page_size: MAX_PAGE_SIZE }, signal });
    results.push(...answer.results);
    if (!answer.next || !answer.results.length || results.length >= limit) return results.slice(0, limit);
  }
}

/** The server writes picture URLs with its public host name; the page loads them from wherever it came from. */
export function sameOrigin(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, window.location.origin);
    return parsed.pathname.startsWith("/api/") ? parsed.pathname + parsed.search : parsed.href;
  } catch {
    return null;
  }
}
