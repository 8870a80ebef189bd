"""Subsonic XML written list by list: the dicts of a list are written together, as the rows of one table.

The rules are render.py's: a scalar is an attribute (`value`: the element's text), a dict a child element, a list
repeated children (a scalar item a text element), an XmlPiece spliced as it is, None left out; attributes come in
the dict's order, then the text, then the children in the dict's order; an element with neither text nor children
closes itself. A scalar's text is escaped for an attribute in double quotes (& < > " tab newline return), without
the characters XML 1.0 forbids (control characters, lone surrogates, U+FFFE and U+FFFF: dropped, as before); a
string is written as its characters (a str subclass too: its __str__ or __format__ is not asked).

A 500-song page holds ~3,500 elements and ~20,000 attributes. Instead of Python work per attribute, the dicts of a
list are cut into columns (one per key, None where a dict lacks it) and each column is made text at once: a column
of strings is checked by joining it (nothing to escape, as is usual; else it is escaped as one string), a column
of numbers converted in one comprehension, a column of one value written once. An element is then "parts": literal
text and columns of text, one item per row, joined row by row. A child that each row has once (a dict, or a list
of one dict) is written the same way, its parts spliced into its parent's; other children are written first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, islice, repeat
from types import NoneType
from typing import Any, cast

from funkwhale.xmlchars import xml_safe


class XmlPiece:
    """Elements already written as XML, which `to_xml` writes as they are where a list of them would go. Not a
    str, so that joining a column tells a column of strings."""

    __slots__ = ("xml",)

    def __init__(self, xml: str) -> None:
        self.xml = xml

    def __str__(self) -> str:
        return self.xml

    def __repr__(self) -> str:
        return repr(self.xml)


# A character that a scalar's text cannot keep as it is: one XML 1.0 forbids (xmlchars), or one escaped in an
# attribute (& < > " and the tab, newline and carriage return, which an attribute's value would turn into spaces).
_UNSAFE = re.compile("[^\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MARKUP = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"))
_WHITESPACE = (("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#9;"))
_ASCII_CHANGED = bytes(0 if byte < 0x20 or chr(byte) in '&<>"' else 1 for byte in range(256))  # 0: changed
_BOOLS = {True: "true", False: "false"}
_NUMBERS = frozenset((int, float))
_WRITTEN_ALIKE = frozenset((str, int, bool))  # equal values, same text (not so 0.0 and -0.0, nor 1 and True)
_SEPARATOR = "\x7f"  # between the strings of a column escaped as one (DEL: neither escaped nor forbidden)

# Rows of elements as literal text (str) and columns of text (one item per row), to be joined row by row.
Parts = list[str | Sequence[str]]


def text(value: Any) -> str:
    """A scalar as escaped XML text, fit for an attribute (in double quotes) or an element, without the
    characters XML 1.0 forbids."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        value = str(value)
    change = _change(value)
    return value if change is None else _escape(value, change)


def _change(value: str) -> str | None:
    """What `text` changes in `value`: nothing (None), "markup" (& < > " only) or "all" (control characters or
    ones XML 1.0 forbids too). C code tells most strings apart fast: ASCII ones by a byte table, others as
    printable (no control character, surrogate or noncharacter)."""
    if value.isascii() and b"\0" not in value.encode().translate(_ASCII_CHANGED):
        return None
    if value.isprintable():
        return "markup" if "&" in value or "<" in value or ">" in value or '"' in value else None
    return "all" if _UNSAFE.search(value) else None


def _escape(value: str, change: str) -> str:
    """`value` escaped as `_change` said, by a chain of replacements (on a whole column, much faster than
    str.translate, which looks each character up in a dict)."""
    if change == "all":
        value = xml_safe(value)
    for char, escaped in _MARKUP + _WHITESPACE if change == "all" else _MARKUP:
        value = value.replace(char, escaped)
    return value


def elements(name: str, items: list[Any]) -> list[str]:
    """Each of `items` written as XML elements `name`: a dict as one element, a scalar as a text element, None as
    nothing (""); one text per item."""
    if not items:
        return []
    kinds = set(map(type, items))
    if NoneType in kinds:
        present = iter(elements(name, [item for item in items if item is not None]))
        return ["" if item is None else next(present) for item in items]
    if all(issubclass(kind, dict) for kind in kinds):
        return _rows(_dicts(name, items), len(items))
    if not any(issubclass(kind, dict) for kind in kinds):
        return _rows([f"<{name}>", _texts(items, kinds), f"</{name}>"], len(items))
    return [elements(name, [item])[0] for item in items]  # dicts and scalars mixed


