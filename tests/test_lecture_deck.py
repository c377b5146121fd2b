"""The lecture deck (slides/self-supervised-learning.md): every method of the outline has a
slide with notes, an incremental build and a citation, and slide and page link each other.

Every method slide shows its pretext task as a picture (the question, then after ``--`` the
answer) followed by the method's template: how targets are made, network and loss (a
formula), pros and cons. The deck tells the whole story (>= 70 counted slides, >= 40
figures of our own, each with an alt text), and each figure is drawn for a projector."""

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
    "context-encoder": "context-encoder",
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
# the section after 2020, slides named as the method registry names their pages, in teaching order
BEYOND = ["collapse", "byol", "simsiam", "barlow-twins", "vicreg", "swav", "dino", "moco-v3", "mae", "ijepa"]
IMAGE = re.compile(r"!\[([^\]\n]*)\]\(([^)\s]+)\)")


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


def topic(deck, name):
    """The named slide and every slide after it up to the next named slide (its template)."""
    start = next(i for i, s in enumerate(deck.slides) if s.name == name)
    out = [deck.slides[start]]
    for s in deck.slides[start + 1:]:
        if s.name:
            break
        out.append(s)
    return out


def test_whole_story(deck):
    """Remark's own count (``count: false`` steps and layouts excluded) and distinct images."""
    assert deck.counted >= 70, f"{deck.counted} counted slides"
    assert len(find_images(deck)) >= 40, f"{len(find_images(deck))} images"
    names = [s.name for s in deck.slides if s.name]
    assert [n for n in names if n in BEYOND] == BEYOND, "the section after 2020, in order"
    assert names.index("beyond") < names.index("collapse")


@pytest.mark.parametrize("name", list(METHODS))
def test_method_template(deck, name):
    """Question picture, then its answer after ``--``; targets, network, loss formula, pros, cons."""
    first = group(deck, name)
    images = [IMAGE.findall(s.content) for s in first]
    assert images[0], f"{name}: the first step shows no picture"
    assert any(len(i) > len(images[0]) for i in images[1:]), f"{name}: no answer picture after `--`"
    assert "?" in first[0].body.split("\n", 3)[1] + first[0].body, f"{name}: no question"
    text = "\n".join(s.own_content for s in topic(deck, name))
    for part in ("Targets", "Network", ".green[Pros", ".red[Cons"):
        assert part in text, f"{name}: the template lacks {part!r}"
    assert "$$" in text, f"{name}: no loss formula"


@pytest.mark.parametrize("name", BEYOND)
def test_beyond_slide(deck, name):
    slides = group(deck, name)
    assert IMAGE.search(slides[-1].content), f"{name}: no figure"
    assert ".citation[" in slides[-1].content
    page = REPO / "docs" / "methods" / f"{name}.md"
    if page.is_file():  # link a method's page once it exists (a link to a missing page would break)
        assert f"](../../methods/{name}/)" in slides[-1].content, f"{name}: docs/methods/{name}.md exists, link it"


def test_registry_methods_have_slides(deck):
    """Every method of the registry has a slide of its name (its slug), with a picture."""
    from ssl_examples.methods import REGISTRY

    names = {s.name for s in deck.slides if s.name}
    for m in REGISTRY:
        assert m.slug in names, f"no slide `name: {m.slug}` for {m.name}"
        assert any(IMAGE.search(s.content) for s in group(deck, m.slug)), f"{m.slug}: no picture"


def test_every_image_has_alt_text(deck):
    for slide in deck.slides:
        for alt, ref in IMAGE.findall(slide.own_content):
            assert len(alt.split()) >= 4, f"slides/{DECK.name}:{slide.line}: `{ref}` needs an alt text saying what it shows"


def test_deck_figures_are_legible():
    """After ``make figures``: every figure the deck shows exists, fits the slide at its natural
    size, and its smallest label is >= 14 px (recorded by ``figures.common.save_deck``)."""
    from PIL import Image

    from ssl_examples.figures.common import MIN_LABEL_PX, SLIDE_WIDTH_PX

    out = REPO / "docs" / "figures"
    if not out.is_dir():
        pytest.skip("docs/figures/ not made yet: run `python -m ssl_examples figures` (make test does)")
    deck = parse_deck(DECK.read_text(encoding="utf-8"), f"slides/{DECK.name}")
    missing, bad = [], []
    for ref, line in find_images(deck):
        path = out / ref.removeprefix("figures/")
        if not path.is_file():
            missing.append(ref)
            continue
        with Image.open(path) as im:
            smallest = float(im.info.get("Min-label-px", "0"))
            if smallest < MIN_LABEL_PX or im.width > SLIDE_WIDTH_PX:
                bad.append(f"{ref}: {im.width} px wide, smallest label {smallest} px")
    assert not missing, f"not made by `python -m ssl_examples figures` (run it again): {missing}"
    assert not bad, bad
