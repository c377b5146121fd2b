"""Schematics of the methods after 2020 (the lecture's last section): two-branch networks without
negatives, redundancy reduction, clusters, self-distillation, and masking with transformers.

Our own drawings of each paper's architecture; where an input is shown it is a real
photograph cut the way the method cuts it (views, patches, masks, blocks).
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..augment import simclr_view
from .common import BLUE, FONT_PT, GREEN, GREY, ORANGE, RED, deck_style, photo, save_deck, show
from .diagrams import arrow, box, canvas, label, picture


def collapse_figure(path: Path) -> None:
    """What goes wrong without negatives: embeddings of 2 views of 8 images, spread out, collapsed
    to one point, or collapsed onto a line (a sketch, not a measurement)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 2)) * 1.2
    views = centres[:, None] + 0.12 * rng.normal(size=(8, 2, 2))
    panels = [("wanted: spread out,\nviews of an image close", views, GREEN),
              ("complete collapse:\none point for every image", 0.03 * rng.normal(size=(8, 2, 2)), RED),
              ("dimensional collapse:\nall on one line", np.stack([views[..., 0], 0.3 * views[..., 0]], -1), ORANGE)]
    colours = plt.get_cmap("tab10")(np.arange(8))
    with deck_style():
        fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.6))
        for ax, (name, pts, colour) in zip(axes, panels):
            for i in range(8):
                ax.scatter(pts[i, :, 0], pts[i, :, 1], color=colours[i], s=70)
            ax.set_xlim(-3, 3)
            ax.set_ylim(-3, 3)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            ax.set_title(name, color=colour)
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_edgecolor(colour)
                spine.set_linewidth(2)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.84, bottom=0.02, wspace=0.06)
        save_deck(fig, path, tight=False)


def _views(seed: int = 0, name: str = "chelsea"):
    torch.manual_seed(seed)
    x = photo(name, 112)
    return simclr_view(x, size=112, strength=0.7, scale=(0.3, 1.0))[0], simclr_view(x, size=112, strength=0.7,
                                                                                    scale=(0.3, 1.0))[0]


def _two_branch(path: Path, top: list, bottom: list, loss: str, *, ema: str | None = None,
                stop_gradient: bool = True, shared: str | None = None, top_name: str = "", bottom_name: str = "",
                note: str | None = None, cross: bool = False, extra=None, loss_box=(1.0, 1.3)) -> None:
    """Two views through two branches of boxes that meet in a loss.

    ``top``/``bottom``: box labels from left to right, each ``(text, colour)``; ``ema``: label of a
    dashed arrow from the top branch's weights to the bottom's (a momentum teacher); ``shared``:
    label of a "same weights" link instead; ``stop_gradient``: a barrier on the bottom branch.
    """
    v1, v2 = _views()
    with deck_style():
        fig, ax = canvas(10.6, 3.35)
        ys = (2.0, 0.3)
        for y, image, name in zip(ys, (v1, v2), (top_name, bottom_name)):
            picture(ax, image, 0.15, y, 1.0, 1.0)
            if name:
                label(ax, 0.15, y + 1.15, name, GREY, size=11, ha="left")
        width = 1.55
        ends = []
        for y, boxes in zip(ys, (top, bottom)):
            x = 1.55
            arrow(ax, (1.15, y + 0.5), (x, y + 0.5))
            for k, (text, colour) in enumerate(boxes):
                box(ax, x, y + 0.1, width, 0.8, text, colour, size=FONT_PT - 1)
                x += width
                if k < len(boxes) - 1:
                    arrow(ax, (x, y + 0.5), (x + 0.3, y + 0.5))
                    x += 0.3
            ends.append(x)
        loss_x, (y0, h) = max(ends) + 0.55, loss_box
        box(ax, loss_x, y0, 10.45 - loss_x, h, loss, RED, size=FONT_PT - 1)
        high, low = y0 + 0.77 * h, y0 + 0.23 * h
        if cross:  # swapped predictions: each branch's output meets the other's target
            high, low = low, high
        arrow(ax, (ends[0], ys[0] + 0.5), (loss_x, high), GREY)
        arrow(ax, (ends[1], ys[1] + 0.5), (loss_x, low), GREY)
        if stop_gradient:
            sx = ends[1] + 0.25
            ax.plot([sx - 0.05, sx + 0.05], [ys[1] + 0.25, ys[1] + 0.75], color=RED, lw=4)
            ax.plot([sx + 0.07, sx + 0.17], [ys[1] + 0.25, ys[1] + 0.75], color=RED, lw=4)
            label(ax, sx, ys[1] - 0.1, "stop-gradient", RED, size=11)
        if ema:
            arrow(ax, (2.33, ys[0] + 0.1), (2.33, ys[1] + 0.9), BLUE, dashed=True)
            label(ax, 2.45, 1.65, ema, BLUE, size=11, ha="left")
        if shared:
            ax.plot([2.33, 2.33], [ys[0] + 0.1, ys[1] + 0.9], color=GREY, lw=2, ls=":")
            label(ax, 2.45, 1.65, shared, GREY, size=11, ha="left")
        if note:
            label(ax, 10.45, 3.3, note, GREY, size=11, ha="right", va="top")
        if extra:
            extra(fig, ax)
        save_deck(fig, path, tight=False)


