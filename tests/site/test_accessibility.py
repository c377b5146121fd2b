"""Accessibility of the built site and its decks: WCAG 2.1 AA, checked by axe-core.

axe-core (npm, through package-lock.json) runs in Chromium on every page of the built site
in both of Material's palettes (light "default" and dark "slate", switched with the palette
control from the keyboard) and on every slide of every deck as the keyboard walks it, then
on remark's presenter, help and clone views. Rules: axe's WCAG 2.0 and 2.1 A and AA tags.
Pages and decks are listed from their sources, so one page can be checked while writing:

    python -m pytest tests/site/test_accessibility.py -k "page and lecture/why"

Where a rule truly does not apply to an element, add ``(rule id, CSS selector, why)`` to
``NOT_APPLICABLE``; never turn a rule off for everything.
"""

from __future__ import annotations

import html.parser
import json
import re
from pathlib import Path

import pytest

from conftest import REPO

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PALETTES = ("default", "slate")

# (axe rule id, CSS selector of the elements it does not apply to, why). Empty: every rule
# applies to every element today.
NOT_APPLICABLE: list[tuple[str, str, str]] = []


# --- what is checked: every page and deck, listed from the sources ----------------------------

def page_urls() -> list[str]:
    """Site-relative URL of every page the build writes (decks' own slide pages apart)."""
    docs = REPO / "docs"
    urls = ["404.html"]
    for md in sorted(docs.rglob("*.md")):
        rel = md.relative_to(docs)
        if rel.parts[0] == "hooks":           # exclude_docs in mkdocs.yml
            continue
        stem = rel.with_suffix("").as_posix()
        urls.append("" if stem == "index" else (stem[:-len("/index")] if stem.endswith("/index") else stem) + "/")
    urls += [f"notebooks/{p.stem}/" for p in sorted((docs / "notebooks").glob("*.py"))]
    urls += [f"lecture/slides/{d}/" for d in deck_names()]   # each deck's outline page
    return urls


def deck_names() -> list[str]:
    return [p.stem for p in sorted((REPO / "slides").glob("*.md"))]


# --- browser helpers ------------------------------------------------------------------------

RUN_AXE = """async ([context, tags, skip]) => {
  const result = await axe.run(context || document, {runOnly: {type: 'tag', values: tags},
                                         resultTypes: ['violations']});
  const exempt = (rule, node) => skip.some(([id, selector]) => {
    const el = id === rule && document.querySelector(node.target[0]);
    return el && el.matches(selector);
  });
  const slideOf = node => {           // in a deck: the number of the slide holding the node
    const el = document.querySelector(node.target[0]);
    const slide = el && el.closest('.remark-slide-container');
    return slide ? [...slide.parentNode.children].indexOf(slide) + 1 : null;
  };
  return result.violations.map(v => ({
    rule: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.filter(n => !exempt(v.id, n)).map(n => ({
      target: n.target.join(' '), html: n.html.replace(/\\s+/g, ' ').slice(0, 160), slide: slideOf(n),
      summary: (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240)}))
  })).filter(v => v.nodes.length);
}"""

# Math rendered, fonts loaded, transitions (palette switch) finished, two frames painted.
SETTLE = """async () => {
  const math = document.querySelectorAll('.arithmatex');
  for (let i = 0; i < 100 && [...math].some(e => !e.querySelector('.katex')); i++) {
    await new Promise(r => setTimeout(r, 50));
  }
  await document.fonts.ready;
  const animations = document.getAnimations().filter(a => a.effect && isFinite(a.effect.getTiming().duration));
  await Promise.race([Promise.all(animations.map(a => a.finished)), new Promise(r => setTimeout(r, 2000))]);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""


@pytest.fixture(scope="session")
def axe_path() -> Path:
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: install the front-end packages with `npm ci` (make setup)")
    return AXE


@pytest.fixture
def new_page(browser, axe_path):
    """``new_page(color_scheme=...)``: a page in a fresh context where axe-core is preloaded."""
    contexts = []

    def make(color_scheme="light"):
        context = browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme=color_scheme)
        context.add_init_script(path=str(axe_path))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()


def axe(page, context: str | None = None) -> list[dict]:
    """axe-core's WCAG A/AA violations in ``context`` (a CSS selector; the whole page if None)."""
    return page.evaluate(RUN_AXE, [context, WCAG_TAGS, [[r, s] for r, s, _ in NOT_APPLICABLE]])