def document(name: str, item: dict[str, Any]) -> list[str]:
    """The dict `item` written as one element `name`, as the pieces of text it is made of (their concatenation is
    `elements(name, [item])[0]`): a long answer's pieces are encoded one by one, with no copy of the whole text."""
    return [part if type(part) is str else part[0] for part in _dicts(name, [item])]


def _rows(parts: Parts, count: int) -> list[str]:
    """The `count` rows of `parts`, each joined (the literal parts next to each other joined first)."""
    if count == 1:
        return ["".join([part if type(part) is str else part[0] for part in parts])]
    merged: list[Any] = []
    for part in parts:
        if type(part) is str and merged and type(merged[-1]) is str:
            merged[-1] += part
        else:
            merged.append(part)
    if len(merged) == 1 and type(merged[0]) is str:
        return merged * count
    return list(map("".join, zip(*[repeat(part) if type(part) is str else part for part in merged], strict=False)))


def _dicts(name: str, items: list[dict[str, Any]]) -> Parts:
    """Dicts as elements `name`: all as the rows of one table when their keys come in one order (None where a
    dict lacks a key), else each group of dicts with the same keys as a table."""
    if not any(map(len, items)):
        return [f"<{name}/>"]
    distinct = set(map(tuple, items))  # (only these kept: many objects kept alive would make the GC run)
    keys = next(iter(distinct)) if len(distinct) == 1 else _merged(distinct)
    if keys is not None:
        return _table(name, keys, _columns(items, keys, _shared(distinct)), len(items))
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(tuple(item), []).append(i)
    out = [""] * len(items)
    for where in groups.values():  # in the order of `items`
        for i, row in zip(where, elements(name, [items[i] for i in where]), strict=True):
            out[i] = row
    return [out]


def _shared(shapes: set[tuple[str, ...]]) -> int:
    """How many first keys all `shapes` have alike."""
    alike = (i for i, names in enumerate(zip(*shapes, strict=False)) if len(set(names)) > 1)
    return next(alike, min(map(len, shapes)))


def _columns(items: list[dict[str, Any]], keys: tuple[str, ...], shared: int) -> list[Sequence[Any]]:
    """The values of `items` under `keys`, key by key (None where a dict lacks one): the first `shared` keys, the
    first of every dict, by position (a transposition at C speed), the others by name."""
    columns: list[Sequence[Any]] = []
    if shared:
        columns += list(zip(*map(dict.values, items), strict=False))[:shared]
    return columns + [tuple(map(dict.get, items, repeat(key))) for key in keys[shared:]]


