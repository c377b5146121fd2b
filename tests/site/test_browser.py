"""Drive headless Chromium through the built decks and a lecture page."""

import re

import pytest

from conftest import ARTIFACTS, REPO
from deck_parser import parse_deck

pytestmark = [pytest.mark.browser, pytest.mark.site]


def open_page(browser, url, wait="networkidle"):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(15000)
    log = {"errors": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and log["errors"].append(m.text))
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("request", lambda r: log["requests"].append(r.url))
    page.goto(url)
    page.wait_for_load_state(wait)
    return page, log


def walk_deck(page, deck, shots=None):
    """Step through every slide with the keyboard; check number, math, raw TeX."""
    assert page.locator(".remark-slides-area > .remark-slide-container").count() == deck.count
    formula_slides = {i for i, s in enumerate(deck.slides) if 'class="deck-math"' in s.content}
    keys = ["ArrowRight", "PageDown"]
    for i, slide in enumerate(deck.slides):
        visible = page.locator(".remark-slides-area > .remark-visible")
        assert visible.count() == 1
        number = visible.locator(".deck-number").inner_text()
        assert number == f"{slide.number} / {deck.total}", f"slide {i + 1}"
        text = visible.locator(".remark-slide-content").inner_text()
        assert "$$" not in text and "deck-math" not in text, f"raw math on slide {i + 1}"
        if i in formula_slides:
            assert visible.locator(".katex").count() >= 1, f"no rendered math on slide {i + 1}"
        if shots and i in shots:
            page.screenshot(path=str(ARTIFACTS / shots[i]))
        page.keyboard.press(keys[i % 2])
    assert page.evaluate("location.hash") == f"#{deck.count}"
    assert page.locator(".katex-error").count() == 0
    assert page.locator("span.deck-math:empty").count() == 0


# Each .grid of the visible slide: its box and its columns, whether written as blocks
# (<div class="kol-6-12"> children) or on one line each (<span>s inside the grid's paragraph).
COLUMNS_JS = """() => [...document.querySelectorAll('.remark-visible .grid')].map(g => {
  const box = g.getBoundingClientRect();
  const cols = g.querySelectorAll(':scope > [class*="kol-"], :scope > p > [class*="kol-"]');
  return {x: box.x, width: box.width, cols: [...cols].map(c => {
    const b = c.getBoundingClientRect();
    return {x: b.x, y: b.y, width: b.width, share: Number(c.className.match(/kol-(\\d+)-12/)[1]) / 12,
            text: c.innerText.trim()};
  })};
})"""


def assert_columns_side_by_side(page, where):
    """Every grid of the visible slide lays its columns out in one row, each its share wide."""
    grids = page.evaluate(COLUMNS_JS)
    assert grids, f"{where}: no .grid on the visible slide"
    for grid in grids:
        cols = grid["cols"]
        assert len(cols) >= 2, f"{where}: a grid with {len(cols)} columns"
        for c in cols:
            assert abs(c["width"] - c["share"] * grid["width"]) < 0.03 * grid["width"], \
                f"{where}: column {c['text']!r} is {c['width']:.0f} px wide, not {c['share']:.3f} of {grid['width']:.0f}"
        for a, b in zip(cols, cols[1:]):
            assert abs(a["y"] - b["y"]) < 2 and b["x"] >= a["x"] + a["width"] - 1, \
                f"{where}: {b['text']!r} is not beside {a['text']!r}"


# For every slide of the deck, in remark's slide pixels: where its content (what is in the flow)
# ends, and where the first of its citation, footer or the slide's bottom edge begins.
FIT_JS = """() => [...document.querySelectorAll('.remark-slides-area > .remark-slide-container')].map((c, i) => {
  const shown = c.style.display;
  c.style.display = 'block';
  const scaler = c.querySelector('.remark-slide-scaler');
  const content = c.querySelector('.remark-slide-content');
  const s = scaler.getBoundingClientRect(), k = s.height / scaler.offsetHeight;
  const placed = el => ['absolute', 'fixed'].includes(getComputedStyle(el).position);
  let end = s.top, limit = s.bottom;
  for (const el of content.children) {
    const r = el.getBoundingClientRect();
    if (!placed(el) && r.height > 0) end = Math.max(end, r.bottom);
  }
  for (const el of content.querySelectorAll('.citation, .cites, .footer')) {
    const r = el.getBoundingClientRect();
    if (r.height > 0) limit = Math.min(limit, r.top);
  }
  c.style.display = shown;
  return {slide: i + 1, end: Math.round((end - s.top) / k), limit: Math.round((limit - s.top) / k)};
})"""


def assert_slides_fit(page, where):
    """No slide's content runs into its citation, its footer or off the bottom of the slide."""
    over = [f"slide {r['slide']}: content ends at {r['end']} px, its room ends at {r['limit']} px"
            for r in page.evaluate(FIT_JS) if r["end"] > r["limit"] + 1]
    assert not over, f"{where}: slides overflow:\n" + "\n".join(over)