def report(where: str, violations: list[dict]) -> list[str]:
    lines = []
    for v in violations:
        for n in v["nodes"]:
            at = f"{where} slide {n['slide']}" if n["slide"] else where
            lines.append(f"{at}: {v['rule']} ({v['impact']}: {v['help']}) at {n['target']}: "
                         f"{n['summary']} | {n['html']}")
    return lines


def scheme(page) -> str:
    return page.evaluate("document.body.getAttribute('data-md-color-scheme')")


def switch_palette(page) -> str:
    """Toggle Material's palette as a keyboard user does: focus its control, press Enter."""
    before = scheme(page)
    page.focus(f'form[data-md-component="palette"] input[data-md-color-scheme="{before}"]')
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.body.getAttribute('data-md-color-scheme') !== '{before}'")
    page.evaluate(SETTLE)
    return scheme(page)


def math_keeps_mathml(page, root: str) -> list[str]:
    """KaTeX output that screen readers can read: MathML beside the aria-hidden HTML."""
    return page.evaluate("""root => [...document.querySelectorAll(root + ' .katex')]
        .filter(k => !k.querySelector(':scope > .katex-mathml math')
                     || !k.querySelector(':scope > .katex-html[aria-hidden="true"]'))
        .map(k => k.textContent.slice(0, 60))""", root)


# --- pages -----------------------------------------------------------------------------------

@pytest.mark.site
def test_every_built_page_is_listed(built_site):
    """The page list below covers everything the build wrote (so no page escapes the check)."""
    built = {p.relative_to(built_site).parent.as_posix() + "/" for p in built_site.rglob("index.html")}
    built = {"" if u == "./" else u for u in built
             if not u.startswith(("assets/", "slides/"))}        # decks: test_deck
    assert built == set(page_urls()) - {"404.html"}
    assert (built_site / "404.html").is_file()


@pytest.mark.browser
@pytest.mark.site
@pytest.mark.parametrize("url", [pytest.param(u, id=u or "/") for u in page_urls()])
def test_page(url, built_site, serve, new_page):
    """axe-core finds no WCAG A/AA violation on the page, in the light and the dark palette."""
    base = serve(built_site)
    page = new_page(color_scheme="light")
    page.goto(f"{base}/{url}", wait_until="load")
    page.evaluate(SETTLE)
    problems, seen = [], []
    for _ in PALETTES:
        seen.append(scheme(page))
        problems += report(f"/{url} [{seen[-1]}]", axe(page))
        if len(seen) < len(PALETTES):
            switch_palette(page)
    assert sorted(seen) == sorted(PALETTES)
    problems += [f"/{url}: formula without MathML: {t!r}" for t in math_keeps_mathml(page, "")]
    assert not problems, f"{len(problems)} accessibility problems:\n" + "\n".join(problems)


@pytest.mark.browser
@pytest.mark.site
def test_site_keyboard(built_site, serve, new_page):
    """With the keyboard alone: skip to the content, find a page with search and open it,
    and see where the focus is (a visible outline) on the way."""
    base = serve(built_site)
    page = new_page()
    page.goto(f"{base}/lecture/why/", wait_until="load")
    page.evaluate(SETTLE)
    focused = "() => { const e = document.activeElement; const r = e.getBoundingClientRect(); " \
              "const s = getComputedStyle(e); return {tag: e.tagName, text: e.textContent.trim(), " \
              "visible: r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight, " \
              "outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0} }"
    page.keyboard.press("Tab")                                  # first stop: "Skip to content"
    first = page.evaluate(focused)
    assert first["tag"] == "A" and "Skip to content" in first["text"] and first["visible"], first
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#why-self-supervision"
    stops = []
    for _ in range(7):                                          # links in the text show focus
        page.keyboard.press("Tab")
        stops.append(page.evaluate(focused))
    # After a skip link, Chromium may spend one Tab on the document itself (activeElement is
    # <body>, no element has focus), depending on when the theme has handled the new hash: not
    # a stop a reader sees. Every element that does take focus must show it.
    elements = [s for s in stops if s["tag"] != "BODY"]
    assert len(elements) >= 6 and all(s["visible"] and s["outline"] for s in elements), stops
    # The search worker builds its index after the page loads (a few seconds for this site, more
    # on a busy machine), and the theme wires the search field up around it: press "/" once it
    # says it is ready, as a reader would, or the key can reach a field not yet listening.
    page.wait_for_function("() => { const m = document.querySelector('.md-search-result__meta'); "
                           "return m && m.textContent.trim() && !/initiali[sz]ing/i.test(m.textContent) }",
                           timeout=60_000)
    page.keyboard.press("/")                                    # search, then a result, by keys
    # The theme moves the focus and opens the results panel from its handlers, a moment after
    # the key on a busy machine: wait for both (a key that never does it still fails here).
    page.wait_for_function("() => document.activeElement.classList.contains('md-search__input') "
                           "&& document.getElementById('__search').checked", timeout=15_000)
    page.keyboard.type("jigsaw")
    page.wait_for_selector(".md-search-result__link", timeout=60_000)
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.classList.contains('md-search-result__link')")
    # Whichever page ranks first (several pages mention jigsaws), Enter must open it.
    target = page.evaluate("document.activeElement.href").split("#")[0]
    assert target.startswith(base) and target != page.url.split("#")[0], target
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(target) + r"(#.*)?$"))


