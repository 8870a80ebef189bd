"""Media under MEDIA_ROOT (the default): names are relative paths, files written atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from funkwhale import storage
from funkwhale.config import Settings
from funkwhale.storage.base import Entry, MediaMissing, StorageError


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file in the same folder and a rename: readers and
    concurrent writers never see a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), storage.file_mode())
            fh.write(data)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


class LocalStore:
    remote = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def path(self, name: str) -> Path:
        return storage.absolute(self.settings, name)

    def save(self, name: str, path: Path, move: bool = True) -> None:
        target = self.path(name)
        storage.ensure_parent(target)
        if move:
            os.replace(path, target)
        else:
            shutil.copyfile(path, target)

    def write_once(self, name: str, data: bytes, content_type: str) -> None:
        target = self.path(name)
        if not target.exists():
            write_atomically(target, data)

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, names: list[str]) -> int:
        for name in names:
            self.path(name).unlink(missing_ok=True)
        return len(names)

    def listing(self, prefix: str) -> list[Entry]:
        root = storage.media_root(self.settings)
        folder = prefix.rpartition("/")[0]
        entries = []
        for directory, _, names in os.walk(root / folder):
            for file_name in names:
                path = Path(directory) / file_name
                relative = path.relative_to(root).as_posix()
                if not relative.startswith(prefix):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                entries.append(Entry(relative, stat.st_mtime, stat.st_size))
        return entries

    def read_bytes(self, name: str) -> bytes:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            raise MediaMissing(name) from None

    def file(self, name: str) -> Path:
        return self.path(name)

    def url(self, name: str, method: str = "GET", content_type: str | None = None,
            disposition: str | None = None) -> str:  # fmt: skip
        raise StorageError("media under MEDIA_ROOT have no URL of their own")

    def check(self) -> None:
        return None

    def describe(self) -> str:
        return f"MEDIA_ROOT {storage.media_root(self.settings)}"
