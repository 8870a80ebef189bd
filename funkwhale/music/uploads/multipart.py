"""A streaming multipart/form-data reader for upload bodies (blocking: run it in a thread).

The body is read in chunks and fed to `multipart.PushMultipartParser`; the file part is written to a
temporary file beside the media tree while its SHA-256 is computed, the text fields are kept (small, capped).
Nothing is ever held whole in memory, and a refused body leaves no file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from funkwhale import storage

CHUNK = 256 * 1024
MAX_FIELDS_BYTES = 1024 * 1024  # all text fields together


class FormError(ValueError):
    """The body is not a form we can read; the message is for the client."""


@dataclass(frozen=True)
class ReceivedFile:
    path: Path  # a temporary file under the incoming directory: move it or delete it
    filename: str  # the client's file name, without any directory part
    content_type: str
    size: int
    sha256: str


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None


def boundary_of(content_type: bytes | str | None) -> str:
    """The boundary of a multipart/form-data Content-Type; FormError when it is not one."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    kind, options = parse_options_header(content_type or "")
    if kind != "multipart/form-data":
        raise FormError("Expected a multipart/form-data body.")
    boundary = options.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise FormError("The multipart body has no valid boundary.")
    return boundary


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


class _Reader:
    """The state of one parse: text fields so far, and the file part being written."""

    def __init__(self, file_field: str, target_dir: Path) -> None:
        self.file_field = file_field
        self.target_dir = target_dir
        self.form = Form()
        self.segment: MultipartSegment | None = None
        self.kind = "skip"  # what the current segment is: "file", "text" or "skip"
        self.text = bytearray()
        self.text_total = 0
        self.out: Any = None
        self.hasher = hashlib.sha256()

    def event(self, event: MultipartSegment | bytes | None) -> None:
        if isinstance(event, MultipartSegment):
            self._start(event)
        elif event is None:
            self._end()
        elif self.kind == "file":
            self.out.write(event)
            self.hasher.update(event)
        elif self.kind == "text":
            self.text_total += len(event)
            if self.text_total > MAX_FIELDS_BYTES:
                raise FormError("The form fields are too large.")
            self.text += event

    def _start(self, segment: MultipartSegment) -> None:
        self.segment = segment
        if segment.filename is None:
            self.kind = "text"
            self.text = bytearray()
        elif segment.name == self.file_field and self.out is None and self.form.file is None:
            self.kind = "file"
            self.out = tempfile.NamedTemporaryFile(dir=self.target_dir, prefix="upload-", suffix=".part", delete=False)
        else:
            self.kind = "skip"  # another file part: read past it

    def _end(self) -> None:
        segment = self.segment
        assert segment is not None
        if self.kind == "text":
            try:
                self.form.fields[segment.name or ""] = bytes(self.text).decode(segment.charset or "utf-8")
            except (UnicodeDecodeError, LookupError):
                raise FormError(f"The field {segment.name!r} is not valid UTF-8.") from None
        elif self.kind == "file":
            self.out.close()
            self.form.file = ReceivedFile(
                path=Path(self.out.name),
                filename=_basename(segment.filename or ""),
                content_type=segment.content_type or "application/octet-stream",
                size=segment.size,
                sha256=self.hasher.hexdigest(),
            )
        self.kind = "skip"

    def discard(self) -> None:
        if self.out is not None:
            self.out.close()
            Path(self.out.name).unlink(missing_ok=True)


def read_form(body: IO[bytes], boundary: str, file_field: str, target_dir: Path) -> Form:
    """Parse a multipart body from its start; the part named `file_field` (the first one) goes to a temporary
    file under `target_dir`, other file parts are skipped. FormError on a malformed or incomplete body."""
    reader = _Reader(file_field, target_dir)
    parser = PushMultipartParser(boundary, max_segment_count=100)
    body.seek(0)
    try:
        while True:
            chunk = body.read(CHUNK)
            for event in parser.parse(chunk):
                reader.event(event)
            if not chunk:  # the empty chunk closed the parser: an error if the body was incomplete
                break
    except MultipartError as e:
        reader.discard()
        raise FormError(f"The multipart body is malformed: {e}") from None
    except BaseException:
        reader.discard()
        raise
    return reader.form


def read_fields(body: IO[bytes], boundary: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of a multipart form, in order: a text part's text, a file part's file name (its
    content is read past, never kept). For the bodies of routes that take no file (blocking: run it in a thread).
    FormError on a malformed or incomplete body, text that is not UTF-8, or text parts above MAX_FIELDS_BYTES."""
    pairs: list[tuple[str, str]] = []
    parser = PushMultipartParser(boundary, max_segment_count=1000)
    segment: MultipartSegment | None = None
    text = bytearray()
    total = 0
    body.seek(0)
    try:
        while True:
            chunk = body.read(CHUNK)
            for event in parser.parse(chunk):
                if isinstance(event, MultipartSegment):
                    segment, text = event, bytearray()
                elif event is None:
                    assert segment is not None
                    pairs.append((segment.name or "", _field_text(segment, text)))
                elif segment is not None and segment.filename is None:
                    total += len(event)
                    if total > MAX_FIELDS_BYTES:
                        raise FormError("The form fields are too large.")
                    text += event
            if not chunk:
                break
    except MultipartError as e:
        raise FormError(f"The multipart body is malformed: {e}") from None
    return pairs


def _field_text(segment: MultipartSegment, text: bytearray) -> str:
    """A finished part's value: its text, or the file name of a file part."""
    if segment.filename is not None:
        return _basename(segment.filename)
    try:
        return bytes(text).decode(segment.charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise FormError(f"The field {segment.name!r} is not valid UTF-8.") from None


def discard(received: ReceivedFile | None) -> None:
    """Delete a received file that will not be kept (blocking)."""
    if received is not None:
        received.path.unlink(missing_ok=True)


def move_into(received: ReceivedFile, target: Path) -> None:
    """Move a received file to its final place (same filesystem: a rename), readable like other media."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(received.path, storage.file_mode())
    os.replace(received.path, target)
