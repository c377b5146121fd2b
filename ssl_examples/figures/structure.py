"""Figures for inferring structure: context prediction and jigsaw puzzles."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from ..methods.context_prediction import NEIGHBOUR_CELLS, cut_grid, drop_colour
from ..methods.jigsaw import max_average_permutations, normalise_tiles, shuffle_tiles
from .common import photo, save, to_numpy_image

# The figures use a 96-px photograph and three times the 32-px defaults, so the grid is visible.
PATCH, GAP, JITTER = 24, 9, 3


def _grid_panel(ax, image, corners, size, colours):
    ax.imshow(to_numpy_image(image))
    for k, (r, c) in enumerate(corners.tolist()):
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), size, size, fill=False, lw=2, ec=colours[k]))
    ax.set_xticks([])
    ax.set_yticks([])


def context_prediction_figure(path: Path) -> None:
    """A photograph with its 3x3 grid of jittered patches, and the eight (centre, neighbour) pairs."""
    torch.manual_seed(3)
    x = photo("chelsea", 96)
    patches, corners = cut_grid(x, PATCH, GAP, JITTER)
    shown = drop_colour(patches[0], 0.67)
    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 3, 1)
    _grid_panel(ax, x[0], corners[0], PATCH, ["white"] * 4 + ["red"] + ["white"] * 4)
    ax.set_xlabel("grid: gap and jitter between patches", fontsize=10)
    for label, cell in enumerate(NEIGHBOUR_CELLS):
        # The centre patch and neighbour `label`, side by side, in the right-hand 2/3 of the figure.
        row, col = divmod(label, 4)
        a = fig.add_axes([0.36 + col * 0.16, 0.52 - row * 0.45, 0.07, 0.36])
        b = fig.add_axes([0.43 + col * 0.16, 0.52 - row * 0.45, 0.07, 0.36])
        a.imshow(to_numpy_image(shown[4]))
        b.imshow(to_numpy_image(shown[cell]))
        for axis in (a, b):
            axis.set_xticks([])
            axis.set_yticks([])
        a.set_xlabel("centre", fontsize=9)
        b.set_xlabel(f"label {label}", fontsize=9)
    save(fig, path)


def jigsaw_figure(path: Path) -> None:
    """A photograph, its nine tiles shuffled by one permutation of the set, and what the network sees."""
    x = photo("astronaut", 96)
    perms = max_average_permutations(100)
    torch.manual_seed(1)
    _, corners = cut_grid(x, PATCH, GAP, JITTER)  # the same draws as inside shuffle_tiles
    torch.manual_seed(1)
    tiles, labels = shuffle_tiles(x, perms, PATCH, GAP, JITTER)
    order = perms[labels[0]].tolist()

    def mosaic(t):
        # Nine tiles in reading order with a 2-px white frame around each.
        t = torch.nn.functional.pad(t, (2, 2, 2, 2), value=1.0)
        s = t.shape[-1]
        return t.view(3, 3, 3, s, s).permute(2, 0, 3, 1, 4).reshape(3, 3 * s, 3 * s)

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.8))
    _grid_panel(axes[0], x[0], corners[0], PATCH, ["yellow"] * 9)
    axes[0].set_xlabel("tiles cut with jitter inside their cells", fontsize=10)
    axes[1].imshow(to_numpy_image(mosaic(tiles[0])))
    axes[1].set_xlabel(f"shuffled by permutation {labels[0].item()}:\n{order}", fontsize=10)
    axes[2].imshow(to_numpy_image(mosaic(normalise_tiles(tiles[0]).clamp(0, 1))))
    axes[2].set_xlabel("each tile normalised on its own\n(the network's input)", fontsize=10)
    for ax in axes[1:]:
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, path)
