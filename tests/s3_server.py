"""An S3 server for the tests: one `moto_server` (PyPI moto[server], the stand-in for MinIO, Garage or AWS) per
pytest session, a child process on an ephemeral port; `new_bucket` makes a bucket per test module.

    def test_x(s3_server): settings = s3_server.settings(base_settings, new_bucket(s3_server))
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from funkwhale.config import Settings

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY)  # fmt: skip

    def new_bucket(self) -> str:
        name = f"fw-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def settings(self, base: Settings, bucket: str, **changes: Any) -> Settings:
        """`base` with its media in `bucket`."""
        values = {
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "aws_storage_bucket_name": bucket,
            "aws_s3_endpoint_url": self.endpoint,
            "aws_s3_region_name": REGION,
        }
        return dataclasses.replace(base, **{**values, **changes})

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def start_s3_server() -> S3Server:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return S3Server(endpoint, process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def s3_server():
    server = start_s3_server()
    yield server
    server.process.terminate()
    server.process.wait(10)
