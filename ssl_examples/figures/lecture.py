"""Figures of the lecture deck and the section pages (docs/lecture/): diagrams drawn with
matplotlib, pretext targets made from scikit-image photographs, and the benchmark chart."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .common import photo, save, to_numpy_image

BENCH = Path(__file__).resolve().parents[2] / "docs" / "results" / "bench.json"
BLUE, GREEN, GREY, RED = "#3f51b5", "#2e7d32", "#6b6b70", "#c62828"


def _box(ax, x, y, w, h, text, colour, size=12, fill=None):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                linewidth=2, edgecolor=colour, facecolor=fill or "white"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, color="#1d1d1f")


def _arrow(ax, a, b, colour=GREY):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=18, linewidth=2, color=colour))


def pipeline_figure(path: Path) -> None:
    """The two-stage pipeline: pretext task without labels, then a downstream task with few."""
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    ax.text(0.1, 3.9, "Stage 1: pretext task (no labels)", fontsize=14, color=BLUE, weight="bold", va="top")
    _box(ax, 0.1, 2.0, 2.0, 1.2, "unlabelled\nimages", GREY)
    _box(ax, 2.7, 2.0, 2.0, 1.2, "transform\n(rotate, hide, crop)", GREY)
    _box(ax, 5.3, 2.0, 2.0, 1.2, "backbone\n$F_\\theta$", BLUE, fill="#eef0fb")
    _box(ax, 7.9, 2.0, 1.4, 1.2, "pretext\nhead", BLUE)
    _box(ax, 9.7, 2.0, 1.2, 1.2, "target\nfrom data", GREEN)
    for a, b in [(2.1, 2.7), (4.7, 5.3), (7.3, 7.9), (9.3, 9.7)]:
        _arrow(ax, (a, 2.6), (b, 2.6))
    ax.text(0.1, 1.55, "Stage 2: downstream task (few labels)", fontsize=14, color=GREEN, weight="bold", va="top")
    _box(ax, 0.1, 0.1, 2.0, 1.0, "labelled\nimages", GREY)
    _box(ax, 5.3, 0.1, 2.0, 1.0, "same backbone\nfrozen or fine-tuned", BLUE, size=11, fill="#eef0fb")
    _box(ax, 7.9, 0.1, 1.4, 1.0, "new\nhead", GREEN)
    _box(ax, 9.7, 0.1, 1.2, 1.0, "human\nlabel", GREEN)
    _arrow(ax, (2.1, 0.6), (5.3, 0.6))
    _arrow(ax, (7.3, 0.6), (7.9, 0.6))
    _arrow(ax, (9.3, 0.6), (9.7, 0.6))
    _arrow(ax, (6.3, 2.0), (6.3, 1.1), BLUE)
    ax.text(6.4, 1.55, "copy the weights", fontsize=10, color=BLUE, va="center")
    save(fig, path)


def _grid_tiles(image: torch.Tensor, n: int = 3, gap: int = 8):
    """``n x n`` tiles of a ``(3, S, S)`` image, each shrunk by ``gap`` pixels on every side."""
    s = image.shape[-1] // n
    return [image[:, r * s + gap:(r + 1) * s - gap, c * s + gap:(c + 1) * s - gap]
            for r in range(n) for c in range(n)]


def structure_figure(path: Path) -> None:
    """Context prediction (a centre tile and its 8 numbered neighbours) and a jigsaw shuffle."""
    image = photo("chelsea", 240)[0]
    tiles = _grid_tiles(image)
    fig, axes = plt.subplots(3, 7, figsize=(10.5, 4.6), gridspec_kw={"width_ratios": [1, 1, 1, 0.35, 1, 1, 1]})
    labels = [1, 2, 3, 4, None, 5, 6, 7, 8]
    perm = [7, 2, 5, 0, 8, 3, 6, 1, 4]
    for k in range(9):
        r, c = divmod(k, 3)
        a = axes[r, c]
        a.imshow(to_numpy_image(tiles[k]))
        a.set_title("centre" if labels[k] is None else f"position {labels[k]}", fontsize=9,
                    color=BLUE if labels[k] is None else "#1d1d1f")
        b = axes[r, c + 4]
        b.imshow(to_numpy_image(tiles[perm[k]]))
        b.set_title(f"tile {perm[k] + 1}", fontsize=9)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    for r in range(3):
        axes[r, 3].axis("off")
    fig.suptitle("context prediction: where is this tile?          jigsaw: which permutation?", fontsize=12)
    save(fig, path)


def reconstruction_figure(path: Path) -> None:
    """Inpainting input (a hole in the middle) and colorization input (lightness only)."""
    from skimage.color import rgb2lab

    image = photo("coffee", 192)[0]
    holed = image.clone()
    holed[:, 56:136, 56:136] = 0.5
    lab = rgb2lab(to_numpy_image(image))
    light = torch.from_numpy(lab[..., 0] / 100.0).float()[None].expand(3, -1, -1)
    panels = [(holed, "input: the surroundings"), (image, "target: the missing centre"),
              (light, "input: lightness L"), (image, "target: colours a, b")]
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2))
    for a, (x, t) in zip(axes, panels):
        a.imshow(to_numpy_image(x))
        a.set_xlabel(t, fontsize=11)
        a.set_xticks([])
        a.set_yticks([])
    axes[1].add_patch(plt.Rectangle((56, 56), 80, 80, fill=False, edgecolor=RED, linewidth=2))
    save(fig, path)


def views_figure(path: Path) -> None:
    """Two random SimCLR views of each of three photographs: a positive pair per column."""
    from ..augment import simclr_view

    torch.manual_seed(3)
    x = torch.cat([photo(n, 160) for n in ("chelsea", "astronaut", "coffee", "rocket")])
    a, b = simclr_view(x, scale=(0.2, 1.0), strength=0.8), simclr_view(x, scale=(0.2, 1.0), strength=0.8)
    fig, axes = plt.subplots(2, 4, figsize=(9, 4.8))
    for j in range(4):
        for i, v in enumerate((a, b)):
            axes[i, j].imshow(to_numpy_image(v[j]))
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[1, j].set_xlabel(f"image {j + 1}: a positive pair", fontsize=10)
    axes[0, 0].set_ylabel("view 1", fontsize=11)
    axes[1, 0].set_ylabel("view 2", fontsize=11)
    save(fig, path)


def time_figure(path: Path) -> None:
    """A pseudo video (a camera panning over a photograph): frames in order, then shuffled."""
    image = photo("astronaut", 320)[0]
    frames = [image[:, 60:220, 20 + 30 * t:180 + 30 * t] for t in range(5)]
    order = [0, 3, 1, 4, 2]
    fig, axes = plt.subplots(2, 5, figsize=(10, 4.6))
    for t in range(5):
        axes[0, t].imshow(to_numpy_image(frames[t]))
        axes[0, t].set_xlabel(f"frame {t + 1}", fontsize=10)
        axes[1, t].imshow(to_numpy_image(frames[order[t]]))
        axes[1, t].set_xlabel(f"frame {order[t] + 1}", fontsize=10, color=RED)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    axes[0, 0].set_ylabel("in order", fontsize=11, color=GREEN)
    axes[1, 0].set_ylabel("shuffled", fontsize=11, color=RED)
    save(fig, path)


def bench_figure(path: Path, bench: Path = BENCH) -> None:
    """Linear-probe accuracy of every benchmarked method, with the random-init and supervised lines."""
    results = json.loads(bench.read_text()) if bench.exists() else {"methods": {}, "baselines": {}}
    methods = sorted(results.get("methods", {}).items(), key=lambda kv: kv[1]["linear"])
    fig, ax = plt.subplots(figsize=(9, 0.45 * max(len(methods), 4) + 1.4))
    if not methods:
        ax.text(0.5, 0.5, "no benchmark yet: run `python -m ssl_examples bench`", ha="center", va="center",
                fontsize=13, color=GREY)
        ax.axis("off")
        save(fig, path)
        return
    names = [n for n, _ in methods]
    y = np.arange(len(names))
    ax.barh(y - 0.2, [100 * r["linear"] for _, r in methods], height=0.4, color=BLUE, label="linear probe")
    ax.barh(y + 0.2, [100 * r["knn"] for _, r in methods], height=0.4, color="#9fa8da", label="kNN")
    keys = {r["baseline"] for _, r in methods}
    for key in sorted(keys):
        b = results["baselines"][key]
        ax.axvline(100 * b["random_init"]["linear"], color=GREY, linestyle="--", linewidth=1.5,
                   label=f"random init, linear ({key})")
        ax.axvline(100 * b["supervised"]["linear"], color=GREEN, linestyle="-", linewidth=1.5,
                   label=f"supervised, linear ({key})")
    ax.set_yticks(y, names)
    ax.set_xlabel("top-1 accuracy (%) on the embedded world's test split")
    ax.legend(fontsize=8, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    save(fig, path)


LECTURE_FIGURES = {
    "lecture-pipeline.png": pipeline_figure,
    "lecture-structure.png": structure_figure,
    "lecture-reconstruction.png": reconstruction_figure,
    "lecture-views.png": views_figure,
    "lecture-time.png": time_figure,
    "lecture-bench.png": bench_figure,
}
