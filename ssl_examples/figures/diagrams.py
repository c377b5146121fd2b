"""Boxes and arrows for the deck's schematics: pipelines, two-branch networks, losses.

Everything is drawn in data coordinates of one axis without ticks; ``canvas`` makes that
axis at deck size, so the text stays legible on a projector (see ``common.deck_style``).
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .common import BLUE, FONT_PT, GREEN, GREY, ORANGE, RED, to_numpy_image

INK = "#1d1d1f"
FILLS = {BLUE: "#eef0fb", GREEN: "#e8f5e9", RED: "#fdecea", GREY: "#f3f3f5", ORANGE: "#fff3e0"}


def canvas(width: float, height: float, figsize=None):
    """A figure whose single axis spans ``[0, width] x [0, height]`` in data units (1 unit = 1 inch)."""
    fig, ax = plt.subplots(figsize=figsize or (width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    fig.subplots_adjust(0, 0, 1, 1)
    return fig, ax


def box(ax, x, y, w, h, text, colour=GREY, size=FONT_PT, filled=True, weight="normal"):
    """A rounded box with centred text; ``(x, y)`` is its lower-left corner."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", linewidth=2,
                                edgecolor=colour, facecolor=FILLS.get(colour, "white") if filled else "white"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, color=INK, weight=weight)


def arrow(ax, a, b, colour=GREY, style="-|>", lw=2, dashed=False, text=None, text_side=0.12, size=FONT_PT - 1):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=18, linewidth=lw, color=colour,
                                 linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0))
    if text:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + text_side, text, ha="center", va="bottom",
                fontsize=size, color=colour)


def picture(ax, image, x, y, w, h, colour=None):
    """A photograph or frame placed at ``(x, y)`` with size ``(w, h)`` in data units."""
    ax.imshow(to_numpy_image(image), extent=(x, x + w, y, y + h), zorder=2)
    if colour:
        ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, ec=colour, lw=3, zorder=3))
    ax.set_xlim(*ax.get_xlim())
    ax.set_ylim(*ax.get_ylim())


def label(ax, x, y, text, colour=INK, size=FONT_PT, ha="center", va="center", **kw):
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, color=colour, **kw)
