"""The remote-audio cache in a bucket: two federating instances (tests/federation_pair.py) whose media are in the
module's bucket (tests/s3_server.py). B streams a remote track as it arrives, keeps its copy in the bucket (nothing
left on B's disk, so another web process of B plays it too), replays it by ranges and transcodes it from there, and
the cache cleaning deletes the objects."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from funkwhale import storage
from funkwhale.music.playback.remote import clean_music_cache

from .remote_music import cached, execute, row
from .test_federation_play import cached_files, listen_path, setup


@pytest.fixture(scope="module")
def bucket(s3_server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
def settings(settings, s3_server, bucket):
    """Both peers keep their media in the bucket (under their own names, as two instances may)."""
    return s3_server.settings(settings, bucket)


async def _versions(server: Any, upload_id: int) -> list[str]:
    def select(txn: Any) -> list[str]:
        txn.execute("SELECT audio_file FROM upload_version WHERE upload_id = %s", (upload_id,))
        return [r["audio_file"] for r in txn.fetchall()]

    return await server.ctx.db.run(select, desc="test.versions")


@pytest_twisted.ensureDeferred
async def test_remote_audio_is_cached_in_the_bucket(peers, tmp_path, s3_server, bucket):
    published, _, bob, remote = await setup(peers, tmp_path)
    first = await bob.get(listen_path(remote))
    assert first.code == 200 and first.body == published.data, first
    copy = await cached(peers.b, remote["id"])
    assert copy["audio_file"].startswith(f"{storage.REMOTE_CACHE}/")
    assert s3_server.read(bucket, copy["audio_file"]) == published.data
    assert cached_files(peers.b) == []  # only this process's scratch while it downloaded

    again = await bob.get(listen_path(remote), headers={"Range": "bytes=10-"})
    assert again.code == 206 and again.body == published.data[10:], again
    mp3 = await bob.get(listen_path(remote, to="mp3"))
    assert mp3.code == 200 and mp3.header("Content-Type") == "audio/mpeg", mp3
    (version,) = await _versions(peers.b, remote["id"])
    assert s3_server.read(bucket, version) == mp3.body

    await execute(peers.b, "UPDATE upload SET accessed_date = now() - interval '3 days' WHERE id = %s", remote["id"])
    await execute(peers.b, "UPDATE upload_version SET accessed_date = now() - interval '3 days' WHERE upload_id = %s",
                  remote["id"])  # fmt: skip
    assert await clean_music_cache(peers.b.ctx) == 2
    while (await row(peers.b, remote["id"]))["audio_file"] is not None:
        await deferLater(peers.b.ctx.clock, 0.1, lambda: None)
    assert s3_server.keys(bucket, copy["audio_file"]) == [] and s3_server.keys(bucket, version) == []
