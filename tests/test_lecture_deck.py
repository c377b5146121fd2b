"""The lecture deck (slides/self-supervised-learning.md): every method of the outline has a
slide with notes, an incremental build and a citation, and slide and page link each other."""

import re
from pathlib import Path

import pytest
from deck_media import find_images  # slides/ is on pytest's pythonpath
from deck_parser import parse_deck
from handout import final_steps

REPO = Path(__file__).resolve().parents[1]

DECK = REPO / "slides" / "self-supervised-learning.md"
SLUG = DECK.stem

# slide name -> method page (docs/methods/<page>.md), in the outline's order
METHODS = {
    "context-prediction": "context-prediction",
    "jigsaw": "jigsaw",
    "rotation": "rotation",
    "context-encoders": "context-encoder",
    "colorization": "colorization",
    "bownet": "bownet",
    "exemplar": "exemplar",
    "npid": "npid",
    "simclr": "simclr",
    "moco": "moco",
    "tracking-colorization": "tracking-colorization",
    "shuffle-and-learn": "shuffle-and-learn",
    "order-prediction": "order-prediction",
    "audio-visual": "audio-visual",
}
SECTIONS = ["why", "what", "tour", "structure", "transformation", "reconstruction", "instances", "time",
            "multimodal", "evaluation", "applications", "beyond"]


@pytest.fixture(scope="module")
def deck():
    d = parse_deck(DECK.read_text(encoding="utf-8"), f"slides/{DECK.name}")
    assert not d.errors, d.errors
    return d


def group(deck, name):
    """The named slide and the ``count: false`` steps that follow it."""
    start = next(i for i, s in enumerate(deck.slides) if s.name == name)
    out = [deck.slides[start]]
    for s in deck.slides[start + 1:]:
        if s.counted:
            break
        out.append(s)
    return out


def test_structure(deck):
    names = [s.name for s in deck.slides if s.name]
    assert len(names) == len(set(names)), "slide names must be unique"
    pos = {n: names.index(n) for n in names}
    assert [n for n in sorted(SECTIONS, key=pos.get)] == SECTIONS, "sections out of the outline's order"
    assert sorted(METHODS, key=pos.get) == list(METHODS), "methods out of the outline's order"
    assert deck.layouts and ".footer[" in deck.layouts[0].content
    assert any("black-slide" in s.properties.get("class", "") for s in deck.slides)
    assert any(s.body.strip().startswith("# Recap") for s in deck.slides)
    assert len(deck.formulas) >= 10
    keep = final_steps(deck)
    noted = sum(1 for i in keep if deck.slides[i].notes.strip())  # notes carry over to later steps
    assert noted >= 0.6 * len(keep), f"presenter notes on most slides ({noted} of {len(keep)})"
    # the PDF handout prints one page per counted slide
    assert len(final_steps(deck)) == deck.counted


@pytest.mark.parametrize("name", list(METHODS))
def test_method_slide(deck, name):
    slides = group(deck, name)
    assert any(s.step > 0 for s in slides), f"{name}: no incremental build (--)"
    assert slides[-1].notes.strip(), f"{name}: no presenter notes"
    last = slides[-1].content
    assert ".citation[" in last, f"{name}: no citation"
    assert f"](../../methods/{METHODS[name]}/)" in last, f"{name}: no link to its lecture page"


@pytest.mark.parametrize("name", list(METHODS))
def test_method_page_links_back(name):
    page = REPO / "docs" / "methods" / f"{METHODS[name]}.md"
    if not page.is_file():
        pytest.skip(f"docs/methods/{page.name} not written yet")
    text = page.read_text(encoding="utf-8")
    assert re.search(rf"slides/{SLUG}/(index\.html)?#{re.escape(name)}\b", text), \
        f"{page.name} has no deep link to its slide (#{name})"


def test_images_are_generated_figures(deck):
    from ssl_examples.figures import FIGURES

    refs = [ref for ref, _ in find_images(deck)]
    assert refs
    for ref in refs:
        assert ref.startswith("figures/") and ref.removeprefix("figures/") in FIGURES, ref


def test_outline_links_resolve(deck):
    names = {s.name for s in deck.slides if s.name}
    for target in re.findall(r"\]\(#([\w-]+)\)", deck.text):
        assert target in names, f"#{target} names no slide"
