// Third-party app sign-in (the OAuth consent screen at /authorize) and personal applications: the request an
// app sends, the scopes it asks for in words, and where the browser goes after the answer.
import { SCOPE_AREAS, SCOPE_MODES } from "./generated/server";

export type ScopeArea = (typeof SCOPE_AREAS)[number];
export type ScopeMode = (typeof SCOPE_MODES)[number];

/** An application as `/api/v1/oauth/apps/` and `/grants/` list it (its owner also sees redirect_uris). */
export interface OAuthApp {
  client_id: string;
  name: string;
  scopes: string;
  created: string;
  updated: string;
  redirect_uris?: string;
}

/** What `POST /api/v1/oauth/apps/` answers once: the secret, and a personal token for one's own app. */
export interface CreatedApp extends OAuthApp {
  client_secret: string;
  token?: string;
}

/** A checked authorization request (`GET /api/v1/oauth/authorize/`). */
export interface AuthorizationRequest {
  application: OAuthApp;
  redirect_uri: string;
  scopes: string[];
  state: string;
}

const AREA_WORDS: Record<ScopeArea, string> = {
  profile: "your profile",
  libraries: "your libraries and uploads",
  favorites: "your favorites",
  listenings: "your listening history",
  follows: "your follows",
  playlists: "your playlists",
  radios: "your radios",
  filters: "your content filters",
  notifications: "your notifications",
  edits: "your edits",
  security: "your applications and security settings",
  reports: "your reports",
  plugins: "your plugins",
};

const MODE_WORDS: Record<ScopeMode, string> = { read: "See", write: "Change" };

export function areaWords(area: ScopeArea): string {
  return AREA_WORDS[area];
}

/** Sentences for a scope list ("read write:playlists"): one per mode, naming its areas ("See everything",
 * "Change your playlists and your favorites"); unknown scopes are named as they are. */
export function scopeSentences(scopes: string[] | string): string[] {
  const list = typeof scopes === "string" ? scopes.split(/[\s,]+/).filter(Boolean) : scopes;
  const sentences: string[] = [];
  const unknown: string[] = [];
  for (const mode of SCOPE_MODES) {
    if (list.includes(mode)) {
      sentences.push(`${MODE_WORDS[mode]} everything in your account`);
      continue;
    }
    const areas = SCOPE_AREAS.filter((area) => list.includes(`${mode}:${area}`));
    if (areas.length) sentences.push(`${MODE_WORDS[mode]} ${joinWords(areas.map(areaWords))}`);
  }
  for (const scope of list) {
    const [mode, area] = scope.split(":", 2);
    const known = (SCOPE_MODES as readonly string[]).includes(mode) && (!area || (SCOPE_AREAS as readonly string[]).includes(area));
    if (!known) unknown.push(scope);
  }
  if (unknown.length) sentences.push(`Other access: ${unknown.join(", ")}`);
  return sentences;
}

function joinWords(words: string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

/** The authorization request parameters of the /authorize address (first value of each), as the API takes
 * them. */
export const REQUEST_PARAMS = [
  "response_type",
  "client_id",
  "redirect_uri",
  "scope",
  "state",
  "code_challenge",
  "code_challenge_method",
] as const;

export function authorizationParams(query: Record<string, unknown>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const name of REQUEST_PARAMS) {
    const value = Array.isArray(query[name]) ? (query[name] as unknown[])[0] : query[name];
    if (typeof value === "string" && value) params[name] = value;
  }
  return params;
}

/** Whether the browser can follow a redirect URI: a web address. Others (the out-of-band URN, an app's own
 * "urn:…") get the code shown to copy. */
export function followable(redirectUri: string): boolean {
  return /^https?:\/\//i.test(redirectUri);
}

/** The scope string of a form's choices: a whole mode when every area of it is chosen. */
export function scopeString(chosen: Iterable<string>): string {
  const set = new Set(chosen);
  const parts: string[] = [];
  for (const mode of SCOPE_MODES) {
    const areas = SCOPE_AREAS.filter((area) => set.has(`${mode}:${area}`));
    if (set.has(mode) || areas.length === SCOPE_AREAS.length) parts.push(mode);
    else parts.push(...areas.map((area) => `${mode}:${area}`));
  }
  return parts.join(" ");
}