def _merged(shapes: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    """An order of all the keys of `shapes` in which each shape's keys come in their own order (each key placed
    after the one before it in its shape), or None when that does not give one."""
    order = list(max((len(shape), shape) for shape in shapes)[1])
    for shape in shapes:
        for i, key in enumerate(shape):
            if key not in order:
                order.insert(order.index(shape[i - 1]) + 1 if i else 0, key)
    place = {key: i for i, key in enumerate(order)}
    for shape in shapes:
        places = [place[key] for key in shape]
        if places != sorted(places):
            return None
    return tuple(order)


def _table(name: str, keys: tuple[str, ...], columns: list[Sequence[Any]], count: int) -> Parts:
    """`count` elements `name` whose values under `keys` are `columns` (None: no such attribute or child)."""
    parts: Parts = [f"<{name}"]
    body: Parts = []  # the text, then the children
    always = False  # whether every row has a text or a child (the others close themselves)
    sometimes: list[Sequence[Any]] = []  # the columns of a text or children that some rows lack (None)
    for key, column in zip(keys, columns, strict=True):
        kinds: set[type]
        try:
            joined: str | None = "".join(column)  # a column of strings (the usual) needs no other check
            kinds = {str}
        except TypeError:
            joined, kinds = None, set(map(type, column))
        optional = NoneType in kinds
        kinds.discard(NoneType)
        if not kinds:  # None in every row
            continue
        child = [_is_child(kind) for kind in kinds]
        if any(child) and not all(child):  # a key that holds a child in some rows, a scalar in others
            rows = zip(*columns, strict=True)
            return [[_rows(_table(name, keys, [(value,) for value in row], 1), 1)[0] for row in rows]]
        if key != "value" and not child[0]:
            parts += _attribute(key, column, kinds, optional, joined)
            continue
        if child[0]:
            body += _children(key, column, kinds, optional)
        if key == "value":  # the text (and, if it is a child, as render.py always wrote it, that child too)
            written = _texts(column, kinds, joined) if not child[0] else [text(v) for v in column if v is not None]
            body.insert(0, [t if v is not None else "" for v, t in _paired(column, written)] if optional else written)
        if optional:
            sometimes.append(column)
        else:
            always = True
    end = f"</{name}>"
    if always:
        return [*parts, ">", *body, end]
    if not sometimes:
        return [*parts, "/>"]
    filled = [any(value is not None for value in row) for row in zip(*sometimes, strict=True)]
    return [*parts, [">" if full else "/>" for full in filled], *body, [end if full else "" for full in filled]]


def _paired(column: Sequence[Any], written: Sequence[Any]) -> Any:
    """(value, text) of each row: `written` has a text for every row, or (a child's) for the rows with a value."""
    if len(written) == len(column):
        return zip(column, written, strict=True)
    texts = iter(written)
    return ((value, None if value is None else next(texts)) for value in column)


def _attribute(key: str, column: Sequence[Any], kinds: set[type], optional: bool, joined: str | None) -> Parts:
    """The parts of attribute `key` of a column of scalars of the types `kinds` (and None if `optional`)."""
    if optional:
        return [[f' {key}="{t}"' if v is not None else "" for v, t in zip(column, _texts(column, kinds), strict=True)]]
    if len(kinds) == 1 and kinds <= _WRITTEN_ALIKE and _same(column):
        return [f' {key}="{_texts(column[:1], kinds)[0]}"']
    return [f' {key}="', _texts(column, kinds, joined), '"']


def _same(column: Sequence[Any]) -> bool:
    """Whether all the values of `column` equal its first (most often not, which its ends tell)."""
    first = column[0]
    return bool(first == column[-1]) and column.count(first) == len(column)


def _texts(values: Sequence[Any], kinds: set[type], joined: str | None = None) -> Sequence[Any]:
    """A column of scalars of the types `kinds` as `text` writes them (None among them: as anything), `joined`
    being the concatenation of a column of strings if known."""
    if kinds == {str}:
        return _strings(values, "".join(filter(None, values)) if joined is None else joined)
    if kinds == {int}:
        distinct = set(values)
        if len(distinct) * 4 < len(values):  # a few values repeated (a year, a disc number): each converted once
            return list(map(dict(zip(distinct, map(str, distinct), strict=True)).__getitem__, values))
    if kinds <= _NUMBERS:
        return [f"{value}" for value in values]  # as str() writes them (an f-string converts faster)
    if kinds == {bool}:
        return list(map(_BOOLS.get, values))
    return [None if value is None else text(value) for value in values]


def _strings(values: Sequence[str | None], joined: str) -> Sequence[str | None]:
    """A column of strings (None among them: as "") as `text` writes them, `joined` being their concatenation:
    themselves when none needs a change (most often), else escaped as one string."""
    change = _change(joined)
    if change is None:
        return values
    strings = [value or "" for value in values]
    escaped = _escape(_SEPARATOR.join(strings), change).split(_SEPARATOR)
    return escaped if len(escaped) == len(strings) else list(map(text, strings))  # unless a string holds DEL


def _is_child(kind: type) -> bool:
    return issubclass(kind, dict | list) or kind is XmlPiece


def _children(key: str, column: Sequence[Any], kinds: set[type], optional: bool) -> Parts:
    """The parts of the children `key` of a column of dicts, lists or pieces of the types `kinds` (and None if
    `optional`)."""
    if all(issubclass(kind, dict) for kind in kinds):
        return [elements(key, list(column))] if optional else _dicts(key, list(column))
    if all(issubclass(kind, list) for kind in kinds):
        cells = [() if cell is None else cell for cell in column] if optional else column
        items = list(chain.from_iterable(cells))
        if not items:
            return [""]  # no child, though a child all the same: not a self-closed element
        if len(items) == len(cells) and 0 not in map(len, cells):  # one item each: like a column of dicts
            if all(issubclass(kind, dict) for kind in set(map(type, items))):
                return _dicts(key, items)
        if len(cells) == 1:  # one row (an answer's one list): its elements as literal parts, not joined into one
            return cast(Parts, elements(key, items))
        written = iter(elements(key, items))
        return [list(map("".join, map(islice, repeat(written), map(len, cells))))]
    if kinds == {XmlPiece}:
        return [["" if cell is None else cell.xml for cell in column]]
    return [["" if cell is None else _rows(_children(key, (cell,), {type(cell)}, False), 1)[0] for cell in column]]
