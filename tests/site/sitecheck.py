"""Static checks of a built site, written independently of the deck builder they check.

* ``outside_loads(site)``: everything a page, a stylesheet or a deck would load from another
  host (the site works offline); a deck that opted in with ``allow-remote-media: true`` may.
* ``broken_links(site)``: every internal link and asset (``href``/``src``/... of every HTML
  file, ``url()`` in CSS, the links and media inside each deck's source) that names no file.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

# Attributes that make the browser load something.
LOADING_ATTRS = {
    "script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
    "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",),
    "embed": ("src",), "object": ("data",), "track": ("src",), "image": ("href",), "input": ("src",),
}
# Attributes that point somewhere a reader can follow.
LINK_ATTRS = {"a": ("href",), "area": ("href",), "form": ("action",)}

_DECK_DATA = re.compile(r'<script type="application/json" id="deck-data">(.*?)</script>', re.S)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")
_CSS_IMPORT = re.compile(r"@import\s+['\"]([^'\"]+)")
_MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
# remark reads a slide's properties from the ``key: value`` lines it starts with
_OPT_IN = re.compile(r"\A(?:\s*[-\w]+:[^\n]*\n)*?\s*allow-remote-media:[ \t]*true[ \t]*$", re.M)


class _Refs(HTMLParser):
    """``(tag, url)`` of what each element loads (``loads``) or links to (``links``)."""

    def __init__(self):
        super().__init__()
        self.loads: list[tuple[str, str]] = []
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and not set((attrs.get("rel") or "").split()) & {
                "stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch", "apple-touch-icon"}:
            # <link rel="canonical"> and the like load nothing, but still name a page
            if attrs.get("href"):
                self.links.append((tag, attrs["href"]))
            return
        for name in LOADING_ATTRS.get(tag, ()):
            for url in _split(name, attrs.get(name)):
                self.loads.append((tag, url))
        for name in LINK_ATTRS.get(tag, ()):
            for url in _split(name, attrs.get(name)):
                self.links.append((tag, url))
        style = attrs.get("style") or ""
        self.loads += [("style", u) for u in _CSS_URL.findall(style)]


def _split(name: str, value: str | None) -> list[str]:
    if not value or not value.strip():
        return []
    if name == "srcset":
        return [v.strip().split()[0] for v in value.split(",") if v.strip()]
    return [value.strip()]


def is_outside(url: str) -> bool:
    if url.startswith("//"):
        return True
    parsed = urlparse(url)
    return parsed.scheme not in ("", "data", "blob") or bool(parsed.netloc)


def deck_source(html_text: str) -> str | None:
    """The remark source a deck page carries (``None`` for other pages)."""
    m = _DECK_DATA.search(html_text)
    return json.loads(m.group(1))["source"] if m else None


def deck_opted_in(source: str) -> bool:
    """Whether a deck's first slide sets ``allow-remote-media: true``."""
    first = re.split(r"\n---?\n", source, maxsplit=1)[0]
    return bool(_OPT_IN.search(first))


def _refs_of(path: Path, text: str) -> tuple[list[str], list[str]]:
    """(loads, links) of one HTML file, its deck source included."""
    parser = _Refs()
    parser.feed(text)
    loads = [u for _, u in parser.loads]
    links = [u for _, u in parser.links]
    source = deck_source(text)
    if source is not None:
        inner = _Refs()
        inner.feed(source)
        loads += [u for _, u in inner.loads]
        links += [u for _, u in inner.links]
        for m in _MD_LINK.finditer(source):
            (loads if m.group(0).startswith("!") else links).append(m.group(1))
    return loads, links


def _css_urls(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return _CSS_URL.findall(text) + _CSS_IMPORT.findall(text)


def outside_loads(site: Path) -> tuple[list[str], int]:
    """(problems, files checked): what would load from outside the site."""
    problems, checked = [], 0
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8", errors="replace")
            source = deck_source(text)
            if source is not None and deck_opted_in(source):
                continue   # its outline page names the hosts (tested where decks are built)
            loads, _ = _refs_of(path, text)
            problems += [f"{rel}: {u}" for u in loads if is_outside(u)]
            checked += 1
        elif path.suffix == ".css":
            problems += [f"{rel}: url({u})" for u in _css_urls(path.read_text(errors="replace")) if is_outside(u)]
            checked += 1
    return problems, checked


def _resolves(site: Path, page_rel: str, url: str) -> str | None:
    """``None`` if ``url`` (found in ``page_rel``) names a file of the site, else the problem."""
    parsed = urlparse(url)
    if parsed.scheme or parsed.netloc or not parsed.path:
        return None      # another host, mailto:, data:, javascript:, or only a #fragment / ?query
    if parsed.path.startswith("/") and page_rel != "404.html":
        # The 404 page is served at any depth, so MkDocs writes its links from the site's root
        # (the path of ``site_url``; "/" in a build without it). Any other page links relatively.
        return "an absolute path (breaks when the site is served below a folder, as on GitHub Pages)"
    target = unquote(urlparse(urljoin("http://site/" + page_rel, parsed.path)).path)[1:]
    full = site / target
    if target.endswith("/") or full.is_dir():
        full = full / "index.html"
    if not full.resolve().is_relative_to(site.resolve()):
        return "outside the site's folder"
    return None if full.is_file() else f"no file {full.relative_to(site).as_posix()}"


def broken_links(site: Path) -> tuple[list[str], int]:
    """(problems, links checked): internal links and assets that name no file of the site."""
    problems, checked = [], 0
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.suffix == ".html":
            loads, links = _refs_of(path, path.read_text(encoding="utf-8", errors="replace"))
            urls = loads + links
        elif path.suffix == ".css":
            urls = _css_urls(path.read_text(errors="replace"))
        else:
            continue
        for url in urls:
            checked += 1
            problem = _resolves(site, rel, url)
            if problem:
                problems.append(f"{rel}: {url}: {problem}")
    return problems, checked
