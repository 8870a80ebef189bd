"""Import throughput of `funkwhale import` on 2,000 generated files, beside its limits: the files read alone,
their tags read by mutagen alone (one process, and in the import's pool of processes), with the ratios.

Makes one real encode per format with ffmpeg, then 2,000 copies with distinct tags (400 albums of 5 tracks by
100 artists) written by mutagen; imports them in place into a fresh embedded instance (its servers started
beforehand, so that the command is timed alone; its remaining fixed cost, timed on an empty folder, is shown too),
then runs the import again (every file unchanged). Run: .venv/bin/python bench/import_files.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mutagen
from mutagen.easyid3 import EasyID3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tones import tone  # noqa: E402

from funkwhale.cli import database  # noqa: E402
from funkwhale.config import ensure_secret_key, load_settings  # noqa: E402
from funkwhale.music.importer import readers, reading  # noqa: E402
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


def _rate(count: int, work: Callable[[], object]) -> float:
    t0 = time.monotonic()
    work()
    return count / (time.monotonic() - t0)


def _read_all(files: list[Path]) -> None:
    for path in files:
        path.read_bytes()


def _tags_all(files: list[Path]) -> None:
    for path in files:
        read_metadata(path)


def _tags_pool(files: list[Path]) -> None:
    """Tags read as the importer reads them: chunks in one process per core."""
    jobs = [(str(p), True) for p in files]
    with ProcessPoolExecutor(readers.processes() or 1) as pool:
        list(pool.map(reading.read_chunk, [jobs[i : i + readers.CHUNK] for i in range(0, len(jobs), readers.CHUNK)]))


def _line(name: str, rate: float, limit: float, limit_name: str) -> None:
    print(f"{name:<44} {rate:8.0f} files/s   {rate / limit:5.2f}x {limit_name}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    work = Path(tempfile.mkdtemp(prefix="fw-bench-import-"))
    music, data = work / "music", work / "data"
    music.mkdir()
    env = {**os.environ, "FUNKWHALE_DATA_DIR": str(data), "FUNKWHALE_MUSIC_DIRECTORIES": str(music)}
    os.environ.update(env)
    bin_dir = Path(sys.executable).parent
    try:
        t0 = time.monotonic()
        files = generate(music, count)
        print(f"generated {len(files)} files in {time.monotonic() - t0:.1f} s; {os.cpu_count()} cores")
        _read_all(files)  # warm the page cache: every figure below reads from memory
        read_rate = _rate(len(files), lambda: _read_all(files))
        tags_rate = _rate(len(files), lambda: _tags_all(files))
        pool_rate = _rate(len(files), lambda: _tags_pool(files))

        settings = ensure_secret_key(load_settings())
        with database(settings) as (settings, conn):  # the embedded servers stay up: the import below is timed alone
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
            command = [str(bin_dir / "funkwhale"), "import", str(music), "--library", library, "--in-place"]
            runs = []
            for _ in range(2):  # the first imports, the second finds every file unchanged
                t0 = time.monotonic()
                result = subprocess.run([*command, "--recursive"], env=env, capture_output=True, text=True)
                runs.append((time.monotonic() - t0, result.stdout.strip() or result.stderr.strip()[-500:]))
            t0 = time.monotonic()
            subprocess.run([*command, str(work / "empty")], env=env, capture_output=True, text=True)
            fixed = time.monotonic() - t0
        (first, first_out), (second, second_out) = runs
        print(f"first run:  {first_out}\nsecond run: {second_out}")
        print(f"{'file read alone (page cache)':<44} {read_rate:8.0f} files/s")
        print(f"{'mutagen alone (read_metadata, one process)':<44} {tags_rate:8.0f} files/s")
        _line(f"mutagen in the import's pool ({readers.processes()} processes)", pool_rate, tags_rate, "mutagen alone")
        _line("funkwhale import in place (whole command)", len(files) / first, tags_rate, "mutagen alone")
        _line(
            f"  less its fixed cost ({fixed:.2f} s: start, connect)",
            len(files) / (first - fixed),
            tags_rate,
            "mutagen alone",
        )
        _line("funkwhale import again (all unchanged)", len(files) / second, read_rate, "file read alone")
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
