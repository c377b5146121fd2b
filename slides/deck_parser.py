"""Parse a remark deck exactly as remark 0.14 does, and report what remark would not say.

``parse_deck(text, path) -> Deck``: the same lexer rules, properties, layouts, templates,
incremental ``--`` steps and ``count: false`` numbering as remark, with the line of every
slide and property, and the validation errors that need neither the file system nor KaTeX.
"""

from __future__ import annotations

import re

from deck_lexer import BLOCK_RE, LineIndex, Token, clean_input, find_formulas, lex, mask_formulas
from deck_model import ContentClass, Deck, RawSlide, Slide

# Properties remark itself understands (remark 0.14: parser, slideshow model
# and slide view).  Any other property is only meaningful as a template
# variable ``{{ name }}``; one that is not used that way is reported.
KNOWN_PROPERTIES = {
    "name", "class", "layout", "template", "count", "exclude", "continued",
    "background-image", "background-color", "background-size", "background-position",
}

# Options of the whole deck (ours, not remark's), set as properties of the deck's first slide;
# remark ignores them like any property it does not know. Each has the values it accepts.
DECK_OPTIONS = {
    # Let the deck load images, video, audio or frames from other hosts (https only). The site
    # otherwise loads nothing from outside; the deck's outline page says which hosts it contacts.
    "allow-remote-media": ("true", "false"),
}

# remark's property line: ``key: value`` or ``<!-- key: value -->``.
_PROPERTY_RE = re.compile(r"^\n*([-\w]+):([^$\n]*)|\n*(?:<!--\s*)([-\w]+):([^$\n]*?)(?:\s*-->)", re.I)


def _extract_properties(pieces: list[tuple[str, int]], raw: RawSlide, lines: LineIndex):
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
    masked = mask_formulas(text, formulas)
    cleaned = clean_input(masked)
    if cleaned != masked:  # a uniformly indented deck: offsets no longer map; use it as a whole
        text = clean_input(text)
        formulas = find_formulas(text)
        masked = mask_formulas(text, formulas)
    lines = LineIndex(text)
    tokens = lex(masked, BLOCK_RE, 0, [], problems)

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

    # Deck options: on the first chunk of the file only, where a reader looks for them.
    options: dict[str, str] = {}
    for i, raw in enumerate(raws):
        for key in sorted(DECK_OPTIONS.keys() & raw.properties.keys()):
            value, line = raw.properties[key], raw.property_lines[key]
            if i > 0:
                path_problems.append((path, line, f"`{key}` is an option of the whole deck: put it on the "
                                                  f"deck's first slide (line {raws[0].line})"))
            elif value not in DECK_OPTIONS[key]:
                path_problems.append((path, line, f"`{key}: {value}`: must be {' or '.join(DECK_OPTIONS[key])}"))
            else:
                options[key] = value

    # remark drops ``exclude: true`` slides before anything else.
    raws = [r for r in raws if r.properties.get("exclude", "").lower() != "true"]

    # Which template variables are used anywhere (``{{ name }}``)?
    variables = {m.group(1).strip() for m in re.finditer(r"(?<!\\)\{\{([^}\n]+)\}\}", text)}
    for raw in raws:
        for key, line in raw.property_lines.items():
            if key not in KNOWN_PROPERTIES and key not in DECK_OPTIONS and key not in variables:
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
    return Deck(path=path, text=text, slides=slides, layouts=layouts, raw=raws, options=options,
                formulas=formulas, errors=path_problems)

