"""Text made safe for XML 1.0, whose documents may not contain most control characters (not even escaped)."""

from __future__ import annotations

import re

# Everything outside XML 1.0's Char production: C0 controls but tab, CR and LF; surrogates; U+FFFE and U+FFFF.
FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters an XML 1.0 document cannot hold (a title tagged with \\x01 or \\x1b)."""
    return FORBIDDEN.sub("", text)
