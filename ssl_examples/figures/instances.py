"""Figures for instance discrimination and contrastive learning: views made by our augment module."""

from pathlib import Path

import torch

from ..augment import simclr_view
from .common import image_row, photo


def simclr_views_figure(path: Path) -> None:
    """Three photographs, each with two random SimCLR views: the positive pairs of a batch."""
    torch.manual_seed(3)
    images, titles = [], []
    for name in ("chelsea", "astronaut", "coffee"):
        x = photo(name, 128)
        v = simclr_view(x.expand(2, -1, -1, -1), size=128, strength=1.0, blur_p=0.5)
        images += [v[0], v[1]]
        titles += [f"{name}: view 1", f"{name}: view 2"]
    image_row(images, titles, path, width=1.9)


def exemplar_figure(path: Path) -> None:
    """One seed image and distorted crops of it: one surrogate class of an exemplar network."""
    from ..methods.exemplar import RECIPE, exemplar_batch

    torch.manual_seed(0)
    x = (photo("astronaut", 128) * 255).round().to(torch.uint8)
    crops, labels = exemplar_batch(x, torch.tensor([0]), copies=5, strength=RECIPE.strength,
                                   scale=(RECIPE.min_scale, 1.0))
    image_row([x[0].float() / 255] + list(crops), ["seed image"] + [f"class {int(c)}" for c in labels], path,
              width=1.9)