# --- decks -----------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.site
@pytest.mark.parametrize("deck", deck_names())
def test_deck(deck, built_site, serve, new_page):
    """axe-core on every slide of the deck, the keyboard walk through it, then remark's
    presenter and help views and the clone window, each opened and left with its key."""
    base = serve(built_site)
    page = new_page()
    page.goto(f"{base}/slides/{deck}/", wait_until="load")
    page.wait_for_selector(".remark-visible")
    page.evaluate(SETTLE)
    slides = ".remark-slides-area > .remark-slide-container"
    count = page.locator(slides).count()
    # Every slide at once: remark's print layout shows all slides one below the other, with
    # the screen's colours, fonts and positions (only the scaling differs), so one axe run
    # checks them all. One run per shown slide costs 30 times more: for each run axe maps
    # every element of the page, the hidden slides included.
    page.emulate_media(media="print")
    page.evaluate(SETTLE)
    assert page.evaluate(f"[...document.querySelectorAll('{slides}')].every(s => s.getClientRects().length)")
    problems = report(deck, axe(page))
    problems += [f"{deck}: formula without MathML: {t!r}" for t in math_keeps_mathml(page, ".remark-slides-area")]
    page.emulate_media(media="screen")

    for i in range(count):                                      # the keyboard reaches every slide
        assert page.evaluate("location.hash") == f"#{i + 1}"
        page.keyboard.press("ArrowRight" if i % 2 else "PageDown")
    assert page.evaluate("location.hash") == f"#{count}"

    body = page.locator("body")
    page.keyboard.press("Home")
    page.keyboard.press("p")                                    # presenter: slide, next slide, notes
    assert "remark-presenter-mode" in body.get_attribute("class")
    page.evaluate(SETTLE)
    problems += report(f"{deck} presenter view", axe(page))
    page.keyboard.press("p")
    assert "remark-presenter-mode" not in body.get_attribute("class")
    page.keyboard.press("?")                                    # help: the keyboard shortcuts
    assert "remark-help-mode" in body.get_attribute("class")
    problems += report(f"{deck} help view", axe(page))
    page.keyboard.press("Escape")
    assert "remark-help-mode" not in body.get_attribute("class")

    with page.expect_popup() as popup:                          # clone for the projector: the same
        page.keyboard.press("c")                                # slides and styles, checked above
    clone = popup.value
    clone.wait_for_selector(".remark-visible")
    page.keyboard.press("ArrowRight")                           # the clone follows the keyboard
    clone.wait_for_function("location.hash === '#2'")
    clone.close()                                               # (remark has no key for this:
    page.keyboard.press("ArrowRight")                           #  the window closes as any does)
    assert page.evaluate("location.hash") == "#3"
    assert not problems, f"{len(problems)} accessibility problems:\n" + "\n".join(problems)


# --- text alternatives -----------------------------------------------------------------------

IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp|bmp|tiff?|avif)$", re.I)
PLACEHOLDERS = {"image", "img", "figure", "fig", "picture", "photo", "graph", "chart", "plot",
                "diagram", "screenshot", "placeholder", "alt", "todo",
                "no description has been provided for this image"}   # nbconvert's default


