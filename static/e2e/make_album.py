"""Write a small tagged album (real audio made by ffmpeg, with a cover) into the folder given as argument, and
a picture for an avatar (avatar.png).

Run from the project root with the project's venv: `.venv/bin/python static/e2e/make_album.py DIR`.
Prints the files it wrote, one per line.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.audio import make_audio, make_cover  # noqa: E402

# The third is in a format browsers do not play: the web app asks the server for an mp3 transcode.
TRACKS = [("Morning Tide", "ogg"), ("Harbour Lights", "flac"), ("Sea Glass", "aiff")]


def main(folder: str) -> None:
    cover = make_cover("teal", size=(300, 300))
    (Path(folder) / "avatar.png").parent.mkdir(parents=True, exist_ok=True)
    (Path(folder) / "avatar.png").write_bytes(make_cover("orange", size=(128, 128), fmt="PNG"))
    for position, (title, fmt) in enumerate(TRACKS, start=1):
        path = make_audio(
            Path(folder),
            f"{position:02d} {title}",
            fmt,
            title=title,
            artist="The Whales",
            album="Deep Blue",
            album_artist="The Whales",
            track=position,
            date="2024-05-01",
            genre="Ambient",
            cover=cover,
            duration=8,
        )
        print(path)


if __name__ == "__main__":
    main(sys.argv[1])
