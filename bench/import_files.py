"""Import throughput of `funkwhale import` on 2,000 generated files, beside reading their tags with mutagen alone.

Makes one real encode per format with ffmpeg, then 2,000 copies with distinct tags (400 albums of 5 tracks by
100 artists) written by mutagen; imports them in place into a fresh embedded instance and prints tracks per second
for both. Run: .venv/bin/python bench/import_files.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mutagen
from mutagen.easyid3 import EasyID3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tones import tone  # noqa: E402

from funkwhale.music.metadata import read_metadata  # noqa: E402

FORMATS = {"mp3": ["-c:a", "libmp3lame", "-b:a", "128k"], "flac": ["-c:a", "flac"], "ogg": ["-c:a", "libvorbis"]}


def generate(folder: Path, count: int) -> list[Path]:
    seeds = {}
    for fmt, codec in FORMATS.items():
        seeds[fmt] = folder / f"seed.{fmt}"
        tone(seeds[fmt], 3, 440, *codec)
    for n in range(count):
        fmt = list(FORMATS)[n % len(FORMATS)]
        path = folder / f"{n // 5:03d}" / f"{n % 5 + 1:02d}.{fmt}"
        path.parent.mkdir(exist_ok=True)
        shutil.copyfile(seeds[fmt], path)
        tags = EasyID3() if fmt == "mp3" else mutagen.File(path)
        tags["title"] = f"Track {n}"
        tags["artist"] = f"Artist {n % 100}"
        tags["album"] = f"Album {n // 5}"
        tags["tracknumber"] = str(n % 5 + 1)
        tags["genre"] = ["Rock", "Jazz", "Ambient"][n % 3]
        tags.save(path) if fmt == "mp3" else tags.save()
    for seed in seeds.values():
        seed.unlink()
    return sorted(p for p in folder.rglob("*.*") if p.is_file())


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    work = Path(tempfile.mkdtemp(prefix="fw-bench-import-"))
    music, data = work / "music", work / "data"
    music.mkdir()
    try:
        t0 = time.monotonic()
        files = generate(music, count)
        print(f"generated {len(files)} files in {time.monotonic() - t0:.1f} s")

        t0 = time.monotonic()
        for path in files:
            read_metadata(path)
        tags_rate = len(files) / (time.monotonic() - t0)

        env = {**os.environ, "FUNKWHALE_DATA_DIR": str(data), "FUNKWHALE_MUSIC_DIRECTORIES": str(music)}
        bin_dir = Path(sys.executable).parent
        subprocess.run(
            [str(bin_dir / "funkwhale"), "createuser", "bench", "--email", "bench@example.org"],
            input="bench-pass-1234\nbench-pass-1234\n",
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        library = subprocess.run(
            [str(bin_dir / "python"), "-c", _MAKE_LIBRARY], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        t0 = time.monotonic()
        result = subprocess.run(
            [str(bin_dir / "funkwhale"), "import", str(music), "--library", library, "--in-place", "--recursive"],
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.monotonic() - t0
        print(result.stdout.strip())
        print(
            f"funkwhale import (in place, {len(files)} files): {len(files) / elapsed:.0f} tracks/s ({elapsed:.1f} s, "
            "including the embedded servers' start)"
        )
        print(f"read_metadata alone (mutagen, one thread):   {tags_rate:.0f} files/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


_MAKE_LIBRARY = """
import uuid
from funkwhale.cli import database
from funkwhale.config import load_settings, ensure_secret_key
settings = ensure_secret_key(load_settings())
with database(settings) as (settings, conn), conn.cursor() as cur:
    cur.execute("SELECT actor_id FROM users WHERE username = 'bench'")
    actor = cur.fetchone()["actor_id"]
    new = uuid.uuid4()
    cur.execute("INSERT INTO library (uuid, fid, actor_id, name) VALUES (%s, %s, %s, 'bench')",
                (new, f"{settings.base_url}/federation/music/libraries/{new}", actor))
print(new)
"""

if __name__ == "__main__":
    main()
