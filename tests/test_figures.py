"""Figures are drawn by our code: the deck's are checked for legibility when they are saved."""

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from ssl_examples.figures import FIGURES, QUESTIONS
from ssl_examples.figures.common import MIN_LABEL_PX, deck_style, save_deck, smallest_text_px


def test_small_text_is_refused(tmp_path):
    with deck_style():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.set_title("readable")
        ax.text(0.5, 0.5, "too small for a projector", fontsize=7)
        assert smallest_text_px(fig) < MIN_LABEL_PX
        with pytest.raises(ValueError, match="under the 14 px"):
            save_deck(fig, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_too_wide_is_refused(tmp_path):
    with deck_style():
        fig, _ = plt.subplots(figsize=(12, 3))
        with pytest.raises(ValueError, match="wider than a slide"):
            save_deck(fig, tmp_path / "x.png")


def test_question_and_answer_pair(tmp_path):
    """One method's pair: two PNGs of the same size, each recording its smallest label."""
    paths = [tmp_path / f"lecture-rotation-{part}.png" for part in "qa"]
    for path in paths:
        FIGURES[path.name](path)
    sizes = []
    for path in paths:
        with Image.open(path) as im:
            assert float(im.info["Min-label-px"]) >= MIN_LABEL_PX
            sizes.append(im.size)
    assert sizes[0] == sizes[1] and sizes[0][0] * 2 < 1100, "a pair sits side by side on one slide"


def test_every_method_has_a_question():
    for name in QUESTIONS:
        assert f"lecture-{name}-q.png" in FIGURES and f"lecture-{name}-a.png" in FIGURES
