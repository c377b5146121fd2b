"""Figures for transformation prediction (rotation)."""

from pathlib import Path

import matplotlib.pyplot as plt

from ..methods.rotation import rotate_batch
from .common import FONT_PT, GREEN, QA_SIZE, RED, deck_style, image_row, photo, save_deck, show


def rotation_figure(path: Path) -> None:
    """A real photograph in the four rotations the network must tell apart, with their labels."""
    x4, labels = rotate_batch(photo("chelsea", 192))
    image_row(list(x4), [f"label {r}: {90 * r}°" for r in labels.tolist()], path)


def rotation_running_example(path: Path) -> None:
    """The deck's running example: one photograph in its four rotations, labelled 0 to 3."""
    x4, labels = rotate_batch(photo("chelsea", 220))
    with deck_style():
        fig, axes = plt.subplots(1, 4, figsize=(9.6, 2.9))
        for ax, image, r in zip(axes, x4, labels.tolist()):
            show(ax, image, f"label {r}: {90 * r}°")
        plt.setp(axes[0].xaxis.label, color=GREEN)
        save_deck(fig, path)


# Four photographs, each turned by a multiple of 90 degrees (the label r of rotate_batch:
# counter-clockwise r * 90). The star field has no "up": the task's blind spot.
ROTATION_QUIZ = (("astronaut", 1), ("coffee", 2), ("rocket", 3), ("hubble_deep_field", 1))
NO_UP = "hubble_deep_field"


def rotation_qa(path: Path, part: str) -> None:
    """Question: four photographs turned by unknown multiples of 90 degrees. Answer: the labels."""
    with deck_style():
        fig, axes = plt.subplots(2, 2, figsize=QA_SIZE)
        for ax, (name, r) in zip(axes.flat, ROTATION_QUIZ):
            image = rotate_batch(photo(name, 160))[0][r]
            if part == "q":
                show(ax, image, "label: ?")
            else:
                note = " (no up!)" if name == NO_UP else ""
                show(ax, image, f"label {r}: {90 * r}°{note}", RED)
        if part == "q":
            fig.suptitle("which of 0°, 90°, 180°, 270°?", fontsize=FONT_PT + 1)
        else:
            fig.suptitle("turn it back and it looks right", fontsize=FONT_PT + 1, color=RED)
        save_deck(fig, path)
