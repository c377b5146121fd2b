"""Figures for inferring structure: context prediction and jigsaw puzzles."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from ..methods.context_prediction import RECIPE, NEIGHBOUR_CELLS, cut_grid, drop_colour
from ..methods.jigsaw import max_average_permutations, normalise_tiles, shuffle_tiles
from .common import BLUE, FONT_PT, GREEN, GREY, QA_SIZE, RED, deck_style, photo, save, save_deck, show, to_numpy_image

# The figures use a 96-px photograph and three times the 32-px defaults, so the grid is visible.
PATCH, GAP, JITTER = 3 * RECIPE.patch, 3 * RECIPE.gap, 3 * RECIPE.jitter


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
    shown = drop_colour(patches[0], RECIPE.colour_drop_p)
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


# --- the lecture deck's question and answer slides --------------------------------------------
# Patch positions are numbered 0-7 in reading order around the centre, as the method's labels
# (NEIGHBOUR_CELLS) and its page and notebook number them.

# photograph, top-left corner of its 3x3 grid (row, column) in a 288-px image, label asked
CONTEXT_PAIRS = (("chelsea", (45, 54), 0), ("rocket", (60, 54), 6))
SIZE, CELL, CELL_GAP, MARGIN = 288, 60, 10, 18
WHERE = ("top left", "above", "top right", "left", "right", "bottom left", "below", "bottom right")


def _cell_box(top_left, cell_index):
    r, c = divmod(cell_index, 3)
    return top_left[0] + r * CELL + CELL_GAP // 2, top_left[1] + c * CELL + CELL_GAP // 2, CELL - CELL_GAP


def _cell_patch(image, top_left, cell_index):
    y, x, s = _cell_box(top_left, cell_index)
    return image[:, y:y + s, x:x + s]


def _position_key(ax):
    """The 3x3 answer space: the centre and the eight positions, numbered as the labels are."""
    ax.set_xlim(0, 3)
    ax.set_ylim(3, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    for cell in range(9):
        r, c = divmod(cell, 3)
        colour, text = (BLUE, "C") if cell == 4 else (GREY, str(NEIGHBOUR_CELLS.index(cell)))
        ax.add_patch(Rectangle((c + 0.06, r + 0.06), 0.88, 0.88, fill=False, lw=2.5, ec=colour))
        ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", color=colour, fontsize=FONT_PT + 4,
                weight="bold")


def context_prediction_qa(path: Path, part: str) -> None:
    """Question: two (centre, neighbour) pairs of patches. Answer: where the neighbour was cut."""
    with deck_style():
        fig = plt.figure(figsize=QA_SIZE)
        if part == "q":
            grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.3])
            for row, (name, top_left, label) in enumerate(CONTEXT_PAIRS):
                image = photo(name, SIZE)[0]
                show(fig.add_subplot(grid[row, 0]), _cell_patch(image, top_left, 4), "centre", BLUE)
                show(fig.add_subplot(grid[row, 1]), _cell_patch(image, top_left, NEIGHBOUR_CELLS[label]),
                     "neighbour", RED)
            key = fig.add_subplot(grid[:, 2])
            _position_key(key)
            key.set_title("8 possible answers")
        else:
            for col, (name, (y0, x0), label) in enumerate(CONTEXT_PAIRS):
                image = photo(name, SIZE)[0]
                ax = fig.add_subplot(1, 2, col + 1)
                show(ax, image[:, y0 - MARGIN:y0 + 3 * CELL + MARGIN, x0 - MARGIN:x0 + 3 * CELL + MARGIN])
                for cell in range(9):
                    y, x, s = _cell_box((MARGIN, MARGIN), cell)
                    colour = BLUE if cell == 4 else RED if cell == NEIGHBOUR_CELLS[label] else "white"
                    ax.add_patch(Rectangle((x - 0.5, y - 0.5), s, s, fill=False, ec=colour,
                                           lw=3.5 if colour != "white" else 1.2))
                ax.set_xlabel(f"answer: {label} ({WHERE[label]})", color=RED)
        save_deck(fig, path)


JIGSAW_PHOTO, JIGSAW_SET = "astronaut", 100


def _tiles(image, n=3, gap=10):
    s = image.shape[-1] // n
    return [image[:, r * s + gap // 2:(r + 1) * s - gap // 2, c * s + gap // 2:(c + 1) * s - gap // 2]
            for r in range(n) for c in range(n)]


def _mosaic(ax, tiles, order, numbers=False, colour=None):
    """Tiles laid out on a 3x3 grid: position k shows ``tiles[order[k]]``."""
    s = tiles[0].shape[-1]
    canvas = torch.ones(3, 3 * s + 8, 3 * s + 8)
    for k, t in enumerate(order):
        r, c = divmod(k, 3)
        canvas[:, r * (s + 4):r * (s + 4) + s, c * (s + 4):c * (s + 4) + s] = tiles[t]
    show(ax, canvas)
    if numbers:
        for k, t in enumerate(order):
            r, c = divmod(k, 3)
            ax.text(c * (s + 4) + 6, r * (s + 4) + 6, str(t), ha="left", va="top", color="white",
                    fontsize=FONT_PT + 1, weight="bold", bbox=dict(boxstyle="round,pad=0.15", fc=colour or GREY, lw=0))


def jigsaw_qa(path: Path, part: str) -> None:
    """Question: nine tiles shuffled by one permutation of a fixed set. Answer: that permutation."""
    from ..methods.jigsaw import permutation_set

    perms = permutation_set(JIGSAW_SET)
    # the first permutation of the set that moves every tile: a puzzle worth asking
    moved = (perms != torch.arange(perms.shape[1])).sum(1)
    index = int(moved.argmax())
    order = perms[index].tolist()
    tiles = _tiles(photo(JIGSAW_PHOTO, 240)[0])
    with deck_style():
        fig, axes = plt.subplots(1, 2, figsize=QA_SIZE)
        if part == "q":
            _mosaic(axes[0], tiles, order)
            axes[0].set_xlabel("the network's nine tiles")
            axes[1].axis("off")
            axes[1].text(0.5, 0.62, f"which of the\n{JIGSAW_SET} permutations\nof the set?", ha="center",
                         va="center", fontsize=FONT_PT + 3, color=BLUE, transform=axes[1].transAxes)
            axes[1].text(0.5, 0.18, f"{len(perms)} classes,\nchosen far apart", ha="center", va="center",
                         color=GREY, transform=axes[1].transAxes)
        else:
            _mosaic(axes[0], tiles, order, numbers=True, colour=RED)
            axes[0].set_xlabel("each tile's true position")
            _mosaic(axes[1], tiles, range(9), numbers=True, colour=GREEN)
            axes[1].set_xlabel("solved")
            fig.suptitle(f"answer: permutation {index} = ({' '.join(map(str, order))})",
                         color=RED)
        save_deck(fig, path)
