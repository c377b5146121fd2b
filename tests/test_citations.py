"""Every citation on the pages and the lecture deck names an entry of docs/references.bib."""

import re
from pathlib import Path

import pytest

import citations  # docs/hooks/citations.py (on pytest's pythonpath)
from deck_parser import parse_deck

REPO = Path(__file__).resolve().parents[1]

BIB = REPO / "docs" / "references.bib"
LECTURE_DECKS = [REPO / "slides" / "self-supervised-learning.md"]


@pytest.fixture(scope="module")
def entries():
    return citations.parse_bib(BIB.read_text(encoding="utf-8"))


def sources():
    yield from sorted((REPO / "docs").rglob("*.md"))
    yield from sorted((REPO / "docs" / "notebooks").glob("*.py"))


def test_bib_entries_complete(entries):
    assert len(entries) >= 40
    for key, e in entries.items():
        assert citations.venue(e), f"{key}: no booktitle or journal"
        assert re.fullmatch(r"(19|20)\d\d", e["year"]), f"{key}: year {e['year']!r}"


def test_every_page_key_is_in_the_bib(entries):
    unknown = []
    used = set()
    for path in sources():
        for key in citations.cited_keys(path.read_text(encoding="utf-8")):
            used.add(key)
            if key not in entries:
                unknown.append(f"{path.relative_to(REPO)}: {key}")
    assert not unknown, "citation keys not in docs/references.bib:\n" + "\n".join(unknown)
    assert used, "no page cites anything"


def deck_citations(path: Path):
    deck = parse_deck(path.read_text(encoding="utf-8"), f"slides/{path.name}")
    for raw in deck.raw:
        for m in re.finditer(r"\.citation\[([^\]]*)\]", raw.content):
            for part in m.group(1).split(";"):
                yield raw.line, " ".join(part.split())


def match(entries, text):
    """Entries that ``Author et al., VENUE YEAR`` names: same authors as shown, venue, year."""
    m = re.fullmatch(r"(.+?), (.+) ((?:19|20)\d\d)", text)
    if not m:
        return []
    who, venue, year = m.groups()
    return [e for e in entries.values() if citations.short_authors(e) == who and e["year"] == year
            and citations.venue(e).lower().startswith(venue.lower())]


@pytest.mark.parametrize("deck", LECTURE_DECKS, ids=lambda p: p.name)
def test_every_deck_citation_is_in_the_bib(entries, deck):
    bad = [f"{deck.name}:{line}: {text!r}" for line, text in deck_citations(deck) if len(match(entries, text)) != 1]
    assert not bad, "deck citations that name no single entry of docs/references.bib " \
                    "(write `Surname et al., VENUE YEAR`):\n" + "\n".join(bad)
    assert sum(1 for _ in deck_citations(deck)) >= 30


def test_hook_replaces_and_rejects(entries):
    md = "A [@gidaris2018rotation] and [@noroozi2016jigsaw; @doersch2015context].\n\n```\n[@not-a-key]\n```\n"
    out = citations.replace_citations(md, entries, "../references.md", "docs/x.md")
    assert "([Gidaris et al., 2018](../references.md#gidaris2018rotation))" in out
    assert "[Noroozi & Favaro, 2016](../references.md#noroozi2016jigsaw); [Doersch et al., 2015]" in out
    assert "[@not-a-key]" in out  # code is left alone
    with pytest.raises(KeyError, match=r"docs/x.md:3: unknown citation key `nobody2099`"):
        citations.replace_citations("x\n\n[@nobody2099]\n", entries, "r.md", "docs/x.md")


def test_references_list_has_every_entry(entries):
    listing = citations.references_markdown(entries)
    for key in entries:
        assert f'<a id="{key}"></a>' in listing
    assert "Arandjelović & Zisserman, 2017" in listing
