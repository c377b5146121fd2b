"""MkDocs hook: citations from the one bibliography, ``docs/references.bib``.

In a page, ``[@gidaris2018rotation]`` becomes "(Gidaris et al., 2018)" linked to its
entry on the references page; ``[@a; @b]`` cites several works at once. A key that the
bibliography does not have fails the build with the page and line. The references page
(``docs/references.md``) holds the marker ``<!-- references -->``, replaced by the full
list, one anchor per key.

Decks do not use this syntax: they write ``.citation[Gidaris et al., ICLR 2018]`` in
plain text so that the Remark source presents anywhere; ``tests/test_citations.py``
checks those lines against the same bibliography.

The small BibTeX reader here covers what ``references.bib`` uses: ``@type{key, field =
{value}, ...}`` with braced values and ``{\\'e}``-style accents.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

CITE = re.compile(r"\[(@[\w:-]+(?:\s*;\s*@[\w:-]+)*)\]")
MARKER = "<!-- references -->"
FENCE = re.compile(r"(?m)^( {0,3})(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2[ \t]*$")
ACCENTS = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303", "c": "\u0327"}


class BibError(ValueError):
    pass


def _latex_to_text(s: str) -> str:
    import unicodedata

    def accent(m):
        return unicodedata.normalize("NFC", m.group(2) + ACCENTS[m.group(1)])

    s = re.sub(r"\{\\([\'\"`^~c])\{?(\w)\}?\}", accent, s)
    s = re.sub(r"\\([\'\"`^~])\{?(\w)\}?", accent, s)
    s = s.replace("--", "\u2013").replace("\\&", "&")
    return re.sub(r"[{}]", "", s).strip()


def _braced(text: str, i: int) -> tuple[str, int]:
    """The value of a ``{...}`` starting at ``text[i] == '{'``, and the index after it."""
    depth, j = 0, i
    while j < len(text):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    raise BibError("unbalanced braces")


def parse_bib(text: str) -> dict[str, dict]:
    """Entries by key: ``{"type": ..., "line": ..., field: text, "authors": [(last, first), ...]}``."""
    entries: dict[str, dict] = {}
    for m in re.finditer(r"(?m)^@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        kind, key = m.group(1).lower(), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        if key in entries:
            raise BibError(f"references.bib:{line}: duplicate key {key}")
        body_start = m.start() + text[m.start():].index("{")
        body, _ = _braced(text, body_start)
        fields, i = {}, body.index(",") + 1
        for fm in re.finditer(r"(\w+)\s*=\s*", body):
            if fm.start() < i:
                continue
            j = fm.end()
            if body[j] == "{":
                value, i = _braced(body, j)
            else:
                vm = re.match(r"[^,\n]+", body[j:])
                value, i = vm.group(0).strip(), j + vm.end()
            fields[fm.group(1).lower()] = value
        for need in ("author", "title", "year"):
            if need not in fields:
                raise BibError(f"references.bib:{line}: {key} has no {need}")
        authors = []
        for a in re.split(r"\s+and\s+", fields["author"]):
            a = a.strip()
            if a == "others":
                authors.append(("others", ""))
            elif "," in a:
                last, first = a.split(",", 1)
                authors.append((_latex_to_text(last), _latex_to_text(first)))
            else:
                parts = a.split()
                authors.append((_latex_to_text(parts[-1]), _latex_to_text(" ".join(parts[:-1]))))
        entry = {k: _latex_to_text(v) for k, v in fields.items()}
        entry.update(type=kind, key=key, line=line, authors=authors)
        entries[key] = entry
    return entries


def short_authors(entry: dict) -> str:
    names = [last for last, _ in entry["authors"] if last != "others"]
    if len(entry["authors"]) >= 3 or "others" in [a for a, _ in entry["authors"]]:
        return f"{names[0]} et al."
    if len(names) == 2:
        return f"{names[0]} & {names[1]}"
    return names[0]


def cite_text(entry: dict) -> str:
    return f"{short_authors(entry)}, {entry['year']}"


def venue(entry: dict) -> str:
    return entry.get("booktitle") or entry.get("journal") or ""


def full_reference(entry: dict) -> str:
    people = []
    for last, first in entry["authors"]:
        people.append("et al." if last == "others" else (f"{first} {last}".strip()))
    if len(people) > 1 and people[-1] != "et al.":
        authors = ", ".join(people[:-1]) + " and " + people[-1]
    else:
        authors = ", ".join(people)
    extra = ", ".join(x for x in (venue(entry), entry["year"]) if x)
    note = f" ({entry['note']})" if entry.get("note") else ""
    return f"{authors}. *{entry['title']}*. {extra}.{note}"


def references_markdown(entries: dict) -> str:
    lines = []
    order = sorted(entries.values(), key=lambda e: (re.sub(r"^(van den|van der|de) ", "", e["authors"][0][0].lower()), e["year"], e["key"]))
    for e in order:
        lines.append(f'- <a id="{e["key"]}"></a>**{cite_text(e)}**: {full_reference(e)} '
                     f'<small>`{e["key"]}`</small>')
    return "\n".join(lines)


def _fenced_ranges(markdown: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in FENCE.finditer(markdown)]


def replace_citations(markdown: str, entries: dict, refs_url: str, where: str) -> str:
    """Replace every ``[@key]`` outside fenced code; raise ``KeyError`` naming ``where:line``."""
    fences = _fenced_ranges(markdown)
    unknown = []

    def sub(m):
        if any(a <= m.start() < b for a, b in fences):
            return m.group(0)
        keys = [k.strip()[1:] for k in m.group(1).split(";")]
        parts = []
        for k in keys:
            if k not in entries:
                unknown.append(f"{where}:{markdown.count(chr(10), 0, m.start()) + 1}: unknown citation key "
                               f"`{k}` (not in docs/references.bib)")
                continue
            parts.append(f"[{cite_text(entries[k])}]({refs_url}#{k})")
        return "(" + "; ".join(parts) + ")"

    out = CITE.sub(sub, markdown)
    if unknown:
        raise KeyError("\n".join(unknown))
    return out


def cited_keys(markdown: str) -> list[str]:
    fences = _fenced_ranges(markdown)
    keys = []
    for m in CITE.finditer(markdown):
        if not any(a <= m.start() < b for a, b in fences):
            keys += [k.strip()[1:] for k in m.group(1).split(";")]
    return keys


def bib_path(config) -> Path:
    return Path(config["docs_dir"]) / "references.bib"


# --------------------------------------------------------------------------
# MkDocs events
# --------------------------------------------------------------------------

_entries: dict = {}


def on_config(config, **kwargs):
    from mkdocs.exceptions import PluginError

    global _entries
    try:
        _entries = parse_bib(bib_path(config).read_text(encoding="utf-8"))
    except (OSError, BibError) as exc:
        raise PluginError(f"citations: {exc}") from exc
    return config


def on_page_markdown(markdown, page, config, files, **kwargs):
    from mkdocs.exceptions import PluginError

    src = page.file.src_uri
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, references_markdown(_entries))
    if "[@" not in markdown:
        return markdown
    refs = posixpath.relpath("references.md", posixpath.dirname(src) or ".")
    try:
        return replace_citations(markdown, _entries, refs, f"docs/{src}")
    except KeyError as exc:
        raise PluginError(exc.args[0]) from exc


def on_serve(server, config, builder, **kwargs):
    server.watch(str(bib_path(config)))
    return server
