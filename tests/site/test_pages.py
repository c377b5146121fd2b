"""Every page of the built site in Chromium: its math rendered by KaTeX (pages, notebooks, deck
outlines, decks), no raw TeX left in its text, no KaTeX error, no console error, and nothing
loaded from outside the site."""

import pytest
from deck_media import find_media, is_external, remote_host
from deck_parser import parse_deck

from sitecheck import deck_source
from test_browser import open_page

pytestmark = [pytest.mark.browser, pytest.mark.site]

# Text a reader sees, grouped by the block it sits in, outside code and outside rendered math:
# any $...$, $$...$$, \(...\) or \[...\] left there is TeX that nobody rendered.
RAW_TEX_JS = r"""() => {
  const skip = 'code, pre, kbd, samp, script, style, noscript, textarea, template, .katex, .highlight';
  const block = 'p, li, td, th, h1, h2, h3, h4, h5, h6, dd, dt, figcaption, blockquote, summary, div, body';
  const texts = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const owner = parent.closest(block);
    texts.set(owner, (texts.get(owner) || '') + node.textContent);
  }
  const tex = /\$\$[\s\S]+?\$\$|\$[^\s$][^$]*?\$|\\\([\s\S]+?\\\)|\\\[[\s\S]+?\\\]/;
  const found = [];
  for (const text of texts.values()) {
    const m = text.match(tex);
    if (m) found.push(`${m[0].slice(0, 60)}  (in "${text.trim().slice(0, 100)}")`);
  }
  return found;
}"""

# Math renders when Material's document$ first emits (notebook cells in the same call as the
# page's math); a deck's formulas are filled once remark has built its slides.
RENDERED_JS = """() => [...document.querySelectorAll('.arithmatex')].every(n => n.querySelector('.katex, .katex-error'))
  && (!document.getElementById('deck-data') || !!document.querySelector('.remark-slides-area'))"""

CHECKS_JS = """() => ({
  katexErrors: document.querySelectorAll('.katex-error').length,
  unrendered: [...document.querySelectorAll('.arithmatex')].filter(n => !n.querySelector('.katex')).length,
  emptyDeckMath: document.querySelectorAll('span.deck-math:empty').length,
})"""


def site_pages(site):
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def allowed_hosts(html_text):
    """Hosts a deck page may load from: only those of a deck that opted in."""
    source = deck_source(html_text)
    if source is None:
        return set()
    deck = parse_deck(source, "deck.md")
    if not deck.allow_remote_media:
        return set()
    return {remote_host(m.ref) for m in find_media(deck) if is_external(m.ref)}


def test_every_page_renders_its_math_offline(browser, built_site, serve):
    base = serve(built_site)
    pages = site_pages(built_site)
    assert len(pages) > 30 and "notebooks/time/index.html" in pages
    problems = []
    for rel in pages:
        url = f"{base}/{rel}".removesuffix("index.html")
        # "load", not "networkidle": half a second less a page; the static scans (test_site.py)
        # see every address a page names, wherever it would load it
        page, log = open_page(browser, url, wait="load")
        page.wait_for_function(RENDERED_JS)
        checks = page.evaluate(CHECKS_JS)
        problems += [f"{rel}: raw TeX {t}" for t in page.evaluate(RAW_TEX_JS)]
        problems += [f"{rel}: {n} {what}" for what, n in checks.items() if n]
        problems += [f"{rel}: console: {e}" for e in log["errors"]]
        hosts = allowed_hosts((built_site / rel).read_text(encoding="utf-8"))
        outside = [u for u in log["requests"] if not u.startswith(base + "/") and not u.startswith("data:")]
        problems += [f"{rel}: loaded {u}" for u in outside if remote_host(u) not in hosts]
        page.close()
    assert not problems, "\n".join(problems)
