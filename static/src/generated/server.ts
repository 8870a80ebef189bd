// Generated from the server's constants by funkwhale/web/spa_constants.py: do not edit.

/** The largest page_size the API answers with (larger asks are cut). */
export const MAX_PAGE_SIZE = 50 as const;

/** Values of an upload's import_details.error_code. */
export const IMPORT_ERROR_CODES = ["invalid_metadata", "unknown_error", "track_uuid_not_found", "unsupported_format", "empty_file", "corrupt_file", "quota_exceeded", "file_not_found", "already_imported_in_owned_libraries", "storage_unavailable"] as const;

export type ImportErrorCode = (typeof IMPORT_ERROR_CODES)[number];

/** The `code` of an upload refused because the quota is full. */
export const QUOTA_REACHED = "upload_quota_reached" as const;

/** OAuth scope modes; each is also the scope of all its areas. */
export const SCOPE_MODES = ["read", "write"] as const;

/** The OAuth scope areas a listener can grant (`<mode>:<area>`). */
export const SCOPE_AREAS = ["profile", "libraries", "favorites", "listenings", "follows", "playlists", "radios", "filters", "notifications", "edits", "security", "reports", "plugins"] as const;
