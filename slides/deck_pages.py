"""What a built deck becomes: the presentation's HTML page and the Markdown of its outline page.

The presentation page carries the deck source (formulas replaced by placeholders) and the
KaTeX HTML of every formula as JSON; ``deck.js`` starts remark on it. The outline page (one
heading and excerpt per counted slide, with a deep link) is what the site's nav and search see.
"""

from __future__ import annotations

import html
import json
import re

from deck_model import Deck, Slide, plain_text


def _md_escape(s: str) -> str:
    s = html.escape(s, quote=False)
    s = re.sub(r"([\\`*_{}\[\]#+!|])", r"\\\1", s)
    s = re.sub(r"^(\d+)\.", r"\1\\.", s)
    return s.replace("$", "&#36;")


def outline_markdown(deck: Deck, slug: str, present: str) -> str:
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
