"""Write an album of N one-second tracks ("Long Player" by The Whales, ogg) into the folder given, for the test
that an album longer than one API page shows whole.

Run from the project root with the project's venv: `.venv/bin/python static/e2e/make_long_album.py DIR N`.
Prints the files it wrote, one per line.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.audio import make_audio  # noqa: E402


def main(folder: str, count: int) -> None:
    for position in range(1, count + 1):
        path = make_audio(
            Path(folder),
            f"{position:02d} Wave {position}",
            "ogg",
            title=f"Wave {position}",
            artist="The Whales",
            album="Long Player",
            album_artist="The Whales",
            track=position,
            duration=1,
        )
        print(path)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
