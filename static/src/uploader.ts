// Sending audio files to POST /api/v1/uploads/ with progress, then following each import to its end.
import { ApiError, api, cookie, messageFrom } from "./api";
import { importError } from "./format";
import type { Upload } from "./types";

export type FileState = "queued" | "uploading" | "importing" | "finished" | "skipped" | "errored";

export interface FileItem {
  key: number;
  file: File;
  state: FileState;
  sent: number;
  message: string | null;
  upload: Upload | null;
}

export function sendFile(
  file: File,
  library: string,
  reference: string,
  onProgress: (sent: number) => void,
): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("library", library);
    form.append("import_reference", reference);
    form.append("source", `upload://${file.name}`);
    form.append("audio_file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/uploads/");
    xhr.setRequestHeader("Accept", "application/json");
    const token = cookie("csrftoken");
    if (token) xhr.setRequestHeader("X-CSRFToken", token);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onerror = () => reject(new ApiError("The upload was interrupted. Check your connection.", 0));
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as Upload);
      else reject(new ApiError(messageFrom(xhr.status, body).message, xhr.status));
    };
    xhr.send(form);
  });
}

const DONE = new Set(["finished", "skipped", "errored"]);

/** Poll the upload until the worker has imported it (or given up); resolves with its final state. */
export async function followImport(uuid: string, every = 1000, attempts = 600): Promise<Upload> {
  for (let i = 0; i < attempts; i++) {
    const upload = await api.get<Upload>(`uploads/${uuid}/`);
    if (DONE.has(upload.import_status)) return upload;
    await new Promise((r) => setTimeout(r, every));
  }
  throw new ApiError("The import is taking very long; check this upload again later.", 0);
}

/** Upload then import one file, updating `item` as it goes. */
export async function processFile(item: FileItem, library: string, reference: string): Promise<void> {
  item.state = "uploading";
  item.message = null;
  try {
    item.upload = await sendFile(item.file, library, reference, (sent) => (item.sent = sent));
    item.sent = item.file.size;
    item.state = "importing";
    const done = await followImport(item.upload.uuid);
    item.upload = done;
    item.state = done.import_status === "finished" ? "finished" : done.import_status === "skipped" ? "skipped" : "errored";
    if (item.state !== "finished") item.message = importError(done.import_status, done.import_details);
  } catch (error) {
    item.state = "errored";
    item.message = (error as Error).message;
  }
}

export const AUDIO_EXTENSIONS = /\.(mp3|ogg|oga|opus|flac|m4a|aac|mp4|wav|aif|aiff|aifc)$/i;
