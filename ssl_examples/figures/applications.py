"""Schematics of the lecture's applications: a self-supervised task beside a main task.

Our own drawings of the idea of each work (no results: the lecture cites the papers'
numbers). Where the input is an image, it is a real photograph turned into what the method
feeds its network (corrupted copies, other "domains", rotated copies, shuffled tiles).
"""

from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ..methods.rotation import rotate_batch
from .common import BLUE, FONT_PT, GREEN, GREY, ORANGE, RED, deck_style, photo, save_deck, show
from .diagrams import arrow, box, canvas, label, picture


def two_heads_figure(path: Path) -> None:
    """The common pattern: one backbone, a main head with labels, a self-supervised head without."""
    x = photo("chelsea", 96)[0]
    with deck_style():
        fig, ax = canvas(9.6, 3.2)
        picture(ax, x, 0.2, 1.0, 1.3, 1.3)
        label(ax, 0.85, 0.7, "image")
        box(ax, 2.2, 1.05, 2.0, 1.2, "shared\nbackbone", BLUE, weight="bold")
        box(ax, 5.0, 1.95, 1.9, 0.95, "main head", GREEN)
        box(ax, 5.0, 0.35, 1.9, 0.95, "self-supervised\nhead", ORANGE, size=FONT_PT - 1)
        box(ax, 7.5, 1.95, 1.9, 0.95, "task loss\n(labels)", GREEN)
        box(ax, 7.5, 0.35, 1.9, 0.95, "pretext loss\n(no labels)", ORANGE)
        arrow(ax, (1.55, 1.65), (2.2, 1.65))
        arrow(ax, (4.2, 1.85), (5.0, 2.42))
        arrow(ax, (4.2, 1.45), (5.0, 0.82))
        arrow(ax, (6.9, 2.42), (7.5, 2.42))
        arrow(ax, (6.9, 0.82), (7.5, 0.82))
        label(ax, 4.1, 0.25, "train on the sum: task loss + λ · pretext loss", GREY, size=11, ha="left")
        save_deck(fig, path, tight=False)


def few_shot_figure(path: Path) -> None:
    """Few-shot learning with rotation as an auxiliary loss: base classes with many labels and a
    rotation head, then novel classes recognised from a handful of examples."""
    base = [photo(n, 64)[0] for n in ("chelsea", "astronaut", "coffee")]
    novel = [photo(n, 64)[0] for n in ("rocket", "motorcycle")]
    x4, _ = rotate_batch(photo("chelsea", 64))
    with deck_style():
        fig, ax = canvas(10.4, 3.6)
        label(ax, 0.1, 3.4, "stage 1: base classes, many labels", BLUE, weight="bold", ha="left")
        for k, b in enumerate(base):
            picture(ax, b, 0.2 + k * 0.85, 1.95, 0.75, 0.75)
        for k, r in enumerate(x4):
            picture(ax, r, 0.2 + k * 0.62, 0.95, 0.55, 0.55, ORANGE)
        label(ax, 1.45, 0.65, "rotated copies", ORANGE)
        box(ax, 2.9, 1.4, 1.5, 1.0, "backbone", BLUE, weight="bold")
        box(ax, 4.8, 2.05, 1.7, 0.7, "class head", GREEN, size=FONT_PT - 1)
        box(ax, 4.8, 1.0, 1.7, 0.7, "rotation head", ORANGE, size=FONT_PT - 1)
        arrow(ax, (2.6, 2.3), (2.9, 2.1))
        arrow(ax, (2.7, 1.25), (2.9, 1.6))
        arrow(ax, (4.4, 2.05), (4.8, 2.4))
        arrow(ax, (4.4, 1.7), (4.8, 1.35))
        label(ax, 6.9, 3.4, "stage 2: new classes, 1-5 labels", GREEN, weight="bold", ha="left")
        for k, n in enumerate(novel):
            picture(ax, n, 7.1 + k * 1.6, 1.7, 1.0, 1.0, GREEN)
            label(ax, 7.6 + k * 1.6, 1.4, f"new class {k + 1}", size=11)
        label(ax, 8.4, 0.7, "richer features adapt\nfrom a handful of images", GREY, size=11)
        save_deck(fig, path, tight=False)


