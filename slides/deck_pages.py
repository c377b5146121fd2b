"""What a built deck becomes: the presentation's HTML page and the Markdown of its outline page.

The presentation page carries the deck source (formulas replaced by placeholders) and the
KaTeX HTML of every formula as JSON; ``deck.js`` starts remark on it. The outline page (one
heading and excerpt per counted slide, with a deep link) is what the site's nav and search see.
"""

from __future__ import annotations

import html
import json
import re

from deck_media import MediaRef, remote_host
from deck_model import Deck, Slide, plain_text


def _md_escape(s: str) -> str:
    s = html.escape(s, quote=False)
    s = re.sub(r"([\\`*_{}\[\]#+!|])", r"\\\1", s)
    s = re.sub(r"^(\d+)\.", r"\1\\.", s)
    return s.replace("$", "&#36;")


_MATH_SPAN = re.compile(r'<span class="deck-math" data-math="(\d+)"></span>')
_INLINE_CODE = re.compile(r"(`+)([\s\S]*?[^`])\1(?!`)")
_FENCED = re.compile(r"(?m)^ *(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^ *\1 *$|\Z)")
# Private-use characters stand for inline code and formulas while a slide's text is flattened
# and escaped (plain_text and _md_escape leave them alone); then they become Markdown again.
_OPEN, _CLOSE = "\ue000", "\ue001"
_KEPT = re.compile(_OPEN + r"(\d+)" + _CLOSE)


class _Kept:
    """Inline code and formulas of the outline, kept as Markdown code and as math."""

    def __init__(self, formulas: list[str]):
        self.formulas = formulas     # TeX by formula index (the placeholders' data-math)
        self.items: list[str] = []

    def _keep(self, markdown: str) -> str:
        if markdown not in self.items:
            self.items.append(markdown)
        return f"{_OPEN}{self.items.index(markdown)}{_CLOSE}"

    def protect(self, md: str) -> str:
        md = _FENCED.sub(" ", md)          # code blocks are not part of an excerpt
        md = _INLINE_CODE.sub(lambda m: self._keep(_code_md(m.group(2))), md)
        return _MATH_SPAN.sub(lambda m: self._keep(_math_md(self.formulas[int(m.group(1))])), md)

    def restore(self, escaped: str) -> str:
        return _KEPT.sub(lambda m: self.items[int(m.group(1))], escaped)


def _code_md(code: str) -> str:
    code = re.sub(r"\s+", " ", code)
    ticks = "`" * (max((len(r) for r in re.findall("`+", code)), default=0) + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{ticks}{pad}{code}{pad}{ticks}"


def _math_md(tex: str) -> str:
    # inline math for pymdownx.arithmatex (the site's KaTeX renders it); one line, no outer spaces
    return "$" + " ".join(tex.split()) + "$"


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if cut.rfind(_OPEN) > cut.rfind(_CLOSE):   # never cut a kept code span or formula in two
        cut = cut[:cut.rfind(_OPEN)]
    return cut.rstrip() + "…"


def _remote_notice(remote: list[MediaRef]) -> list[str]:
    """An admonition naming the hosts a deck with ``allow-remote-media: true`` loads from."""
    kinds: dict[str, list[str]] = {}
    for media in remote:
        host_kinds = kinds.setdefault(remote_host(media.ref), [])
        if media.kind not in host_kinds:
            host_kinds.append(media.kind)
    hosts = "; ".join(f"{' and '.join(k)} from `{h}`" for h, k in sorted(kinds.items()))
    return ['!!! warning "This deck loads media from other sites"', "",
            f"    Opening the presentation loads {hosts}: those sites learn that you opened it, and "
            "these slides need a network connection. Its author chose this with `allow-remote-media: true`; "
            "every other page and deck of this site loads nothing from outside it.", ""]


def outline_markdown(deck: Deck, slug: str, present: str, *, formulas: list[str] | None = None,
                     remote: list[MediaRef] | None = None) -> str:
    """The outline page of ``deck`` (parsed from what remark gets: formulas are placeholders whose
    TeX is ``formulas[i]``): one heading per counted slide, its text with inline code and math kept,
    and a link into the presentation."""
    kept = _Kept(formulas or [])
    out = [f"# Slides: {_md_escape(deck.title)}", ""]
    if remote:
        out += _remote_notice(remote)
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
            body = kept.protect(slide.body)
            for line in body.splitlines():
                if not heading and line.strip().startswith("#"):
                    heading = plain_text(line.strip().lstrip("#"))
            texts.append(plain_text(body))
        # keep the text of every step, but not one a later step repeats
        texts = [t for i, t in enumerate(texts) if t and not any(t in u for u in texts[i + 1:])]
        text = " ".join(t[len(heading):].strip() if heading and t.startswith(heading) else t for t in texts)
        if not heading:
            heading = _shorten(text, 60) or f"Slide {first.number}"
        label = f"{first.number}. " if first.counted else ""
        out.append(f"### {label}{kept.restore(_md_escape(heading))}")
        out.append("")
        excerpt = _shorten(text, 700)
        link = f"[open slide {first.number}]({present}#{first.index})"
        out.append((kept.restore(_md_escape(excerpt)) + " " if excerpt else "") + link)
        out.append("")
    return "\n".join(out)


def deck_html(deck: Deck, source: str, math_html: list[str], assets: str) -> str:
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
