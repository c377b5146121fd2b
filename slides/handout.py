"""PDF handouts of the decks: ``python slides/handout.py SITE_DIR`` (``make pdf``).

For every ``slides/*.md`` deck built into ``SITE_DIR/slides/<deck>/``, open the
presentation in headless Chromium, keep one slide per group (the last ``--`` step of each
counted slide, so incremental builds are collapsed to their final state), and print it to
``SITE_DIR/pdf/<deck>.pdf``: 16:9, one page per counted slide.
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

from deck_parser import parse_deck  # a sibling module: run as a script, or slides/ on the path

HERE = Path(__file__).resolve().parent

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1210, 681    # remark's own 16:9 slide size in CSS pixels: scale 1, one slide per page


def final_steps(deck) -> list[int]:
    """0-based positions of the slides to print: the last slide of each group.

    A group starts at every counted slide (and at the first slide); the slides that follow
    with ``count: false`` (``--`` steps and repeated slides) belong to it.
    """
    keep: list[int] = []
    for i, slide in enumerate(deck.slides):
        if i == 0 or slide.counted:
            keep.append(i)
        else:
            keep[-1] = i
    return keep


LOAD_TIMEOUT_MS = 180_000


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def print_deck(page, base: str, slug: str, out: Path) -> int:
    # Wait for what the PDF needs, not for network silence (which a loaded machine can miss
    # within the default 30 s): the page, remark's slides, then every image decoded.
    page.goto(f"{base}/slides/{slug}/", wait_until="load", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function("document.querySelectorAll('.remark-slide-container').length > 0",
                           timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=LOAD_TIMEOUT_MS)
    source = page.evaluate("JSON.parse(document.getElementById('deck-data').textContent).source")
    deck = parse_deck(source, f"slides/{slug}.md")
    keep = final_steps(deck)
    count = page.evaluate(
        """(keep) => {
            const all = [...document.querySelectorAll('.remark-slides-area > .remark-slide-container')];
            const wanted = new Set(keep);
            all.forEach((c, i) => { if (!wanted.has(i)) c.remove(); });
            return document.querySelectorAll('.remark-slides-area > .remark-slide-container').length;
        }""", keep)
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(300)
    out.parent.mkdir(parents=True, exist_ok=True)
    page.emulate_media(media="print")
    page.add_style_tag(content=f"@page {{ size: {WIDTH}px {HEIGHT}px; margin: 0; }} "
                       f".remark-slide-container {{ width: {WIDTH}px; height: {HEIGHT}px; overflow: hidden; }} "
                       ".remark-slide-scaler { transform: none !important; left: 0 !important; top: 0 !important; }")
    page.pdf(path=str(out), width=f"{WIDTH}px", height=f"{HEIGHT}px", print_background=True,
             margin={"top": "0", "right": "0", "bottom": "0", "left": "0"}, prefer_css_page_size=False)
    return count


def print_all(browser, site: Path) -> list[tuple[Path, int]]:
    """Print every deck built under ``site`` with a Playwright ``browser``; (pdf, pages) per deck."""
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    done = []
    try:
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        for slug in sorted(p.stem for p in HERE.glob("*.md")):
            out = site / "pdf" / f"{slug}.pdf"
            done.append((out, print_deck(page, base, slug, out)))
        page.close()
    finally:
        server.shutdown()
        server.server_close()
    return done


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    site = Path(argv[0] if argv else "site").resolve()
    decks = sorted(p.stem for p in (HERE).glob("*.md"))
    missing = [d for d in decks if not (site / "slides" / d / "index.html").is_file()]
    if missing:
        print(f"not built: {', '.join(missing)} (run `make build` first)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            for out, n in print_all(browser, site):
                print(f"wrote {out}: {n} pages")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
