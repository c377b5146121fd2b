"""The files a deck loads (images, video, audio, frames, ...), checked and collected for the build.

Every file a deck names must be a relative path inside its ``slides/`` folder (or a figure
that ``python -m ssl_examples figures`` writes to ``docs/figures/``): the site works offline
and loads nothing from another host. A deck brought from elsewhere may opt out with the deck
option ``allow-remote-media: true`` on its first slide; its https:// media then load from
their hosts, and its outline page names those hosts.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from deck_lexer import LineIndex, code_ranges, mask_formulas
from deck_model import Deck

OPT_IN = "allow-remote-media: true"
WHERE_DOCUMENTED = "docs/contributing.md, \"Writing a deck\""


@dataclass
class MediaRef:
    ref: str     # the address as written
    line: int
    kind: str    # what loads it, for messages: "image", "video", "audio", "iframe", ...


_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
_TAG = re.compile(r"<(/?)(img|video|audio|source|track|picture|iframe|embed|object|link|input)\b([^>]*)>", re.I)
_ATTR = re.compile(r"([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+))")
_STYLE_ATTR = re.compile(r"\bstyle\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.I)
_URL_IN_CSS = re.compile(r"url\(\s*[\"']?([^\"')]+)[\"']?\s*\)")

# Which attribute of which element loads something, and what to call it.
_LOADS = {
    "img": {"src": "image", "srcset": "image"},
    "video": {"src": "video", "poster": "video poster"},
    "audio": {"src": "audio"},
    "track": {"src": "text track"},
    "iframe": {"src": "iframe"},
    "embed": {"src": "embed"},
    "object": {"data": "object"},
    "link": {"href": "link"},
    "input": {"src": "image"},
}
# A <source> is what its parent plays: <video>, <audio> or <picture>.
_SOURCE_KIND = {"video": "video", "audio": "audio", "picture": "image"}


def _urls(attr: str, value: str) -> list[str]:
    if attr == "srcset":   # "a.png 1x, b.png 2x"
        return [part.split()[0] for part in value.split(",") if part.strip()]
    return [value.strip()] if value.strip() else []


def find_media(deck: Deck) -> list[MediaRef]:
    """Every address the deck loads, with its line and kind, outside code and math; first use only."""
    found: list[tuple[str, int, str]] = []
    masked = mask_formulas(deck.text, deck.formulas)
    code = code_ranges(masked)
    lines = LineIndex(masked)

    def in_code(pos):
        return any(a <= pos < b for a, b in code)

    for m in _MD_IMAGE.finditer(masked):
        if not in_code(m.start()):
            found.append((m.group(1), lines.line(m.start(1)), "image"))
    parents: list[str] = []   # open <video>/<audio>/<picture> elements
    for m in _TAG.finditer(masked):
        if in_code(m.start()):
            continue
        closing, tag, attrs = m.group(1), m.group(2).lower(), m.group(3)
        if tag in _SOURCE_KIND:
            if closing:
                if tag in parents:
                    del parents[len(parents) - 1 - parents[::-1].index(tag)]
                continue
            if not attrs.rstrip().endswith("/"):
                parents.append(tag)
        if closing:
            continue
        wanted = _LOADS.get(tag, {})
        if tag == "source":
            kind = _SOURCE_KIND.get(parents[-1], "media") if parents else "media"
            wanted = {"src": kind, "srcset": kind}
        if tag == "link" and "stylesheet" in attrs.lower():
            wanted = {"href": "stylesheet"}
        for a in _ATTR.finditer(attrs):
            name = a.group(1).lower()
            if name in wanted:
                value = next(v for v in a.groups()[1:] if v is not None)
                for url in _urls(name, value):
                    found.append((url, lines.line(m.start(3) + a.start()), wanted[name]))
    for m in _STYLE_ATTR.finditer(masked):
        if not in_code(m.start()):
            for u in _URL_IN_CSS.finditer(m.group(1) or m.group(2) or ""):
                found.append((u.group(1), lines.line(m.start()), "image"))
    for raw in deck.raw + deck.layouts:
        value = raw.properties.get("background-image")
        if value:
            for u in _URL_IN_CSS.finditer(value):
                found.append((u.group(1), raw.property_lines.get("background-image", raw.line), "background image"))
    seen, out = set(), []
    for ref, line, kind in sorted(found, key=lambda x: x[1]):
        if ref not in seen:
            seen.add(ref)
            out.append(MediaRef(ref, line, kind))
    return out


def find_images(deck: Deck) -> list[tuple[str, int]]:
    """``(address, line)`` of every image the deck shows (slides, notes, backgrounds)."""
    return [(m.ref, m.line) for m in find_media(deck) if m.kind in ("image", "background image", "video poster")]


def is_external(ref: str) -> bool:
    return bool(re.match(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)", ref))


def remote_host(ref: str) -> str:
    return urllib.parse.urlsplit(ref if not ref.startswith("//") else "https:" + ref).hostname or ref


@dataclass
class DeckMedia:
    files: dict[str, Path]       # relative path inside slides/<deck>/ -> source file to copy
    remote: list[MediaRef]       # outside addresses the deck may load (it opted in)
    problems: list[tuple[str, int, str]]


def collect_media(deck: Deck, deck_path: Path, label: str) -> DeckMedia:
    """Check every address the deck loads; the files to copy next to it and the problems found."""
    out = DeckMedia({}, [], [])
    base = deck_path.parent.resolve()
    for media in find_media(deck):
        ref, line, kind = media.ref, media.line, media.kind
        if is_external(ref):
            if ref.startswith("data:"):
                continue
            if not deck.allow_remote_media:
                out.problems.append((label, line, f"{kind} `{ref}` is outside the site: put the file next to the "
                                                  f"deck, or let this deck load outside media with `{OPT_IN}` "
                                                  f"on its first slide ({WHERE_DOCUMENTED})"))
            elif not (ref.startswith("//") or ref.lower().startswith("https://")):
                out.problems.append((label, line, f"{kind} `{ref}`: with `{OPT_IN}` outside media load over "
                                                  "https:// only (the site is served over https)"))
            else:
                out.remote.append(media)
            continue
        rel = urllib.parse.unquote(ref.split("#")[0].split("?")[0])
        target = (base / rel).resolve()
        generated = (base.parent / "docs" / rel).resolve()
        if (rel.startswith("figures/") and not target.is_file() and generated.is_file()
                and (base.parent / "docs" / "figures").resolve() in generated.parents):
            # figures/NAME.png: made by `python -m ssl_examples figures` into docs/figures/ (not
            # committed); copied next to the deck like any image.
            out.files[rel] = generated
        elif rel.startswith("/") or base not in target.parents:
            out.problems.append((label, line, f"{kind} `{ref}` must be a relative path inside {base.name}/"))
        elif not target.is_file():
            hint = " (run `python -m ssl_examples figures`)" if rel.startswith("figures/") else ""
            out.problems.append((label, line, f"{kind} `{ref}` not found "
                                              f"(looked for {target.relative_to(base.parent)}){hint}"))
        else:
            out.files[target.relative_to(base).as_posix()] = target
    return out