def byol_figure(path: Path) -> None:
    """BYOL: an online network with a predictor regresses a momentum target's projection."""
    _two_branch(path, [("encoder $f_\\theta$", BLUE), ("projector $g_\\theta$", BLUE), ("predictor $q_\\theta$", BLUE)],
                [("encoder $f_\\xi$", GREY), ("projector $g_\\xi$", GREY)],
                "$\\| \\bar q_\\theta(z_1) - \\bar z'_2 \\|^2$\nboth unit length,\nsymmetrised",
                ema="weights: $\\xi \\leftarrow \\tau\\xi + (1 - \\tau)\\theta$", top_name="online",
                bottom_name="target (no gradient)")


def simsiam_figure(path: Path) -> None:
    """SimSiam: one encoder on both views, a predictor on one side, a stop-gradient on the other."""
    _two_branch(path, [("encoder $f$", BLUE), ("predictor $h$", BLUE)], [("encoder $f$", BLUE)],
                "$-\\cos(p_1, \\mathrm{sg}(z_2))$\nsymmetrised", shared="same weights",
                note="remove the predictor or the stop-gradient: it collapses")


def _matrix_panel(title_text, matrix, colour):
    def draw(fig, ax):
        inset = fig.add_axes([0.6, 0.02, 0.3, 0.36])
        inset.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_anchor("E")
        inset.set_ylabel(title_text, color=colour, fontsize=11, rotation=0, ha="right", va="center")
    return draw


def barlow_twins_figure(path: Path) -> None:
    """Barlow Twins: the cross-correlation of the two views' embeddings, pushed to the identity."""
    rng = np.random.default_rng(1)
    c = np.clip(np.eye(8) * 0.75 + 0.25 * rng.normal(size=(8, 8)), -1, 1)
    _two_branch(path, [("encoder $f$", BLUE), ("projector $g$", BLUE)], [("encoder $f$", BLUE), ("projector $g$", BLUE)],
                "cross-correlation $C$\nof $z_1, z_2$ over the batch\n$\\sum_i (1 - C_{ii})^2 + \\lambda \\sum_{i \\neq j} C_{ij}^2$",
                stop_gradient=False, shared="same weights", extra=_matrix_panel("an example C:\nmake it I", c, RED),
                loss_box=(1.55, 1.55))


def vicreg_figure(path: Path) -> None:
    """VICReg: invariance between the views, variance and covariance terms on each branch."""
    _two_branch(path, [("encoder $f$", BLUE), ("expander $h$", BLUE)], [("encoder $f$", BLUE), ("expander $h$", BLUE)],
                "invariance: $\\|z_1 - z_2\\|^2$\nvariance: std of each\ndimension $\\geq 1$\ncovariance: off-diagonal $\\to 0$",
                stop_gradient=False, shared="same weights (or not)")


def swav_figure(path: Path) -> None:
    """SwAV: codes from prototypes, balanced over the batch (Sinkhorn); each view predicts the
    other view's code."""
    _two_branch(path, [("encoder $f$", BLUE), ("projector", BLUE), ("prototypes $C$", ORANGE)],
                [("encoder $f$", BLUE), ("projector", BLUE), ("prototypes $C$", ORANGE)],
                "swapped prediction:\n$\\ell(z_1, q_2) + \\ell(z_2, q_1)$\ncodes $q$ by Sinkhorn,\nequal cluster sizes",
                stop_gradient=False, shared="same weights", cross=True)


def dino_figure(path: Path) -> None:
    """DINO: a student matches a momentum teacher's centred, sharpened distribution."""
    _two_branch(path, [("encoder", BLUE), ("head", BLUE), ("softmax $\\tau_s$", BLUE)],
                [("encoder", GREY), ("head", GREY), ("centre, then\nsoftmax $\\tau_t$", GREY)],
                "cross-entropy\n$-\\sum_k P_t^{(k)} \\log P_s^{(k)}$\nmulti-crop: local crops\nto the student",
                ema="teacher = EMA of student", top_name="student", bottom_name="teacher")


