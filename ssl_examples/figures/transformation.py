"""Figures for transformation prediction (rotation)."""

from pathlib import Path

from ..methods.rotation import rotate_batch
from .common import image_row, photo


def rotation_figure(path: Path) -> None:
    """A real photograph in the four rotations the network must tell apart, with their labels."""
    x4, labels = rotate_batch(photo("chelsea", 192))
    image_row(list(x4), [f"label {r}: {90 * r}°" for r in labels.tolist()], path)