# Font sizes of the visible slide, as fractions of the slide's height (remark scales slides).
SIZES_JS = """() => {
  const slide = document.querySelector('.remark-visible .remark-slide-scaler');
  const height = slide.offsetHeight;
  const size = sel => [...slide.querySelectorAll(sel)].map(e => parseFloat(getComputedStyle(e).fontSize) / height);
  return {body: size('.remark-slide-content > p, .remark-slide-content li'),
          small: size('.citation, .caption, .footer, .credit')};
}"""


def test_sample_deck(browser, built_site, serve):
    ARTIFACTS.mkdir(exist_ok=True)
    base = serve(built_site)
    built = parse_deck((REPO / "slides" / "sample.md").read_text(), "slides/sample.md")
    page, log = open_page(browser, f"{base}/slides/sample/")
    # the parser's view of what remark gets (formulas are placeholders there)
    source = page.evaluate("JSON.parse(document.getElementById('deck-data').textContent).source")
    deck = parse_deck(source, "slides/sample.md")
    assert (deck.count, deck.counted) == (built.count, built.counted)
    math_slide = next(i for i, s in enumerate(deck.slides) if "katex" in s.content or
                      s.content.count('class="deck-math"') >= 3)
    walk_deck(page, deck, shots={0: "sample-first-slide.png", math_slide: "sample-math-slide.png"})
    # columns written as blocks, then columns written one per line
    block = next(i for i, s in enumerate(deck.slides) if ".kol-6-12[\n" in s.content)
    one_line = next(i for i, s in enumerate(deck.slides) if "\n.kol-4-12[.green[Simple]]\n" in s.content)
    for i, name in ((block, "sample-grid-slide.png"), (one_line, "sample-one-line-columns.png")):
        page.evaluate(f"location.hash = '#{i + 1}'")
        page.wait_for_timeout(100)
        page.screenshot(path=str(ARTIFACTS / name))
        assert_columns_side_by_side(page, f"sample slide {i + 1}")
        if i == block:
            img = page.locator(".remark-visible img")
            assert img.evaluate("i => i.complete && i.naturalWidth") > 0
            # readable from the back of the room: body text 26 px of a 681 px slide, small print 15 px
            sizes = page.evaluate(SIZES_JS)
            assert sizes["body"] and min(sizes["body"]) >= 26 / 681 - 1e-3, sizes
            assert sizes["small"] and min(sizes["small"]) >= 15 / 681 - 1e-3, sizes
    assert_slides_fit(page, "slides/sample.md")
    # remark's presenter mode shows the notes
    page.keyboard.press("p")
    assert page.locator(".remark-container.remark-presenter-mode").count() == 1
    page.keyboard.press("p")
    # clone window for the projector
    with page.expect_popup() as popup:
        page.keyboard.press("c")
    clone = popup.value
    clone.wait_for_load_state("networkidle")
    assert clone.locator(".remark-slides-area > .remark-slide-container").count() == deck.count
    clone.close()
    base_host = base.rstrip("/")
    assert not log["errors"], log["errors"]
    assert [u for u in log["requests"] if not u.startswith(base_host + "/")] == []
    page.close()


def test_lecture_page_math(browser, built_site, serve):
    base = serve(built_site)
    page, log = open_page(browser, f"{base}/")
    page.wait_for_selector(".arithmatex .katex")
    assert page.locator(".arithmatex .katex").count() == page.locator(".arithmatex").count()
    assert page.locator(".katex-error").count() == 0
    # instant navigation to the slides outline and back still renders math
    page.evaluate("document.querySelector(\"a.md-nav__link[href$='lecture/slides/sample/']\").click()")
    page.wait_for_url(re.compile(r"/lecture/slides/sample/$"))
    page.go_back()
    page.wait_for_selector(".arithmatex .katex")
    assert not log["errors"], log["errors"]
    assert [u for u in log["requests"] if not u.startswith(base + "/")] == []
    page.close()


def test_seed_deck_in_browser(browser, seed_build, serve):
    built, site = seed_build
    base = serve(site)
    page, log = open_page(browser, f"{base}/slides/seed/")
    source = page.evaluate("JSON.parse(document.getElementById('deck-data').textContent).source")
    deck = parse_deck(source, "slides/seed.md")
    assert (deck.count, deck.counted) == (98, 70)
    walk_deck(page, deck)
    assert page.locator(".remark-slides-area .katex").count() >= 28
    # the softmax slide shows subscripts as subscripts
    assert page.locator(".remark-slides-area .katex-mathml msub").count() > 0
    assert not log["errors"], log["errors"]
    assert [u for u in log["requests"] if not u.startswith(base + "/")] == []
    page.close()
