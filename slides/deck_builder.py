"""Build remark slide decks (``slides/*.md``) into the MkDocs site.

This file is both a small library and an MkDocs hook (listed under ``hooks:``
in ``mkdocs.yml``).  It deliberately imports nothing heavy (no torch, no
``ssl_examples``) so that ``mkdocs serve`` stays quick.

Library API (used by the tests):

* ``parse_deck(text, path) -> Deck``: split and interpret a deck exactly as
  remark 0.14 does (same lexer rules, properties, layouts, templates,
  incremental ``--`` steps, ``count: false`` numbering) and collect the
  validation errors that do not need the file system or KaTeX.
* ``unescape_markdown(tex)``: undo the backslash escapes of marked 0.3.
* ``build_deck(deck_path, label=...) -> BuiltDeck``: parse, check images,
  render every formula with KaTeX (one node process) and produce the HTML of
  the presentation and the Markdown of its outline page, all in memory.
* ``write_deck(built, out_dir)``: write a built deck into a folder, via a
  temporary folder that is renamed into place (nothing half-written).

Errors are raised as ``DeckError`` whose message has one line per problem,
formatted ``slides/<deck>.md:LINE: message``.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.deck_builder")

HERE = Path(__file__).resolve().parent

# Properties remark itself understands (remark 0.14: parser, slideshow model
# and slide view).  Any other property is only meaningful as a template
# variable ``{{ name }}``; one that is not used that way is reported.
KNOWN_PROPERTIES = {
    "name", "class", "layout", "template", "count", "exclude", "continued",
    "background-image", "background-color", "background-size", "background-position",
}

# Characters marked 0.3 un-escapes after a backslash (its inline ``escape`` rule).
MARKDOWN_ESCAPABLE = set("\\`*{}[]()#+-.!_>")


class DeckError(Exception):
    """A deck source problem; ``str()`` gives ``path:line: message`` lines."""

    def __init__(self, problems: list[tuple[str, int, str]]):
        self.problems = list(problems)
        super().__init__("\n".join(f"{p}:{line}: {msg}" for p, line, msg in self.problems))


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------

@dataclass
class ContentClass:
    classes: list[str]
    line: int
    block: bool


@dataclass
class Formula:
    index: int
    tex: str          # after un-escaping, what KaTeX gets
    source: str       # the text between the delimiters, as written
    display: bool
    line: int
    start: int        # offsets of the whole ``$...$`` in the source
    end: int
    in_notes: bool = False


@dataclass
class RawSlide:
    """One chunk between separators, before templates are applied."""

    line: int
    start: int
    end: int
    continued: bool
    content: str = ""
    notes: str | None = None
    properties: dict = field(default_factory=dict)
    property_lines: dict = field(default_factory=dict)
    classes: list[ContentClass] = field(default_factory=list)


@dataclass
class Slide:
    index: int             # 1-based position in remark's list (the URL hash ``#index``)
    number: int            # the number remark shows (count: false slides repeat the last)
    counted: bool
    line: int
    properties: dict       # after inheritance, as remark sees them
    own_properties: dict
    content: str           # after inheritance (layout/template/previous step)
    own_content: str
    body: str              # content without what came from a layout
    notes: str
    step: int              # 0, or k for the k-th ``--`` continuation
    name: str | None = None


@dataclass
class Deck:
    path: str
    text: str
    slides: list[Slide]
    layouts: list[RawSlide]
    raw: list[RawSlide]
    formulas: list[Formula]
    errors: list[tuple[str, int, str]]

    @property
    def count(self) -> int:
        return len(self.slides)

    @property
    def counted(self) -> int:
        return sum(1 for s in self.slides if s.counted)

    @property
    def total(self) -> int:
        """The ``%total%`` remark shows: the number of the last slide."""
        return self.slides[-1].number if self.slides else 0

    @property
    def title(self) -> str:
        for want in ("# ", None):
            for slide in self.slides[:3] if want else self.slides:
                for line in slide.body.splitlines():
                    s = line.strip()
                    if s.startswith("#") and (want is None or s.startswith(want)):
                        t = plain_text(s.lstrip("#"))
                        if t:
                            return t
        return Path(self.path).stem.replace("-", " ").capitalize()

    def used_classes(self) -> set[str]:
        out: set[str] = set()
        for raw in self.raw:
            for cc in raw.classes:
                out.update(cc.classes)
            for c in raw.properties.get("class", "").split(","):
                if c.strip():
                    out.add(c.strip())
        return out


# --------------------------------------------------------------------------
# remark's lexer, transcribed (src/remark/lexer.js), with source offsets
# --------------------------------------------------------------------------

_CODE = r"(?:^|\n)( {4}[^\n]+\n*)+"
_INLINE_CODE = r"`([^`]+?)`"
_CONTENT = r"(?:\\)?((?:\.[a-zA-Z_\-][a-zA-Z\-_0-9]*)+)\["
_FENCES = r"(?:^|\n) *(`{3,}|~{3,}) *(?:\S+)? *\n(?:[\s\S]+?)\s*\4 *(?:\n+|\Z)"
_DEF = r"(?:^|\n) *\[([^\]]+)\]: *<?([^\s>]+)>?(?: +[\"(]([^\n]+)[\")])? *(?:\n+|\Z)"
_MACRO = r"!\[:([^\] ]+)([^\]]*)\](?:\(([^\)]*)\))?"
_SEPARATOR = r"(?:^|\n)(---?)(?:\n|\Z)"
_NOTES = r"(?:^|\n)(\?{3})(?:\n|\Z)"
BLOCK_RE = re.compile("|".join([_CODE, _INLINE_CODE, _CONTENT, _FENCES, _DEF, _MACRO, _SEPARATOR, _NOTES]))
INLINE_RE = re.compile("|".join([_CODE, _INLINE_CODE, _CONTENT, _FENCES, _DEF, _MACRO]))
_SEP_INSIDE = re.compile(r"(?:^|\n)(---?)(?:\n|\Z)")


@dataclass
class Token:
    type: str
    start: int
    end: int
    text: str = ""
    classes: list[str] | None = None
    block: bool = False


def _text_in_brackets(src: str, offset: int) -> str | None:
    depth, pos = 1, offset
    while depth > 0 and pos < len(src):
        ch = src[pos]
        pos += 1
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
    if depth == 0:
        return src[offset:pos - 1]
    return None


def _lex(src: str, regex, base: int, tokens: list[Token], problems: list[tuple[int, str]]):
    while True:
        m = regex.search(src)
        if m is None:
            break
        if m.start() > 0:
            tokens.append(Token("text", base, base + m.start(), src[:m.start()]))
        g = m.groups()
        at = base + m.start()
        consumed = m.end()
        end = base + m.end()
        if g[0]:
            tokens.append(Token("code", at, end, m.group(0)))
        elif g[1]:
            tokens.append(Token("text", at, end, m.group(0)))          # inline code, kept as text
        elif g[3]:
            tokens.append(Token("fences", at, end, m.group(0)))
        elif g[4]:
            tokens.append(Token("def", at, end, m.group(0)))
        elif g[7]:
            tokens.append(Token("macro", at, end, m.group(0)))
        elif len(g) > 10 and g[10]:
            tokens.append(Token("separator", at, end, g[10]))
        elif len(g) > 11 and g[11]:
            tokens.append(Token("notes_separator", at, end, g[11]))
        elif g[2]:
            inner_start = m.end()
            text = _text_in_brackets(src, inner_start)
            if text is not None:
                consumed = inner_start + len(text) + 1
                if m.group(0)[0] != "\\":
                    block = "\n" in text
                    tokens.append(Token("content_start", at, base + inner_start, classes=g[2][1:].split("."),
                                        block=block))
                    if regex is BLOCK_RE:
                        sep = _SEP_INSIDE.search(text)
                        if sep:
                            problems.append((at, f"`{g[2]}[` is not closed before the slide separator "
                                                 f"`{sep.group(1)}` (a `]` is missing in this slide)"))
                    _lex(text, INLINE_RE, base + inner_start, tokens, problems)
                    close = base + inner_start + len(text)
                    tokens.append(Token("content_end", close, close + 1, block=block))
                else:
                    tokens.append(Token("text", at, base + consumed, m.group(0)[1:] + text + "]"))
            else:
                problems.append((at, f"unbalanced `{g[2]}[`: no matching `]`"))
                tokens.append(Token("text", at, end, m.group(0)))
        base += consumed
        src = src[consumed:]
    if src or not tokens:
        tokens.append(Token("text", base, base + len(src), src))
    return tokens


def _clean_input(src: str) -> str:
    widths = [len(m.group(1)) for m in re.finditer(r"^([ \t]*)[^ \t\n]", src, re.M)]
    if not widths or min(widths) == 0:
        return src
    return re.sub(r"^[ \t]{0,%d}" % min(widths), "", src, flags=re.M)


# --------------------------------------------------------------------------
# Math: finding formulas, marked's escapes
# --------------------------------------------------------------------------

def unescape_markdown(tex: str) -> str:
    """Undo backslash escapes the way marked 0.3's inline lexer does."""
    out, i = [], 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\" and i + 1 < len(tex) and tex[i + 1] in MARKDOWN_ESCAPABLE:
            out.append(tex[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    s = "".join(out)
    # marked passes well-formed HTML entities through and the browser decodes them.
    return re.sub(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);", lambda m: html.unescape(m.group(0)), s)


def _code_ranges(text: str) -> list[tuple[int, int]]:
    """Fenced code blocks and inline code spans: no math in there."""
    ranges = []
    for m in re.finditer(r"(?m)^ *(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^ *\1 *$|\Z)", text):
        ranges.append((m.start(), m.end()))

    def inside(pos):
        return any(a <= pos < b for a, b in ranges)

    spans = []
    for m in re.finditer(r"(`+)([\s\S]*?[^`])\1(?!`)", text):
        if not inside(m.start()) and "\n\n" not in m.group(0):
            spans.append((m.start(), m.end()))
    return sorted(ranges + spans)


def find_formulas(text: str) -> list[Formula]:
    code = _code_ranges(text)
    formulas: list[Formula] = []
    i, ci, n = 0, 0, len(text)
    while i < n:
        while ci < len(code) and code[ci][1] <= i:
            ci += 1
        if ci < len(code) and code[ci][0] <= i:
            i = code[ci][1]
            continue
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch != "$":
            i += 1
            continue
        display = text.startswith("$$", i)
        delim = "$$" if display else "$"
        j = i + len(delim)
        end = None
        while j < n:
            if text[j] == "\\":
                j += 2
                continue
            if text.startswith(delim, j):
                end = j
                break
            if not display and text[j] == "$":
                break
            if text.startswith("\n\n", j) or re.match(r"\n---?(?:\n|$)", text[j:j + 5]):
                break  # math never runs across a paragraph or a slide
            j += 1
        if end is None or end == i + len(delim):
            i += len(delim)
            continue
        inner = text[i + len(delim):end]
        formulas.append(Formula(len(formulas), unescape_markdown(inner).strip() if display else unescape_markdown(inner),
                                inner, display, text.count("\n", 0, i) + 1, i, end + len(delim)))
        i = end + len(delim)
    return formulas


def placeholder(index: int) -> str:
    """What a formula becomes in the source handed to remark.

    An empty inline HTML element: remark's lexer finds nothing in it, and
    marked 0.3 copies inline tags verbatim, so it survives untouched; deck.js
    then fills it with the KaTeX HTML rendered at build time.
    """
    return f'<span class="deck-math" data-math="{index}"></span>'


def _mask(text: str, formulas: list[Formula]) -> str:
    """Replace formula text by neutral characters (same length, same lines)."""
    if not formulas:
        return text
    parts, last = [], 0
    for f in formulas:
        parts.append(text[last:f.start])
        parts.append(re.sub(r"[^\n]", "x", text[f.start:f.end]))
        last = f.end
    parts.append(text[last:])
    return "".join(parts)


# --------------------------------------------------------------------------
# Parsing a deck like remark
# --------------------------------------------------------------------------

_PROPERTY_RE = re.compile(r"^\n*([-\w]+):([^$\n]*)|\n*(?:<!--\s*)([-\w]+):([^$\n]*?)(?:\s*-->)", re.I)


class _LineIndex:
    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        import bisect
        return bisect.bisect_right(self.starts, offset)


def _extract_properties(pieces: list[tuple[str, int]], raw: RawSlide, lines: _LineIndex):
    """remark's extractProperties on the slide's first text chunk."""
    source = "".join(t for t, _ in pieces)
    where: list[int] = []
    for t, start in pieces:
        where.extend(range(start, start + len(t)))
    while True:
        m = _PROPERTY_RE.search(source)
        if m is None:
            break
        if m.group(1) is not None:
            key, value, key_at = m.group(1).strip(), m.group(2).strip(), m.start(1)
        else:
            key, value, key_at = m.group(3).strip(), m.group(4).strip(), m.start(3)
        raw.properties[key] = value
        raw.property_lines[key] = lines.line(where[key_at]) if key_at < len(where) else raw.line
        source = source[:m.start()] + source[m.end():]
        where = where[:m.start()] + where[m.end():]
    return source


def parse_deck(text: str, path: str = "slides/deck.md") -> Deck:
    """Parse a remark deck. Never raises for content problems: see ``Deck.errors``."""
    text = text.replace("\r\n", "\n")
    problems: list[tuple[int, str]] = []   # (offset or -line, message)
    formulas = find_formulas(text)
    masked = _mask(text, formulas)
    cleaned = _clean_input(masked)
    if cleaned != masked:  # a uniformly indented deck: offsets no longer map; use it as a whole
        text = _clean_input(text)
        formulas = find_formulas(text)
        masked = _mask(text, formulas)
    lines = _LineIndex(text)
    tokens = _lex(masked, BLOCK_RE, 0, [], problems)

    # Merge adjacent text tokens, as remark does.
    merged: list[Token] = []
    for tok in tokens:
        if tok.type == "text" and merged and merged[-1].type == "text":
            merged[-1].text += tok.text
            merged[-1].end = tok.end
        else:
            merged.append(tok)

    raws: list[RawSlide] = []
    notes_at: list[int | None] = []

    def new_slide(start, continued):
        return RawSlide(line=lines.line(start), start=start, end=start, continued=continued)

    cur = new_slide(0, False)
    first_chunk: list[tuple[str, int]] = []
    first_done = False
    content_parts: list[str] = []
    notes_parts: list[str] | None = None
    notes_start: int | None = None

    def finish(end):
        cur.end = end
        rest = _extract_properties(first_chunk, cur, lines) if first_chunk else ""
        cur.content = rest + "".join(content_parts)
        cur.notes = "".join(notes_parts) if notes_parts is not None else None
        raws.append(cur)
        notes_at.append(notes_start)

    for tok in merged:
        src = text[tok.start:tok.end]
        if tok.type in ("text", "code", "fences"):
            if notes_parts is not None:
                notes_parts.append(src)
            elif not first_done:
                first_chunk.append((src, tok.start))
            else:
                content_parts.append(src)
        elif tok.type in ("content_start", "content_end"):
            if tok.type == "content_start":
                cur.classes.append(ContentClass(tok.classes, lines.line(tok.start), tok.block))
            if notes_parts is not None:
                notes_parts.append(src)
            else:
                first_done = True
                content_parts.append(src)
        elif tok.type == "separator":
            finish(tok.start)
            cur = new_slide(tok.end, tok.text == "--")
            first_chunk, first_done, content_parts, notes_parts, notes_start = [], False, [], None, None
        elif tok.type == "notes_separator":
            notes_parts = []
            notes_start = tok.start
        # def / macro tokens are not part of the content
    finish(len(text))

    for f in formulas:
        for raw, nat in zip(raws, notes_at):
            if nat is not None and nat <= f.start < raw.end:
                f.in_notes = True

    path_problems: list[tuple[str, int, str]] = [(path, lines.line(at), msg) for at, msg in problems]

    # remark drops ``exclude: true`` slides before anything else.
    raws = [r for r in raws if r.properties.get("exclude", "").lower() != "true"]

    # Which template variables are used anywhere (``{{ name }}``)?
    variables = {m.group(1).strip() for m in re.finditer(r"(?<!\\)\{\{([^}\n]+)\}\}", text)}
    for raw in raws:
        for key, line in raw.property_lines.items():
            if key not in KNOWN_PROPERTIES and key not in variables:
                path_problems.append((path, line, f"unknown slide property `{key}` "
                                                  f"(remark knows: {', '.join(sorted(KNOWN_PROPERTIES - {'continued'}))})"))
        lay = raw.properties.get("layout")
        if lay is not None and lay not in ("true", "false"):
            path_problems.append((path, raw.property_lines["layout"], f"`layout: {lay}`: must be true or false"))
        cnt = raw.properties.get("count")
        if cnt is not None and cnt not in ("true", "false"):
            path_problems.append((path, raw.property_lines["count"], f"`count: {cnt}`: must be true or false"))

    # remark's createSlides + Slide inheritance.
    slides: list[Slide] = []
    by_name: dict[str, Slide | RawSlide] = {}
    layout_slide = None
    layouts: list[RawSlide] = []
    for i, raw in enumerate(raws):
        props = dict(raw.properties)
        props["continued"] = "true" if raw.continued else "false"
        template = None
        tname = props.get("template")
        if raw.continued and i > 0:
            template = slides[-1] if slides else None
        elif tname and tname in by_name:
            template = by_name[tname]
        elif props.get("layout") == "false":
            layout_slide = None
        elif layout_slide is not None and props.get("layout") != "true":
            template = layout_slide
        if tname and tname not in by_name and not raw.continued:
            path_problems.append((path, raw.property_lines.get("template", raw.line),
                                  f"`template: {tname}` names no earlier slide or layout"))
        if raw.continued and props.get("count") is None:
            props["count"] = "false"   # countIncrementalSlides: false

        content, body, notes = raw.content, raw.content, raw.notes or ""
        if template is not None:
            tprops, tcontent = template.properties, template.content
            tbody = template.body if isinstance(template, Slide) else ""
            if isinstance(template, RawSlide) and template is not layout_slide:
                tbody = template.content
            for key, value in tprops.items():
                if key in ("name", "layout", "count"):
                    continue
                if key == "class" and props.get("class"):
                    props["class"] = ", ".join([value, props["class"]])
                elif key == "class" or key not in props:
                    props[key] = value
            if "{{content}}" in re.sub(r"\{\{\s*content\s*\}\}", "{{content}}", tcontent):
                content = re.sub(r"(?<!\\)\{\{\s*content\s*\}\}", lambda _m: raw.content, tcontent)
            else:
                content = tcontent + raw.content
            body = tbody + raw.content if template is not layout_slide else raw.content
            tnotes = template.notes if isinstance(template, Slide) else (template.notes or "")
            if tnotes:
                notes = tnotes + "\n\n" + notes

        if props.get("layout") == "true":
            holder = RawSlide(line=raw.line, start=raw.start, end=raw.end, continued=raw.continued,
                              content=content, notes=notes, properties=props,
                              property_lines=raw.property_lines, classes=raw.classes)
            layout_slide = holder
            layouts.append(holder)
            if props.get("name"):
                by_name[props["name"]] = holder
            continue

        prev_step = slides[-1].step if slides else 0
        slide = Slide(index=len(slides) + 1, number=0, counted=props.get("count") != "false",
                      line=raw.line, properties=props, own_properties=dict(raw.properties),
                      content=content, own_content=raw.content, body=body, notes=notes,
                      step=prev_step + 1 if raw.continued and slides else 0,
                      name=props.get("name"))
        slides.append(slide)
        if props.get("name"):
            by_name[props["name"]] = slide

    number = 0
    for slide in slides:
        if slide.counted:
            number += 1
        slide.number = max(1, number)

    path_problems.sort(key=lambda p: p[1])
    return Deck(path=path, text=text, slides=slides, layouts=layouts, raw=raws,
                formulas=formulas, errors=path_problems)


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------

_IMG_PATTERNS = [
    re.compile(r"!\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)"),
    re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I),
    re.compile(r"<(?:source|video|audio)\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I),
]
_URL_IN_CSS = re.compile(r"url\(\s*[\"']?([^\"')]+)[\"']?\s*\)")


def find_images(deck: Deck) -> list[tuple[str, int]]:
    """Every image reference (path, line) in slide text, notes and background-image."""
    found: list[tuple[str, int]] = []
    masked = _mask(deck.text, deck.formulas)
    code = _code_ranges(masked)
    lines = _LineIndex(masked)
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


def _is_external(ref: str) -> bool:
    return bool(re.match(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)", ref))


# --------------------------------------------------------------------------
# KaTeX (one node process per build, cached)
# --------------------------------------------------------------------------

_MEMORY_CACHE: dict[str, dict] = {}


def _katex_version(node_modules: Path) -> str:
    try:
        return json.loads((node_modules / "katex" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def render_math(items: list[tuple[str, bool]], *, node_modules: Path | None = None,
                cache_file: Path | None = None) -> list[dict]:
    """Render ``(tex, display)`` pairs; each result is ``{"html": ...}`` or ``{"error": ...}``."""
    node_modules = node_modules or find_node_modules()
    version = _katex_version(node_modules)

    def key(tex, display):
        return hashlib.sha256(f"{version}\0{int(display)}\0{tex}".encode()).hexdigest()

    cache = _MEMORY_CACHE
    if cache_file is not None and cache_file.exists() and not cache.get("__loaded__" + str(cache_file)):
        try:
            cache.update(json.loads(cache_file.read_text()))
        except (OSError, ValueError):
            pass
        cache["__loaded__" + str(cache_file)] = {"html": ""}
    todo = []
    for tex, display in items:
        k = key(tex, display)
        if k not in cache and (tex, display) not in todo:
            todo.append((tex, display))
    if todo:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is needed to render the decks' math with KaTeX (install Node.js 20)")
        env = dict(os.environ, NODE_PATH=str(node_modules))
        proc = subprocess.run([node, str(HERE / "katex_render.js")],
                              input=json.dumps([{"tex": t, "display": d} for t, d in todo]),
                              capture_output=True, text=True, env=env, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"KaTeX renderer failed: {proc.stderr.strip()}")
        results = json.loads(proc.stdout)
        fresh = {}
        for (tex, display), res in zip(todo, results):
            k = key(tex, display)
            cache[k] = res
            if "html" in res:
                fresh[k] = res
        if cache_file is not None and fresh:
            try:
                stored = json.loads(cache_file.read_text()) if cache_file.exists() else {}
            except (OSError, ValueError):
                stored = {}
            stored.update(fresh)
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored))
            tmp.replace(cache_file)
    return [cache[key(t, d)] for t, d in items]


def find_node_modules(*starts: Path) -> Path:
    for start in [*starts, Path.cwd(), HERE.parent]:
        for d in [start, *start.parents]:
            if (d / "node_modules" / "katex").is_dir():
                return d / "node_modules"
    raise RuntimeError("node_modules/katex not found: run `npm ci --no-audit --no-fund` (make setup)")


# --------------------------------------------------------------------------
# Building a deck (in memory)
# --------------------------------------------------------------------------

@dataclass
class BuiltDeck:
    deck: Deck
    slug: str
    html: str                       # slides/<slug>/index.html
    outline: str                    # Markdown of the outline page
    images: dict[str, Path]         # relative path inside slides/<slug>/ -> source file
    math: list[dict]                # KaTeX results, in formula order


def plain_text(md: str) -> str:
    s = re.sub(r"(?m)^ *(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^ *\1 *$|\Z)", " ", md)
    s = re.sub(r"(?m)^\s*(?:[-*+]|\d+\.)\s+", " ", s)
    s = re.sub(r"<!--[\s\S]*?-->", " ", s)
    s = re.sub(r"<span class=\"deck-math\"[^>]*></span>", " ", s)
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\\?(?:\.[a-zA-Z_\-][a-zA-Z\-_0-9]*)+\[", " ", s)
    s = re.sub(r"<[^>]+>", " ", s)
    s = re.sub(r"[\]\[*_`#>|~]", " ", s)
    s = html.unescape(s)
    return re.sub(r"\s+", " ", s).strip()


def _md_escape(s: str) -> str:
    s = html.escape(s, quote=False)
    s = re.sub(r"([\\`*_{}\[\]#+!|])", r"\\\1", s)
    s = re.sub(r"^(\d+)\.", r"\1\\.", s)
    return s.replace("$", "&#36;")


def _outline(deck: Deck, slug: str, present: str) -> str:
    out = [f"# Slides: {_md_escape(deck.title)}", ""]
    out.append(f"[Present the slides]({present}){{ .md-button .md-button--primary }}")
    out.append("")
    out.append(f"{deck.counted} slides. In the presentation: arrow keys or Page Up/Down to move, "
               "`p` presenter mode with notes, `c` a clone window for the projector, "
               "`f` full screen, `h` help.")
    out.append("")
    out.append("## Outline")
    out.append("")
    # One entry per counted slide; its text is that of the last step shown before the next counted slide.
    groups: list[list[Slide]] = []
    for s in deck.slides:
        if s.counted or not groups:
            groups.append([s])
        else:
            groups[-1].append(s)
    for group in groups:
        first = group[0]
        heading, texts = "", []
        for slide in group:
            body = re.sub(r"<span class=\"deck-math\"[^>]*></span>", " ", slide.body)
            for line in body.splitlines():
                if not heading and line.strip().startswith("#"):
                    heading = plain_text(line.strip().lstrip("#"))
            texts.append(plain_text(body))
        # keep the text of every step, but not one a later step repeats
        texts = [t for i, t in enumerate(texts) if t and not any(t in u for u in texts[i + 1:])]
        text = " ".join(t[len(heading):].strip() if heading and t.startswith(heading) else t for t in texts)
        if not heading:
            heading = (text[:60] + "…") if len(text) > 60 else (text or f"Slide {first.number}")
        label = f"{first.number}. " if first.counted else ""
        out.append(f"### {label}{_md_escape(heading)}")
        out.append("")
        excerpt = text if len(text) < 700 else text[:700] + "…"
        link = f"[open slide {first.number}]({present}#{first.index})"
        out.append((_md_escape(excerpt) + " " if excerpt else "") + link)
        out.append("")
    return "\n".join(out)


def _deck_html(deck: Deck, source: str, math_html: list[str], assets: str) -> str:
    data = json.dumps({"source": source, "math": math_html, "title": deck.title}, ensure_ascii=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = html.escape(deck.title)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{assets}/katex/katex.min.css">
<link rel="stylesheet" href="{assets}/slides/deck.css">
</head>
<body>
<noscript>This presentation needs JavaScript.</noscript>
<script type="application/json" id="deck-data">{data}</script>
<script src="{assets}/remark/remark.min.js"></script>
<script src="{assets}/slides/deck.js"></script>
</body>
</html>
"""


def build_deck(deck_path: Path, *, label: str | None = None, node_modules: Path | None = None,
               cache_file: Path | None = None, page_to_deck: str = "../../slides") -> BuiltDeck:
    """Parse, validate and render one deck in memory. Raises ``DeckError``."""
    deck_path = Path(deck_path)
    label = label or f"slides/{deck_path.name}"
    text = deck_path.read_text(encoding="utf-8")
    deck = parse_deck(text, label)
    problems = list(deck.errors)

    images: dict[str, Path] = {}
    base = deck_path.parent.resolve()
    for ref, line in find_images(deck):
        if _is_external(ref):
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
    html_text = _deck_html(deck, source, [r["html"] for r in results], "../../assets")
    # The outline is made from what remark gets (formulas are placeholders there).
    outline = _outline(parse_deck(source, label), slug, f"{page_to_deck}/{slug}/index.html")
    return BuiltDeck(deck=deck, slug=slug, html=html_text, outline=outline, images=images,
                     math=results)


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
        for rel, src in built.images.items():
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
        for rel, src in built.images.items():
            add(f"slides/{built.slug}/{rel}", abs_src_path=str(src))
        # Not in the nav config: on_nav puts it into the "Slides" section.
        add(f"{DECK_PAGES_DIR}/{built.slug}.md", content=built.outline, inclusion=InclusionLevel.NOT_IN_NAV)
        log.info("deck %s: %d slides (%d counted), %d formulas",
                 label, built.deck.count, built.deck.counted, len(built.deck.formulas))
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
    try:
        built = build_deck(args.deck)
    except DeckError as exc:
        print(exc)
        return 1
    d = built.deck
    print(f"{d.path}: {d.count} slides, {d.counted} counted, {len(d.formulas)} formulas")
    if args.site_dir:
        print(write_deck(built, args.site_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
