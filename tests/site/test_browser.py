"""Drive headless Chromium through the built decks and a lecture page."""

import re

import pytest

from conftest import ARTIFACTS, REPO
from deck_parser import parse_deck

pytestmark = [pytest.mark.browser, pytest.mark.site]


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(15000)
    log = {"errors": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and log["errors"].append(m.text))
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("request", lambda r: log["requests"].append(r.url))
    page.goto(url)
    page.wait_for_load_state("networkidle")
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
    grid_slide = next(i for i, s in enumerate(deck.slides) if ".grid[" in s.content)
    page.evaluate(f"location.hash = '#{grid_slide + 1}'")
    page.wait_for_timeout(100)
    page.screenshot(path=str(ARTIFACTS / "sample-grid-slide.png"))
    cols = page.locator(".remark-visible .grid > .kol-6-12")
    assert cols.count() == 2
    a, b = cols.nth(0).bounding_box(), cols.nth(1).bounding_box()
    assert b["x"] > a["x"] + a["width"] * 0.9 and abs(a["y"] - b["y"]) < 5, "grid columns not side by side"
    img = page.locator(".remark-visible img")
    assert img.evaluate("i => i.complete && i.naturalWidth") > 0
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
