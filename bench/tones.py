"""Audio files for benchmarks: a sine tone encoded by ffmpeg (imageio-ffmpeg's binary)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from funkwhale.music.ffmpeg import ffmpeg_binary


def tone(target: Path, seconds: float, frequency: int = 440, *options: str) -> Path:
    """`target` holding `seconds` of a sine tone; `options` (codec, channels, -metadata...) go before the output."""
    source = f"sine=frequency={frequency}:duration={seconds}"
    subprocess.run(
        [ffmpeg_binary(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", source, *options, str(target)], check=True
    )
    return target
