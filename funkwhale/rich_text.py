"""Markdown rendered to sanitised HTML, as Funkwhale 1.4's render_html (common/utils.py): Python-Markdown with
line breaks kept, then only Funkwhale's safe tags (`permissive`: also headings and sections) and attributes left,
link targets limited to http, https and mailto. Nothing else survives: no script, style, event handler or
`javascript:` link. Both libraries are imported on the first rendering (about 2 MiB a process may never need)."""

from __future__ import annotations

SAFE_TAGS = {"p", "a", "abbr", "acronym", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "strong", "ul"}
PERMISSIVE_TAGS = SAFE_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6", "div", "section", "article"}
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "acronym": {"title"}}
PERMISSIVE_ATTRIBUTES = {"*": {"class", "alt", "title", "href"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render_html(text: str, permissive: bool = False) -> str:
    """The sanitised HTML of Markdown `text` (CPU work: run it in a thread)."""
    if not text:
        return ""
    import markdown
    import nh3

    rendered = markdown.markdown(text, extensions=["nl2br", "sane_lists"])
    cleaned = nh3.clean(
        rendered,
        tags=PERMISSIVE_TAGS if permissive else SAFE_TAGS,
        attributes=PERMISSIVE_ATTRIBUTES if permissive else ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"script", "style"},
    )
    return cleaned.strip().replace("\n", "")
