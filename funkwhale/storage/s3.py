"""Media in an S3-compatible bucket (AWS_* settings), through boto3. Every call blocks: callers run them in
threads, never on the reactor. Errors become StorageError naming the bucket and the cause; timeouts are short
(5 s to connect, 30 s to read, one retry), so a bucket that is down is an error, never a hang.

Large files go up by multipart upload, PART_SIZE at a time from the file (never whole in memory); reads for the
tag reader go through RangedReader, a seekable file over ranged GETs with a small block cache, so mutagen fetches
the head and tail it reads, not the whole file."""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from funkwhale.config import Settings
from funkwhale.storage.base import Entry, MediaMissing, StorageError

PART_SIZE = 8 * 1024 * 1024
BLOCK_SIZE = 64 * 1024  # the tag reader's unit of ranged GETs
CACHED_BLOCKS = 16
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', '?')}: {details.get('Message') or 'no message'}"
    return f"{type(error).__name__}: {error}"


class S3Store:
    remote = True

    def __init__(self, settings: Settings) -> None:
        assert settings.aws_storage_bucket_name
        self.settings = settings
        self.bucket = settings.aws_storage_bucket_name
        self.prefix = f"{settings.aws_location}/" if settings.aws_location else ""
        self.expire = settings.aws_querystring_expire
        self._client: Any = None
        self._creating = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 client, made once (its calls are thread-safe, its creation is not, and it reads botocore's
        data files: `service.MediaCheck` makes it at start, before the reactor runs)."""
        if self._client is None:
            with self._creating:
                if self._client is None:
                    self._client = boto3.session.Session().client(
                        "s3",
                        endpoint_url=self.settings.aws_s3_endpoint_url,
                        region_name=self.settings.aws_s3_region_name or "us-east-1",
                        aws_access_key_id=self.settings.aws_access_key_id,
                        aws_secret_access_key=self.settings.aws_secret_access_key,
                        config=Config(
                            connect_timeout=5,
                            read_timeout=30,
                            retries={"max_attempts": 2, "mode": "standard"},
                            signature_version="s3v4",
                            s3={"addressing_style": "path" if self.settings.aws_s3_endpoint_url else "auto"},
                            max_pool_connections=32,
                        ),
                    )
        return self._client

    def key(self, name: str) -> str:
        return self.prefix + name

    def describe(self) -> str:
        where = self.settings.aws_s3_endpoint_url or "AWS"
        return f"bucket {self.bucket!r} at {where}" + (f" under {self.prefix}" if self.prefix else "")

    def _error(self, action: str, error: Exception, name: str | None = None) -> StorageError:
        if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _MISSING and name:
            return MediaMissing(name)
        return StorageError(f"media {self.describe()}: cannot {action}: {_reason(error)}")

    # writing

    def save(self, name: str, path: Path, move: bool = True) -> None:
        size = os.path.getsize(path)
        try:
            if size <= PART_SIZE:
                with open(path, "rb") as fh:
                    self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=fh)
            else:
                self._multipart(name, path)
        except (BotoCoreError, ClientError) as e:
            raise self._error(f"store {name}", e) from None
        if move:
            os.unlink(path)

    def _multipart(self, name: str, path: Path) -> None:
        """PART_SIZE parts read one at a time; the upload is aborted (nothing left in the bucket) on failure."""
        key = self.key(name)
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            with open(path, "rb") as fh:
                while chunk := fh.read(PART_SIZE):
                    number = len(parts) + 1
                    answer = self.client.upload_part(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                    )
                    parts.append({"ETag": answer["ETag"], "PartNumber": number})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except (BotoCoreError, ClientError):
                pass
            raise

    def write_once(self, name: str, data: bytes, content_type: str) -> None:
        if self.exists(name):
            return
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as e:
            raise self._error(f"store {name}", e) from None

    def delete(self, names: list[str]) -> int:
        try:
            for start in range(0, len(names), 1000):
                objects = [{"Key": self.key(name)} for name in names[start : start + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        except (BotoCoreError, ClientError) as e:
            raise self._error("delete objects", e) from None
        return len(names)

    # reading

    def size(self, name: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self.key(name))["ContentLength"])
        except (BotoCoreError, ClientError) as e:
            error = self._error(f"read {name}", e, name)
        if isinstance(error, MediaMissing):
            self.check()  # a HEAD says 404 for a missing bucket too: that one is a StorageError
        raise error

    def exists(self, name: str) -> bool:
        try:
            self.size(name)
        except MediaMissing:
            return False
        return True

    def listing(self, prefix: str) -> list[Entry]:
        entries = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.key(prefix))
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    entries.append(Entry(name, item["LastModified"].timestamp(), int(item["Size"])))
        except (BotoCoreError, ClientError) as e:
            raise self._error(f"list {prefix}", e) from None
        return entries

    def read_range(self, name: str, start: int, end: int) -> bytes:
        """Bytes `start` to `end` (inclusive) of an object."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(name), Range=f"bytes={start}-{end}")
            return answer["Body"].read()
        except (BotoCoreError, ClientError) as e:
            raise self._error(f"read {name}", e, name) from None

    def read_bytes(self, name: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"].read()
        except (BotoCoreError, ClientError) as e:
            raise self._error(f"read {name}", e, name) from None

    def file(self, name: str) -> BucketFile:
        return BucketFile(self, name)

    def url(self, name: str, method: str = "GET", content_type: str | None = None,
            disposition: str | None = None) -> str:  # fmt: skip
        """A presigned URL (signed locally, no request); a plain one with AWS_QUERYSTRING_AUTH=false. The answer
        carries `content_type` and `disposition` (S3's response-content-* parameters)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key(name)}
        if content_type:
            params["ResponseContentType"] = content_type
        if disposition:
            params["ResponseContentDisposition"] = disposition
        operation = "head_object" if method == "HEAD" else "get_object"
        if not self.settings.aws_querystring_auth:
            return f"{self.client.meta.endpoint_url.rstrip('/')}/{self.bucket}/{quote(params['Key'])}"
        return self.client.generate_presigned_url(operation, Params=params, ExpiresIn=self.expire)

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as e:
            raise self._error("reach the bucket", e) from None


class BucketFile:
    """An object as the tag reader sees a file: a name and read-only, seekable, ranged opens."""

    def __init__(self, store: S3Store, name: str) -> None:
        self.store = store
        self.name = PurePosixPath(name).name
        self.stem = PurePosixPath(name).stem
        self.object_name = name

    def __str__(self) -> str:
        return self.object_name

    def __reduce__(self) -> tuple[Any, tuple[Settings, str]]:
        """Pickled as its settings and name (a process pool's child makes its own client)."""
        return _bucket_file, (self.store.settings, self.object_name)

    def stat(self) -> SimpleNamespace:
        """Its size as `st_size` (FileNotFoundError when the object is not there, as for a file)."""
        try:
            return SimpleNamespace(st_size=self.store.size(self.object_name))
        except MediaMissing:
            raise FileNotFoundError(self.object_name) from None

    def open(self, mode: str = "rb") -> RangedReader:
        if mode != "rb":
            raise ValueError("bucket objects are read-only")
        return RangedReader(self.store, self.object_name)


def _bucket_file(settings: Settings, name: str) -> BucketFile:
    from funkwhale.storage import media

    store = media(settings)
    assert isinstance(store, S3Store)
    return store.file(name)


class RangedReader(io.RawIOBase):
    """A seekable read-only file over an object: reads are served from BLOCK_SIZE blocks fetched by ranged GETs,
    the last CACHED_BLOCKS used kept. `fetched` counts the bytes that came from the bucket."""

    def __init__(self, store: S3Store, name: str) -> None:
        super().__init__()
        self.store = store
        self.object_name = name
        self.size = store.size(name)
        self.position = 0
        self.fetched = 0
        self._blocks_cache: OrderedDict[int, bytes] = OrderedDict()

    @property
    def name(self) -> str:
        return self.object_name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self.position = base + offset
        return self.position

    def _blocks(self, first: int, last: int) -> dict[int, bytes]:
        """Blocks `first` to `last`, those not cached fetched by one ranged GET (a large read, such as an embedded
        picture, costs one request)."""
        found = {index: self._blocks_cache[index] for index in range(first, last + 1) if index in self._blocks_cache}
        missing = [index for index in range(first, last + 1) if index not in found]
        if missing:
            start = missing[0] * BLOCK_SIZE
            data = self.store.read_range(self.object_name, start, min((missing[-1] + 1) * BLOCK_SIZE, self.size) - 1)
            self.fetched += len(data)
            for index in range(missing[0], missing[-1] + 1):
                block = data[(index - missing[0]) * BLOCK_SIZE : (index - missing[0] + 1) * BLOCK_SIZE]
                found[index] = self._blocks_cache[index] = block
        for index in sorted(found):
            self._blocks_cache.move_to_end(index)  # most recently used last
        while len(self._blocks_cache) > CACHED_BLOCKS:
            self._blocks_cache.popitem(last=False)
        return found

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self.size - self.position))
        if wanted == 0:
            return 0
        blocks = self._blocks(self.position // BLOCK_SIZE, (self.position + wanted - 1) // BLOCK_SIZE)
        done = 0
        while done < wanted:
            index, offset = divmod(self.position, BLOCK_SIZE)
            piece = blocks[index][offset : offset + wanted - done]
            if not piece:
                break
            view[done : done + len(piece)] = piece
            done += len(piece)
            self.position += len(piece)
        return done
