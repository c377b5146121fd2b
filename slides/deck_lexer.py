"""Scanning a deck source as remark 0.14 and its Markdown parser (marked 0.3) do.

* remark's lexer (src/remark/lexer.js), transcribed with source offsets: separators, notes,
  code, content classes ``.name[...]``;
* where the math is: ``$...$`` and ``$$...$$`` outside code, and marked's backslash escapes
  undone inside it (what KaTeX must get);
* small helpers on source offsets (line numbers, masking formulas).
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass

from deck_model import Formula

# Characters marked 0.3 un-escapes after a backslash (its inline ``escape`` rule).
MARKDOWN_ESCAPABLE = set("\\`*{}[]()#+-.!_>")
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


def lex(src: str, regex, base: int, tokens: list[Token], problems: list[tuple[int, str]]):
    """remark's Lexer on ``src`` (which starts at offset ``base``); ``problems`` gets (offset, message)."""
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
                    lex(text, INLINE_RE, base + inner_start, tokens, problems)
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


def clean_input(src: str) -> str:
    """remark's cleanInput: remove the indentation common to every line."""
    widths = [len(m.group(1)) for m in re.finditer(r"^([ \t]*)[^ \t\n]", src, re.M)]
    if not widths or min(widths) == 0:
        return src
    return re.sub(r"^[ \t]{0,%d}" % min(widths), "", src, flags=re.M)


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


def code_ranges(text: str) -> list[tuple[int, int]]:
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
    code = code_ranges(text)
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


def mask_formulas(text: str, formulas: list[Formula]) -> str:
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


class LineIndex:
    """Line numbers (1-based) of source offsets."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

