"""The strict site build, its deck outputs, nothing loaded from outside the site, no broken link."""

import json
import re

import pytest
from deck_parser import parse_deck
from handout import final_steps

from conftest import REPO
from sitecheck import broken_links, outside_loads

pytestmark = pytest.mark.site


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
    deck = parse_deck((REPO / "slides" / "sample.md").read_text(), "slides/sample.md")
    page = built_site / "lecture" / "slides" / "sample" / "index.html"
    html = page.read_text()
    assert "Slides: Rotation prediction in five slides" in html
    assert 'href="../../../slides/sample/"' in html          # the Present button
    assert 'href="../../../slides/sample/#6"' in html        # a deep link to one slide
    # one heading per counted slide, inline code kept as code, formulas as math for KaTeX
    assert html.count("<h3 ") == len(final_steps(deck))     # the title slide (count: false) too
    assert '<code>$</code>' in html and '<code>cost = "$5"</code>' in html
    assert r'<span class="arithmatex">\(g_k(x)\)</span>' in html
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
    problems, checked = outside_loads(built_site)
    assert checked > 5
    assert not problems, "loaded from outside the site:\n" + "\n".join(problems)


@pytest.mark.browser   # the Pages workflow prints the PDF handouts with Chromium
def test_every_internal_link_resolves(published_site):
    """Every href/src of every page, url() of every stylesheet and link or image of every deck
    names a file of the site as the Pages workflow publishes it (the PDF handout included)."""
    problems, checked = broken_links(published_site)
    assert checked > 1000
    assert not problems, "links to nothing:\n" + "\n".join(problems)
    home = (published_site / "index.html").read_text()
    assert 'href="pdf/self-supervised-learning.pdf"' in home


DECK_PAGE = """<!DOCTYPE html><html><head><link rel="stylesheet" href="../../assets/x.css"></head><body>
<script type="application/json" id="deck-data">{data}</script></body></html>"""


def deck_site(tmp_path, source):
    page = tmp_path / "slides" / "d" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(DECK_PAGE.format(data=json.dumps({"source": source, "math": []})))
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "x.css").write_text("body { background: url(bg.png) }")
    return tmp_path


REMOTE_DECK = '# Dance\n\n<video controls>\n<source src="https://media.example.org/a.mp4">\n</video>\n'


def test_offline_check_guards_decks_that_did_not_opt_in(tmp_path):
    """The deck builder refuses outside media, and this check guards the built site on its own."""
    problems, _ = outside_loads(deck_site(tmp_path / "a", REMOTE_DECK))
    assert problems == ["slides/d/index.html: https://media.example.org/a.mp4"]
    problems, _ = outside_loads(deck_site(tmp_path / "b", "![x](https://x.org/a.png)\n\n" + REMOTE_DECK))
    assert len(problems) == 2
    # the opt-in counts only on the deck's first slide
    late = "# A\n\n---\nallow-remote-media: true\n\n" + REMOTE_DECK
    assert outside_loads(deck_site(tmp_path / "c", late))[0]
    opted_in = "class: middle\nallow-remote-media: true\n\n" + REMOTE_DECK
    assert outside_loads(deck_site(tmp_path / "d", opted_in))[0] == []


def test_link_check_finds_what_is_missing(tmp_path):
    site = deck_site(tmp_path, "# A\n\n![a](figures/a.png) [page](../../methods/x/) [slide](#3)\n")
    (site / "index.html").write_text('<a href="pdf/h.pdf">PDF</a> <a href="slides/d/">deck</a> '
                                     '<img src="/abs.png"> <a href="#top">top</a> <a href="https://x.org/">x</a>')
    problems, checked = broken_links(site)
    assert checked == 10
    assert sorted(p.split(": ")[1] for p in problems) == [
        "../../methods/x/", "/abs.png", "bg.png", "figures/a.png", "pdf/h.pdf"]