def _corrupt(x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """A few corruptions of the kind CIFAR-10-C applies, at one severity, made here."""
    g = torch.Generator().manual_seed(0)
    noise = (x + 0.15 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    k = torch.tensor([1, 4, 6, 4, 1.0])
    k = (k[:, None] * k[None]) / 256
    blur = F.conv2d(F.pad(x[None], (2, 2, 2, 2), mode="replicate"), k.expand(3, 1, 5, 5), groups=3)[0]
    blur = F.conv2d(F.pad(blur[None], (2, 2, 2, 2), mode="replicate"), k.expand(3, 1, 5, 5), groups=3)[0]
    fog = 0.45 * x + 0.55 * torch.linspace(0.6, 0.95, x.shape[-2])[None, :, None]
    pixelate = F.interpolate(F.interpolate(x[None], scale_factor=1 / 6, mode="area"), size=x.shape[-2:],
                             mode="nearest")[0]
    return [(x, "clean"), (noise, "noise"), (blur, "blur"), (fog, "fog"), (pixelate, "pixelate")]


def robustness_figure(path: Path) -> None:
    """Robustness: corrupted copies of a photograph, the inputs on which an auxiliary rotation
    loss helped (CIFAR-10-C style corruptions, made here from a real photograph)."""
    with deck_style():
        fig, axes = plt.subplots(1, 5, figsize=(10.2, 2.7))
        for ax, (x, name) in zip(axes, _corrupt(photo("coffee", 128)[0])):
            show(ax, x, name, GREEN if name == "clean" else None)
        save_deck(fig, path)


def ood_figure(path: Path) -> None:
    """Out-of-distribution detection with the rotation head: turn a test image four ways and ask
    how surely the head recognises each turn; a low score flags an image unlike the training set."""
    from ..data.world import render_world

    inside = render_world(1, 96, seed=4)[0][0].float() / 255
    outside = photo("hubble_deep_field", 96)[0]
    with deck_style():
        fig, axes = plt.subplots(2, 5, figsize=(8.4, 3.6), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.7]})
        for row, (x, name, colour, verdict) in enumerate([(inside, "training-like", GREEN, "turns easy to tell:\nin distribution"),
                                                         (outside, "unlike training", RED, "turns hard to tell:\nflag it")]):
            for r, xr in enumerate(rotate_batch(x[None])[0]):
                show(axes[row, r], xr, f"{90 * r}°", colour if r == 0 else None, label_colour="#1d1d1f")
            axes[row, 0].set_ylabel(name, color=colour)
            axes[row, 4].axis("off")
            axes[row, 4].text(0.05, 0.5, verdict, va="center", color=colour, transform=axes[row, 4].transAxes)
        save_deck(fig, path)


def domain_generalisation_figure(path: Path) -> None:
    """Domain generalisation with jigsaws: one photograph in three "domains" (photo, sketch,
    painting) and its shuffled tiles, which a jigsaw head orders beside the class head."""
    from skimage.feature import canny

    x = photo("astronaut", 144)[0]
    sketch = torch.from_numpy(1.0 - canny(x.mean(0).numpy(), sigma=2).astype("float32"))[None].expand(3, -1, -1)
    painting = (x * 4).round() / 4  # four levels per channel: flat patches of colour
    s = 48
    tiles = [x[:, r * s:(r + 1) * s, c * s:(c + 1) * s] for r in range(3) for c in range(3)]
    order = [4, 0, 7, 2, 8, 5, 1, 6, 3]
    shuffled = torch.ones(3, 3 * s + 8, 3 * s + 8)
    for k, t in enumerate(order):
        r, c = divmod(k, 3)
        shuffled[:, r * (s + 4):r * (s + 4) + s, c * (s + 4):c * (s + 4) + s] = tiles[t]
    with deck_style():
        fig, axes = plt.subplots(1, 4, figsize=(10.0, 3.4))
        for ax, (im, name, colour) in zip(axes, [(x, "photo", None), (sketch, "sketch", None),
                                                 (painting, "painting", None), (shuffled, "jigsaw: which order?", ORANGE)]):
            show(ax, im, name, colour)
        fig.suptitle("train on some domains, test on an unseen one")
        save_deck(fig, path)


