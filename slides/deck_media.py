"""The files a deck loads (images, and video or audio files), checked and collected for the build.

Every file a deck names must be a relative path inside its ``slides/`` folder (or a figure
that ``python -m ssl_examples figures`` writes to ``docs/figures/``): the site works offline
and loads nothing from another host.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from deck_lexer import LineIndex, code_ranges, mask_formulas
from deck_model import Deck

_IMG_PATTERNS = [
    re.compile(r"!\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)"),
    re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I),
    re.compile(r"<(?:source|video|audio)\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I),
]
_URL_IN_CSS = re.compile(r"url\(\s*[\"']?([^\"')]+)[\"']?\s*\)")


def find_images(deck: Deck) -> list[tuple[str, int]]:
    """Every image reference (path, line) in slide text, notes and background-image."""
    found: list[tuple[str, int]] = []
    masked = mask_formulas(deck.text, deck.formulas)
    code = code_ranges(masked)
    lines = LineIndex(masked)
    for pat in _IMG_PATTERNS:
        for m in pat.finditer(masked):
            if any(a <= m.start() < b for a, b in code):
                continue
            found.append((m.group(1), lines.line(m.start(1))))
    for raw in deck.raw + deck.layouts:
        value = raw.properties.get("background-image")
        if value:
            for m in _URL_IN_CSS.finditer(value):
                found.append((m.group(1), raw.property_lines.get("background-image", raw.line)))
    # remove duplicates, keep first line
    seen, out = set(), []
    for ref, line in sorted(found, key=lambda x: x[1]):
        if ref not in seen:
            seen.add(ref)
            out.append((ref, line))
    return out


def is_external(ref: str) -> bool:
    return bool(re.match(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)", ref))


def collect_images(deck: Deck, deck_path: Path, label: str) -> tuple[dict[str, Path], list[tuple[str, int, str]]]:
    """The files to copy next to the deck (relative path -> source) and the problems found."""
    problems: list[tuple[str, int, str]] = []
    images: dict[str, Path] = {}
    base = deck_path.parent.resolve()
    for ref, line in find_images(deck):
        if is_external(ref):
            if not ref.startswith("data:"):
                problems.append((label, line, f"image `{ref}` is outside the site: put it next to the deck"))
            continue
        rel = urllib.parse.unquote(ref.split("#")[0].split("?")[0])
        target = (base / rel).resolve()
        generated = (base.parent / "docs" / rel).resolve()
        if (rel.startswith("figures/") and not target.is_file() and generated.is_file()
                and (base.parent / "docs" / "figures").resolve() in generated.parents):
            # figures/NAME.png: made by `python -m ssl_examples figures` into docs/figures/ (not
            # committed); copied next to the deck like any image.
            images[rel] = generated
        elif rel.startswith("/") or base not in target.parents:
            problems.append((label, line, f"image `{ref}` must be a relative path inside {base.name}/"))
        elif not target.is_file():
            hint = " (run `python -m ssl_examples figures`)" if rel.startswith("figures/") else ""
            problems.append((label, line, f"image `{ref}` not found (looked for {target.relative_to(base.parent)}){hint}"))
        else:
            images[target.relative_to(base).as_posix()] = target
    return images, problems
