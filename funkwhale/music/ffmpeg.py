"""Which ffmpeg to run: FUNKWHALE_FFMPEG, else the binary shipped by imageio-ffmpeg."""

from __future__ import annotations

from functools import cache

from funkwhale.config import Settings


@cache
def _bundled() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_binary(settings: Settings | None = None) -> str:
    if settings is not None and settings.ffmpeg:
        return settings.ffmpeg
    return _bundled()