def ss_gan_figure(path: Path) -> None:
    """A GAN discriminator with an auxiliary rotation head: real and generated images, each
    rotated four ways; real/fake on upright images, rotation on all of them."""
    real = photo("chelsea", 64)
    fake = photo("chelsea", 16)  # a blurry stand-in for a generated image
    fake = F.interpolate(fake, size=(64, 64), mode="bilinear", align_corners=False)
    with deck_style():
        fig, ax = canvas(10.4, 3.5)
        for row, (x, name, colour) in enumerate([(real, "real", GREEN), (fake, "generated", ORANGE)]):
            y = 2.0 - row * 1.45
            label(ax, 0.1, y + 0.45, name, colour, ha="left", weight="bold")
            for r, xr in enumerate(rotate_batch(x)[0]):
                picture(ax, xr, 1.6 + r * 0.95, y, 0.85, 0.85, colour if r == 0 else None)
                label(ax, 2.02 + r * 0.95, y - 0.15, f"{90 * r}°", size=11, va="top")
        box(ax, 5.8, 1.05, 1.7, 1.3, "discriminator", BLUE, weight="bold")
        arrow(ax, (5.4, 1.7), (5.8, 1.7))
        box(ax, 8.0, 2.0, 2.3, 0.9, "real or fake?\n(upright only)", GREEN, size=FONT_PT - 1)
        box(ax, 8.0, 0.5, 2.3, 0.9, "which rotation?\n(every image)", ORANGE, size=FONT_PT - 1)
        arrow(ax, (7.5, 1.9), (8.0, 2.4))
        arrow(ax, (7.5, 1.5), (8.0, 0.95))
        save_deck(fig, path, tight=False)


def cycle_figure(path: Path) -> None:
    """Cycle-consistency of time: track a patch forward through a clip, then backward; learning
    asks that the backward track ends where the forward one started."""
    from ..data.world import MAIN
    from .time import FLOWER, deck_clips

    clips = deck_clips()
    frames = [clips.video[FLOWER, t].float() / 255 for t in (0, 4, 8)]
    with deck_style():
        fig, ax = canvas(9.6, 3.3)
        xs = (0.3, 3.6, 6.9)
        for k, (x, f) in enumerate(zip(xs, frames)):
            picture(ax, f, x, 0.5, 2.4, 2.4)
            label(ax, x + 1.2, 0.25, f"frame {4 * k}", size=11)
            # the patch being tracked: the flower's centre in this frame
            cy, cx = torch.nonzero(clips.instances[FLOWER, 4 * k] == MAIN + 1).float().mean(0).tolist()
            u, v = x + 2.4 * cx / f.shape[-1], 0.5 + 2.4 * (1 - cy / f.shape[-2])
            ax.add_patch(plt.Rectangle((u - 0.3, v - 0.3), 0.6, 0.6, fill=False, ec=BLUE, lw=3, zorder=4))
        for a, b in zip(xs[:-1], xs[1:]):
            arrow(ax, (a + 2.45, 2.3), (b - 0.05, 2.3), BLUE, text="forward", size=11)
            arrow(ax, (b - 0.05, 1.1), (a + 2.45, 1.1), ORANGE, text="backward", size=11)
        save_deck(fig, path, tight=False)
