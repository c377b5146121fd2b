"""The strict site build, its deck outputs, and a scan that nothing loads from outside the site."""

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest

from conftest import REPO
from deck_parser import parse_deck

pytestmark = pytest.mark.site

LOADING_ATTRS = {
    "script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
    "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",),
    "embed": ("src",), "object": ("data",), "track": ("src",), "image": ("href",),
}


class _Loads(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        names = LOADING_ATTRS.get(tag)
        if not names:
            return
        attrs = dict(attrs)
        if tag == "link" and not set((attrs.get("rel") or "").split()) & {
                "stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch", "apple-touch-icon"}:
            return  # <link rel="canonical"> etc. load nothing
        for name in names:
            value = attrs.get(name)
            if value:
                self.urls.extend(v.strip().split()[0] for v in value.split(",") if v.strip())


def is_outside(url: str) -> bool:
    if url.startswith("//"):
        return True
    parsed = urlparse(url)
    return parsed.scheme not in ("", "data", "blob") or bool(parsed.netloc)


def test_strict_build_outputs(built_site):
    deck = parse_deck((REPO / "slides" / "sample.md").read_text(), "slides/sample.md")
    index = built_site / "slides" / "sample" / "index.html"
    assert index.is_file()
    assert (built_site / "slides" / "sample" / "images" / "rotations.png").is_file()
    for asset in ("assets/katex/katex.min.js", "assets/katex/katex.min.css",
                  "assets/katex/contrib/auto-render.min.js", "assets/remark/remark.min.js",
                  "assets/slides/deck.css", "assets/slides/deck.js", "javascripts/katex-init.js",
                  "stylesheets/extra.css"):
        assert (built_site / asset).is_file(), asset
    fonts = list((built_site / "assets" / "katex" / "fonts").glob("KaTeX_*.woff2"))
    assert len(fonts) >= 19
    html = index.read_text()
    data = json.loads(re.search(r'<script type="application/json" id="deck-data">(.*?)</script>', html, re.S)
                      .group(1))
    assert len(data["math"]) == len(deck.formulas) == data["source"].count('class="deck-math"')
    assert "$$" not in data["source"].replace("`", "")  # all display math replaced
    assert all('class="katex' in m for m in data["math"])


def test_outline_page_in_nav_and_search(built_site):
    page = built_site / "lecture" / "slides" / "sample" / "index.html"
    html = page.read_text()
    assert "Slides: Rotation prediction in five slides" in html
    assert 'href="../../../slides/sample/"' in html          # the Present button
    assert 'href="../../../slides/sample/#6"' in html        # a deep link to one slide
    home = (built_site / "index.html").read_text()
    assert 'href="lecture/slides/sample/"' in home           # in the nav
    search = json.loads((built_site / "search" / "search_index.json").read_text())
    texts = " ".join(d["text"] + " " + d["title"] for d in search["docs"])
    assert "Four rotations of the same photograph" in texts
    assert "Why can a network not solve it" in texts


def test_home_page_math_is_arithmatex(built_site):
    html = (built_site / "index.html").read_text()
    assert 'class="arithmatex"' in html
    assert "assets/katex/katex.min.js" in html and "javascripts/katex-init.js" in html


def test_nothing_loaded_from_outside(built_site):
    problems = []
    checked = 0
    for path in built_site.rglob("*"):
        rel = path.relative_to(built_site)
        if path.suffix == ".html":
            parser = _Loads()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            checked += 1
            problems += [f"{rel}: {u}" for u in parser.urls if is_outside(u)]
            # inline styles too
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", path.read_text(errors="replace")):
                if is_outside(url):
                    problems.append(f"{rel}: url({url})")
        elif path.suffix == ".css":
            css = path.read_text(encoding="utf-8", errors="replace")
            css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
            urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
            urls += re.findall(r"@import\s+['\"]([^'\"]+)", css)
            problems += [f"{rel}: {u}" for u in urls if is_outside(u)]
            checked += 1
    assert checked > 5
    assert not problems, "loaded from outside the site:\n" + "\n".join(problems)
