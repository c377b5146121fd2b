"""Figures of the lecture deck and the section pages (docs/lecture/): diagrams drawn with
matplotlib and pretext inputs made from scikit-image photographs, all sized for a projector."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from ..methods.context_prediction import NEIGHBOUR_CELLS
from .common import BLUE, FONT_PT, GREEN, GREY, RED, deck_style, photo, save_deck, show
from .diagrams import arrow, box, canvas, label

INK_GREY = "#3b3b40"


def pipeline_figure(path: Path) -> None:
    """The two-stage pipeline: pretext task without labels, then a downstream task with few."""
    with deck_style():
        fig, ax = canvas(10.6, 3.6, figsize=(10.6, 3.6))
        ax.set_ylim(0.05, 3.85)
        label(ax, 0.1, 3.7, "Stage 1: a pretext task, no labels", BLUE, FONT_PT + 2, ha="left", weight="bold")
        box(ax, 0.1, 2.0, 1.9, 1.25, "unlabelled\nimages")
        box(ax, 2.5, 2.0, 2.1, 1.25, "hide or\ntransform")
        box(ax, 5.1, 2.0, 1.9, 1.25, "backbone", BLUE, weight="bold")
        box(ax, 7.5, 2.0, 1.3, 1.25, "pretext\nhead", BLUE)
        box(ax, 9.2, 2.0, 1.3, 1.25, "target\nfrom the\ndata", GREEN)
        for a, b in [(2.0, 2.5), (4.6, 5.1), (7.0, 7.5), (8.8, 9.2)]:
            arrow(ax, (a, 2.62), (b, 2.62))
        label(ax, 0.1, 1.62, "Stage 2: the task we care about, few labels", GREEN, FONT_PT + 2, ha="left",
              weight="bold")
        box(ax, 0.1, 0.1, 1.9, 1.05, "labelled\nimages")
        box(ax, 5.1, 0.1, 1.9, 1.05, "backbone:\nfrozen or tuned", BLUE)
        box(ax, 7.5, 0.1, 1.3, 1.05, "new\nhead", GREEN)
        box(ax, 9.2, 0.1, 1.3, 1.05, "human\nlabel", GREEN)
        arrow(ax, (2.0, 0.62), (5.1, 0.62))
        arrow(ax, (7.0, 0.62), (7.5, 0.62))
        arrow(ax, (8.8, 0.62), (9.2, 0.62))
        arrow(ax, (6.05, 2.0), (6.05, 1.15), BLUE, lw=3)
        label(ax, 6.2, 1.58, "copy the weights", BLUE, ha="left")
        save_deck(fig, path, tight=False)


def _grid_tiles(image: torch.Tensor, n: int = 3, gap: int = 8):
    """``n x n`` tiles of a ``(3, S, S)`` image, each shrunk by ``gap`` pixels on every side."""
    s = image.shape[-1] // n
    return [image[:, r * s + gap:(r + 1) * s - gap, c * s + gap:(c + 1) * s - gap]
            for r in range(n) for c in range(n)]


def structure_figure(path: Path) -> None:
    """Context prediction (a centre tile and its 8 neighbours, numbered 0-7 like the labels) and a
    jigsaw shuffle of the same tiles."""
    tiles = _grid_tiles(photo("chelsea", 240)[0])
    perm = [7, 2, 5, 0, 8, 3, 6, 1, 4]
    with deck_style():
        fig, axes = plt.subplots(3, 7, figsize=(9.6, 4.3), gridspec_kw={"width_ratios": [1, 1, 1, 0.3, 1, 1, 1]})
        for k in range(9):
            r, c = divmod(k, 3)
            centre = k == 4
            show(axes[r, c], tiles[k], "centre" if centre else f"position {NEIGHBOUR_CELLS.index(k)}",
                 BLUE if centre else None)
            show(axes[r, c + 4], tiles[perm[k]], f"tile {perm[k]}")
        for r in range(3):
            axes[r, 3].axis("off")
        axes[0, 1].set_title("context prediction: where is it?", color=BLUE)
        axes[0, 5].set_title("jigsaw: which permutation?", color=RED)
        save_deck(fig, path)


def reconstruction_figure(path: Path) -> None:
    """Inpainting input (a hole in the middle) and colorization input (lightness only)."""
    from ..color import rgb_to_lab

    image = photo("coffee", 192)
    holed = image[0].clone()
    holed[:, 56:136, 56:136] = 0.5
    light = rgb_to_lab(image)[0, :1] / 100
    with deck_style():
        fig, axes = plt.subplots(1, 4, figsize=(10.4, 3.1))
        for ax, (x, t) in zip(axes, [(holed, "input: the surroundings"), (image[0], "target: the centre"),
                                     (light, "input: lightness L"), (image[0], "target: colours a, b")]):
            show(ax, x, t)
        axes[1].add_patch(plt.Rectangle((55.5, 55.5), 80, 80, fill=False, edgecolor=RED, linewidth=3))
        save_deck(fig, path)


def views_figure(path: Path) -> None:
    """Two random SimCLR views of each of four photographs: a positive pair per column."""
    from ..augment import simclr_view

    torch.manual_seed(3)
    x = torch.cat([photo(n, 160) for n in ("chelsea", "astronaut", "coffee", "rocket")])
    a, b = simclr_view(x, scale=(0.2, 1.0), strength=0.8), simclr_view(x, scale=(0.2, 1.0), strength=0.8)
    with deck_style():
        fig, axes = plt.subplots(2, 4, figsize=(8.4, 4.5))
        for j in range(4):
            show(axes[0, j], a[j])
            show(axes[1, j], b[j], f"image {j + 1}")
        axes[0, 0].set_ylabel("view 1")
        axes[1, 0].set_ylabel("view 2")
        save_deck(fig, path)


def time_figure(path: Path) -> None:
    """A pseudo video (a camera panning over a photograph): frames in order, then shuffled."""
    image = photo("astronaut", 320)[0]
    frames = [image[:, 60:220, 20 + 30 * t:180 + 30 * t] for t in range(5)]
    order = [0, 3, 1, 4, 2]
    with deck_style():
        fig, axes = plt.subplots(2, 5, figsize=(9.6, 4.3))
        for t in range(5):
            show(axes[0, t], frames[t], f"frame {t + 1}")
            show(axes[1, t], frames[order[t]], f"frame {order[t] + 1}", label_colour=RED)
        axes[0, 0].set_ylabel("in order", color=GREEN)
        axes[1, 0].set_ylabel("shuffled", color=RED)
        save_deck(fig, path)


def multimodal_figure(path: Path) -> None:
    """A clip's frames and its soundtrack: two signals of one event."""
    from ..data.audio import SAMPLE_RATE, log_mel
    from .time import FLOWER, deck_clips

    clips = deck_clips()
    spec = log_mel(clips.audio[FLOWER:FLOWER + 1, :SAMPLE_RATE])[0, 0]
    with deck_style():
        fig = plt.figure(figsize=(9.6, 3.8))
        for t in range(4):
            show(fig.add_axes([0.01 + (t % 2) * 0.215, 0.56 - (t // 2) * 0.44, 0.2, 0.33]),
                 clips.video[FLOWER, 3 * t].float() / 255, f"frame {3 * t}")
        ax = fig.add_axes([0.56, 0.2, 0.42, 0.72])
        ax.imshow(spec.numpy(), origin="lower", aspect="auto", cmap="magma", extent=(0, 1, 0, spec.shape[0]))
        ax.set_xlabel("seconds")
        ax.set_ylabel("mel band")
        ax.set_title("the same second, heard")
        fig.text(0.215, 0.93, "the same second, seen", ha="center", fontsize=FONT_PT)
        save_deck(fig, path, tight=False)


def texture_shape_figure(path: Path) -> None:
    """The two cues a label can be learned from: shape (edges) and texture (patches shuffled)."""
    from skimage.feature import canny

    image = photo("chelsea", 224)[0]
    grey = image.mean(0).numpy()
    edges = torch.from_numpy(1.0 - canny(grey, sigma=2.5).astype("float32"))[None]
    g = torch.Generator().manual_seed(0)
    p = 28
    patches = image.unfold(1, p, p).unfold(2, p, p).reshape(3, -1, p, p)
    patches = patches[:, torch.randperm(patches.shape[1], generator=g)]
    n = image.shape[-1] // p
    shuffled = patches.reshape(3, n, n, p, p).permute(0, 1, 3, 2, 4).reshape(3, n * p, n * p)
    with deck_style():
        fig, axes = plt.subplots(1, 3, figsize=(9.0, 3.4))
        show(axes[0], image, "photograph")
        show(axes[1], edges, "shape only: its edges", BLUE)
        show(axes[2], shuffled, "texture only: patches shuffled", RED)
        save_deck(fig, path)


def fill_in_figure(path: Path) -> None:
    """Language's pretext tasks: a hidden word, and whether two sentences follow each other."""
    with deck_style():
        fig, ax = canvas(10.4, 2.5)
        words = ["the", "cat", "sat", "on", "the", "[MASK]", "and", "slept"]
        x = 0.2
        for w in words:
            width = 0.28 + 0.16 * len(w)
            box(ax, x, 1.35, width, 0.7, w, RED if w == "[MASK]" else GREY, FONT_PT + 1)
            if w == "[MASK]":
                arrow(ax, (x + width / 2, 1.35), (x + width / 2, 0.75), RED)
                label(ax, x + width / 2, 0.5, "predict: mat", RED, FONT_PT + 1)
            x += width + 0.12
        label(ax, x + 0.3, 1.95, "next sentence?", BLUE, FONT_PT + 1, ha="left")
        label(ax, x + 0.3, 1.45, "\"It was warm.\"  yes / no", INK_GREY, FONT_PT, ha="left")
        save_deck(fig, path, tight=False)

