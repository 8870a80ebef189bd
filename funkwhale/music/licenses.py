"""The licenses /api/v1/licenses/ lists, as Funkwhale 1.4 describes them: Creative Commons (unported versions,
CC0) and the Licence Art Libre, each with what it allows. Sorted by code, as Funkwhale lists them."""

from __future__ import annotations

from typing import Any

# Creative Commons kind -> (name, derivative, commercial, copyleft); every kind asks for attribution.
_CC_KINDS: dict[str, tuple[str, bool, bool, bool]] = {
    "by": ("Attribution", True, True, False),
    "by-sa": ("Attribution-ShareAlike", True, True, True),
    "by-nd": ("Attribution-NoDerivatives", False, True, False),
    "by-nc": ("Attribution-NonCommercial", True, False, False),
    "by-nc-sa": ("Attribution-NonCommercial-ShareAlike", True, False, True),
    "by-nc-nd": ("Attribution-NonCommercial-NoDerivatives", False, False, False),
}
_CC_VERSIONS = ("1.0", "2.0", "2.5", "3.0", "4.0")


def _license(
    code: str, uri: str, name: str, derivative: bool, commercial: bool, attribution: bool, copyleft: bool
) -> dict[str, Any]:
    return {
        "id": f"http://{uri}",
        "url": f"https://{uri}",
        "code": code,
        "name": name,
        "redistribute": True,
        "derivative": derivative,
        "commercial": commercial,
        "attribution": attribution,
        "copyleft": copyleft,
    }


def _all() -> list[dict[str, Any]]:
    found = [
        _license("LAL-1.3", "artlibre.org/licence/lal", "Licence Art Libre 1.3", True, True, True, True),
        _license(
            "cc0-1.0", "creativecommons.org/publicdomain/zero/1.0/", "CC0 - Public domain", True, True, False, False
        ),
    ]
    for version in _CC_VERSIONS:
        for kind, (name, derivative, commercial, copyleft) in _CC_KINDS.items():
            path = "by-nd-nc" if (version, kind) == ("1.0", "by-nc-nd") else kind  # 1.0 spelled it so
            found.append(
                _license(
                    f"cc-{path}-{version}",
                    f"creativecommons.org/licenses/{path}/{version}/",
                    f"Creative commons - {name} {version}",
                    derivative,
                    commercial,
                    True,
                    copyleft,
                )
            )
    return sorted(found, key=lambda entry: entry["code"])


LICENSES: tuple[dict[str, Any], ...] = tuple(_all())
BY_CODE: dict[str, dict[str, Any]] = {entry["code"]: entry for entry in LICENSES}
