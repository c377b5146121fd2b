"""Build remark slide decks (``slides/*.md``) into the MkDocs site: the MkDocs hook.

``mkdocs.yml`` lists this file under ``hooks:``. For every ``slides/<deck>.md`` it writes
``site/slides/<deck>/index.html`` (remark + our CSS, every formula rendered by KaTeX at build
time) and an outline page ``lecture/slides/<deck>.md`` that the nav section "Slides" lists.
It imports nothing heavy (no torch, no ``ssl_examples``) so that ``mkdocs serve`` stays quick.

The work is split by concern, one module each:

* ``deck_model.py``: what a parsed deck is; ``DeckError`` (``path:line: message`` lines);
* ``deck_lexer.py``: remark's lexer, finding formulas, undoing marked's escapes;
* ``deck_parser.py``: ``parse_deck(text, path) -> Deck``, as remark 0.14 splits and numbers;
* ``deck_media.py``: the files a deck loads, checked and collected;
* ``deck_math.py``: KaTeX in one node process, cached;
* ``deck_pages.py``: the presentation's HTML and the outline page's Markdown;
* this file: ``build_deck`` (all of the above, in memory), ``write_deck`` (atomic), the
  hook functions and a command line (``python slides/deck_builder.py DECK.md [SITE_DIR]``).
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deck_lexer import placeholder
from deck_math import find_node_modules, render_math
from deck_media import MediaRef, collect_media, remote_host
from deck_model import Deck, DeckError
from deck_pages import deck_html, outline_markdown
from deck_parser import parse_deck

log = logging.getLogger("mkdocs.hooks.deck_builder")

HERE = Path(__file__).resolve().parent


@dataclass
class BuiltDeck:
    deck: Deck
    slug: str
    html: str                       # slides/<slug>/index.html
    outline: str                    # Markdown of the outline page
    files: dict[str, Path]          # media to copy: relative path inside slides/<slug>/ -> source file
    math: list[dict]                # KaTeX results, in formula order
    remote: list[MediaRef] = field(default_factory=list)   # outside media (the deck opted in)


def build_deck(deck_path: Path, *, label: str | None = None, node_modules: Path | None = None,
               cache_file: Path | None = None, page_to_deck: str = "../../slides") -> BuiltDeck:
    """Parse, validate and render one deck in memory. Raises ``DeckError``."""
    deck_path = Path(deck_path)
    label = label or f"slides/{deck_path.name}"
    text = deck_path.read_text(encoding="utf-8")
    deck = parse_deck(text, label)
    problems = list(deck.errors)

    media = collect_media(deck, deck_path, label)
    problems += media.problems

    results = render_math([(f.tex, f.display) for f in deck.formulas],
                          node_modules=node_modules, cache_file=cache_file) if deck.formulas else []
    for f, res in zip(deck.formulas, results):
        if "error" in res:
            problems.append((label, f.line, res["error"]))
    if problems:
        problems.sort(key=lambda p: p[1])
        raise DeckError(problems)

    # Source for remark: each formula becomes an empty placeholder element.
    parts, last = [], 0
    for f in deck.formulas:
        parts.append(deck.text[last:f.start])
        parts.append(placeholder(f.index))
        last = f.end
    parts.append(deck.text[last:])
    source = "".join(parts)

    slug = deck_path.stem
    html_text = deck_html(deck, source, [r["html"] for r in results], "../../assets")
    # The outline is made from what remark gets (formulas are placeholders there).
    outline = outline_markdown(parse_deck(source, label), slug, f"{page_to_deck}/{slug}/index.html",
                               formulas=[f.tex for f in deck.formulas], remote=media.remote)
    return BuiltDeck(deck=deck, slug=slug, html=html_text, outline=outline, files=media.files,
                     math=results, remote=media.remote)


def asset_files(node_modules: Path) -> dict[str, Path]:
    """Site path -> source file, for everything the decks and pages load."""
    out: dict[str, Path] = {}
    dist = node_modules / "katex" / "dist"
    for name in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js"):
        out[f"assets/katex/{name}"] = dist / name
    for font in sorted((dist / "fonts").iterdir()):
        out[f"assets/katex/fonts/{font.name}"] = font
    out["assets/remark/remark.min.js"] = node_modules / "remark-slide" / "out" / "remark.min.js"
    out["assets/slides/deck.css"] = HERE / "deck.css"
    out["assets/slides/deck.js"] = HERE / "deck.js"
    return out


def write_deck(built: BuiltDeck, site_dir: Path, *, node_modules: Path | None = None) -> Path:
    """Write ``slides/<slug>/`` (and shared assets) under ``site_dir`` atomically."""
    site_dir = Path(site_dir)
    final = site_dir / "slides" / built.slug
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{built.slug}-", dir=final.parent))
    try:
        (tmp / "index.html").write_text(built.html, encoding="utf-8")
        for rel, src in built.files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tmp / rel)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for rel, src in asset_files(node_modules or find_node_modules()).items():
        dest = site_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    return final


# --------------------------------------------------------------------------
# MkDocs hook
# --------------------------------------------------------------------------

DECK_PAGES_DIR = "lecture/slides"   # outline pages: lecture/slides/<deck>.md
NAV_SECTION = "Slides"


def _project_dir(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def _deck_sources(config) -> list[Path]:
    return sorted((_project_dir(config) / "slides").glob("*.md"))


def on_files(files, config, **kwargs):
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File, InclusionLevel

    project = _project_dir(config)
    try:
        node_modules = find_node_modules(project)
    except RuntimeError as exc:
        raise PluginError(str(exc)) from exc
    cache_file = project / ".cache" / "slides" / "katex.json"

    def add(src_uri, **kw):
        existing = files.get_file_from_path(src_uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, src_uri, **kw))

    for rel, src in asset_files(node_modules).items():
        add(rel, abs_src_path=str(src))

    problems = []
    for path in _deck_sources(config):
        label = path.relative_to(project).as_posix()
        try:
            built = build_deck(path, label=label, node_modules=node_modules, cache_file=cache_file,
                               page_to_deck="../../slides")
        except DeckError as exc:
            problems.append(str(exc))
            continue
        except RuntimeError as exc:
            raise PluginError(f"{label}: {exc}") from exc
        add(f"slides/{built.slug}/index.html", content=built.html)
        for rel, src in built.files.items():
            add(f"slides/{built.slug}/{rel}", abs_src_path=str(src))
        # Not in the nav config: on_nav puts it into the "Slides" section.
        add(f"{DECK_PAGES_DIR}/{built.slug}.md", content=built.outline, inclusion=InclusionLevel.NOT_IN_NAV)
        log.info("deck %s: %d slides (%d counted), %d formulas",
                 label, built.deck.count, built.deck.counted, len(built.deck.formulas))
        if built.remote:
            log.info("deck %s loads media from other sites (allow-remote-media: true): %s",
                     label, ", ".join(sorted({remote_host(m.ref) for m in built.remote})))
    if problems:
        for p in problems:
            for line in p.splitlines():
                log.error(line)
        raise PluginError("\n".join(problems))
    return files


def on_nav(nav, config, files, **kwargs):
    """Put every deck's outline page into the nav section "Slides" (unless listed already)."""
    from mkdocs.structure.nav import Section
    from mkdocs.structure.pages import Page

    def walk(items):
        for item in items:
            yield item
            if isinstance(item, Section):
                yield from walk(item.children)

    listed = {item.file.src_uri for item in walk(nav.items) if isinstance(item, Page)}
    section = next((i for i in walk(nav.items) if isinstance(i, Section) and i.title == NAV_SECTION), None)
    added = []
    for path in _deck_sources(config):
        f = files.get_file_from_path(f"{DECK_PAGES_DIR}/{path.stem}.md")
        if f is None or f.src_uri in listed:
            continue
        page = f.page or Page(None, f, config)
        added.append(page)
    if not added:
        return nav
    if section is None:
        section = Section(NAV_SECTION, [])
        nav.items.append(section)
    for page in added:
        page.parent = section
        section.children.append(page)
    nav.pages = [i for i in walk(nav.items) if isinstance(i, Page)]
    for prev, nxt in zip([None, *nav.pages[:-1]], nav.pages):
        nxt.previous_page = prev
        if prev is not None:
            prev.next_page = nxt
    if nav.pages:
        nav.pages[-1].next_page = None
    return nav


def on_serve(server, config, builder, **kwargs):
    server.watch(str(_project_dir(config) / "slides"))
    return server


# --------------------------------------------------------------------------
# Command line: python slides/deck_builder.py DECK.md [SITE_DIR]
# --------------------------------------------------------------------------

def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("deck", type=Path)
    ap.add_argument("site_dir", type=Path, nargs="?")
    args = ap.parse_args(argv)
    if not args.deck.is_file():
        print(f"{args.deck}: no such deck", file=sys.stderr)
        return 2
    try:
        built = build_deck(args.deck)
    except DeckError as exc:          # one `file:line: message` line per problem
        print(exc, file=sys.stderr)
        return 2
    except RuntimeError as exc:       # no node, no node_modules/katex
        print(f"{args.deck}: {exc}", file=sys.stderr)
        return 2
    d = built.deck
    print(f"{d.path}: {d.count} slides, {d.counted} counted, {len(d.formulas)} formulas")
    if built.remote:
        print(f"loads media from other sites: {', '.join(sorted({remote_host(m.ref) for m in built.remote}))}")
    if args.site_dir:
        print(write_deck(built, args.site_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
