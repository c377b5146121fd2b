"""What a parsed remark deck is: slides, formulas, content classes, and the error type.

The parser (``deck_parser.py``) fills these; the builder, the outline writer and the tests
read them. Nothing here touches the file system or KaTeX.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path


class DeckError(Exception):
    """A deck source problem; ``str()`` gives ``path:line: message`` lines."""

    def __init__(self, problems: list[tuple[str, int, str]]):
        self.problems = list(problems)
        super().__init__("\n".join(f"{p}:{line}: {msg}" for p, line, msg in self.problems))


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
    options: dict[str, str] = field(default_factory=dict)   # deck options (deck_parser.DECK_OPTIONS)

    @property
    def allow_remote_media(self) -> bool:
        return self.options.get("allow-remote-media") == "true"

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


def plain_text(md: str) -> str:
    """Markdown (remark flavour) to one line of plain text: no markup, no code blocks, no math."""
    s = re.sub(r"(?m)^ *(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^ *\1 *$|\Z)", " ", md)
    s = re.sub(r"(?m)^\s*(?:[-*+]|\d+\.)\s+", " ", s)
    s = re.sub(r"<!--[\s\S]*?-->", " ", s)
    s = re.sub(r"<span class=\"deck-math\"[^>]*></span>", " ", s)
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\\?(?:\.[a-zA-Z_\-][a-zA-Z\-_0-9]*)+\[", " ", s)
    s = re.sub(r"<[^>]+>", " ", s)
    s = re.sub(r"(?:\]|\*+)(?=[.,:;!?)])", "", s)   # ".bold[word]: text" reads "word: text"
    s = re.sub(r"[\]\[*_`#>|~]", " ", s)
    s = html.unescape(s)
    return re.sub(r"\s+", " ", s).strip()