def bad_alt(alt: str | None, src: str) -> str | None:
    """Why ``alt`` is not a text alternative for the image at ``src`` (None when it is one)."""
    if alt is None or not alt.strip():
        return "no alt text"
    text = " ".join(alt.split()).lower()
    stem = Path(src.split("?")[0].split("#")[0]).stem.lower()
    if IMAGE_FILE.search(text) or "/" in text and " " not in text:
        return f"alt text is a file name: {alt!r}"
    if stem and re.sub(r"[-_ ]+", " ", text) == re.sub(r"[-_ ]+", " ", stem):
        return f"alt text is the file's name: {alt!r}"
    if text.rstrip(".") in PLACEHOLDERS:
        return f"alt text says nothing: {alt!r}"
    return None


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[tuple[str | None, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            a = dict(attrs)
            self.images.append((a.get("alt"), a.get("src") or ""))


def html_images(text: str) -> list[tuple[str | None, str]]:
    parser = _Images()
    parser.feed(text)
    return parser.images


MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)")


@pytest.mark.parametrize("alt, src, ok", [
    ("A cat photograph in four rotations", "figures/rotation.png", True),
    ("", "a.png", False), (None, "a.png", False), ("rotation.png", "figures/rotation.png", False),
    ("rotation", "figures/rotation.png", False), ("lecture pipeline", "lecture-pipeline.png", False),
    ("figures/x", "x.png", False), ("Image", "x.png", False),
    ("No description has been provided for this image", "data:image/png;base64,AA", False),
])
def test_bad_alt(alt, src, ok):
    assert (bad_alt(alt, src) is None) == ok


@pytest.mark.site
def test_every_image_has_alt_text(built_site):
    """Every <img> of every built page, and every image of every deck (Markdown or HTML), has
    an alt text that is neither empty, a file name, nor a placeholder."""
    problems, checked = [], 0
    for path in sorted(built_site.rglob("*.html")):
        rel = path.relative_to(built_site).as_posix()
        if rel.startswith("assets/"):
            continue
        text = path.read_text(encoding="utf-8")
        images = html_images(text)
        if rel.startswith("slides/"):                       # a deck: its source is in the page
            source = json.loads(re.search(r'<script[^>]*id="deck-data"[^>]*>(.*?)</script>', text, re.S)
                                .group(1))["source"]
            images += [(alt, src) for alt, src in MD_IMAGE.findall(source)] + html_images(source)
        for n, (alt, src) in enumerate(images, 1):
            checked += 1
            why = bad_alt(alt, src)
            if why:
                where = f"inline image {n}" if src.startswith("data:") else src
                problems.append(f"{rel}: {where}: {why}")
    assert checked > 0
    assert not problems, "\n".join(problems)


@pytest.mark.site
def test_animations_stop_within_five_seconds(built_site):
    """WCAG 2.2.2: an animated image that plays for more than 5 s needs a pause control;
    ours have none, so each must stop by itself within 5 s."""
    from PIL import Image

    for path in sorted(built_site.rglob("*.gif")):
        with Image.open(path) as im:
            durations = []
            for i in range(getattr(im, "n_frames", 1)):
                im.seek(i)
                durations.append(im.info.get("duration", 0))
            loop = im.info.get("loop")   # absent: plays once; 0: for ever; n: n more times
        if len(durations) < 2:
            continue
        plays = 1 if loop is None else (float("inf") if loop == 0 else loop + 1)
        total = sum(durations) * plays
        assert total <= 5000, f"{path.relative_to(built_site)} animates for {total} ms (loop={loop})"


def test_notebook_alt_hook():
    """docs/hooks/notebook_alt.py: a cell's alt="..." reaches its images; an image in a cell
    without one fails with the notebook's file and the cell's line."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebook_alt", REPO / "docs" / "hooks" / "notebook_alt.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    source = '# %% [markdown]\n# Title\n\n# %% alt="A loss curve over 40 steps"\nplt.plot(x)\n\n# %%\nplt.plot(y)\n'
    assert hook.cell_lines(source) == [1, 4, 7]
    cell = '<div class="jp-Cell jp-CodeCell jp-Notebook-cell" id="cell-id={}">'
    page = (cell.format("a") + "<p>Title</p>" + cell.format("b") + f"<img {hook.PLACEHOLDER} src=x>"
            + cell.format("c") + "<pre>no image</pre>")
    metas = [{}, {"alt": 'A loss "curve" over 40 steps'}, {}]
    out = hook.add_alt_texts(page, metas, hook.cell_lines(source), "docs/notebooks/n.py")
    assert 'alt="A loss &quot;curve&quot; over 40 steps"' in out and hook.PLACEHOLDER not in out
    with pytest.raises(ValueError, match=r"docs/notebooks/n\.py:4: this cell draws an image"):
        hook.add_alt_texts(page, [{}, {}, {}], hook.cell_lines(source), "docs/notebooks/n.py")
    with pytest.raises(ValueError, match="3 rendered cells for 2 notebook cells"):
        hook.add_alt_texts(page, [{}, {}], [1, 4], "docs/notebooks/n.py")