def moco_v3_figure(path: Path) -> None:
    """MoCo v3: a vision transformer in MoCo's frame: query and momentum encoders, InfoNCE
    over the batch, a frozen random patch projection for stability."""
    _two_branch(path, [("ViT", BLUE), ("projector", BLUE), ("predictor", BLUE)], [("ViT", GREY), ("projector", GREY)],
                "InfoNCE: the key of the\nsame image against the\nother keys of the batch,\nsymmetrised",
                ema="momentum encoder", top_name="query encoder", bottom_name="key encoder",
                note="patch projection kept random and frozen: steadier training")


def _patch_mask(n: int, keep: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    visible = torch.zeros(n * n, dtype=torch.bool)
    visible[torch.randperm(n * n, generator=g)[:round(keep * n * n)]] = True
    return visible.view(n, n)


def mae_figure(path: Path) -> None:
    """MAE: a photograph cut into patches, 75 % hidden; the encoder sees the visible quarter, a
    light decoder paints the hidden patches' pixels."""
    x = photo("astronaut", 192)[0]
    n, p = 8, 24
    visible = _patch_mask(n, 0.25)
    masked = x.clone()
    for r in range(n):
        for c in range(n):
            if not visible[r, c]:
                masked[:, r * p:(r + 1) * p, c * p:(c + 1) * p] = 0.85
    grid = masked.clone()
    grid[:, ::p, :] = 1.0
    grid[:, :, ::p] = 1.0
    with deck_style():
        fig, ax = canvas(10.6, 3.2)
        picture(ax, grid, 0.1, 0.45, 2.65, 2.65)
        label(ax, 1.42, 0.2, "input: 25 % of the patches", size=11)
        box(ax, 3.3, 1.2, 1.7, 1.2, "ViT encoder\n(visible\npatches only)", BLUE, size=11)
        box(ax, 5.45, 1.2, 1.7, 1.2, "light decoder\n(+ mask\ntokens)", GREY, size=11)
        arrow(ax, (2.8, 1.8), (3.3, 1.8))
        arrow(ax, (5.0, 1.8), (5.45, 1.8))
        arrow(ax, (7.15, 1.8), (7.6, 1.8))
        picture(ax, x, 7.65, 0.45, 2.65, 2.65, RED)
        label(ax, 8.97, 0.2, "target: pixels of the hidden patches", RED, size=11)
        save_deck(fig, path, tight=False)


def ijepa_figure(path: Path) -> None:
    """I-JEPA: from one context block, predict the representations of four target blocks, given
    by an EMA target encoder (no pixels are predicted)."""
    x = photo("chelsea", 192)[0]
    context = (20, 14, 150, 160)  # x, y, w, h in pixels
    targets = [(110, 20, 60, 44), (24, 120, 70, 48), (120, 118, 56, 60), (70, 60, 48, 40)]
    shown = x.clone() * 0.55 + 0.45
    cx, cy, cw, ch = context
    shown[:, cy:cy + ch, cx:cx + cw] = x[:, cy:cy + ch, cx:cx + cw]
    for tx, ty, tw, th in targets:
        shown[:, ty:ty + th, tx:tx + tw] = 0.55 * x[:, ty:ty + th, tx:tx + tw] + 0.45
    with deck_style():
        fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.4), gridspec_kw={"width_ratios": [1, 1.45]})
        # The targets are washed out like the rest of what the context encoder does not see.
        show(axes[0], shown, "context (blue) minus targets (red)")
        axes[0].add_patch(plt.Rectangle((cx - 0.5, cy - 0.5), cw, ch, fill=False, ec=BLUE, lw=3))
        for tx, ty, tw, th in targets:
            axes[0].add_patch(plt.Rectangle((tx - 0.5, ty - 0.5), tw, th, fill=False, ec=RED, lw=3))
        ax = axes[1]
        ax.axis("off")
        ax.set_xlim(0, 5.4)
        ax.set_ylim(0, 3.6)
        box(ax, 0.1, 2.2, 1.9, 0.95, "context\nencoder", BLUE, size=11)
        box(ax, 2.6, 2.2, 1.9, 0.95, "predictor\n(+ positions)", BLUE, size=11)
        box(ax, 0.1, 0.3, 1.9, 0.95, "target encoder\n(EMA), whole image", GREY, size=11)
        box(ax, 2.6, 0.3, 2.6, 0.95, "L2 between predicted\nand target features", RED, size=11)
        arrow(ax, (2.0, 2.68), (2.6, 2.68))
        arrow(ax, (3.55, 2.2), (3.55, 1.25))
        arrow(ax, (2.0, 0.78), (2.6, 0.78))
        save_deck(fig, path)
