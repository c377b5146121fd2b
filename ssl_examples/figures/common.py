"""Pieces every figure uses: real photographs from scikit-image and a tidy way to save."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def photo(name: str = "chelsea", size: int = 256) -> torch.Tensor:
    """A photograph shipped with scikit-image as a float ``(1, 3, size, size)`` tensor in [0, 1].

    Centre-cropped to a square, then resized; ``name`` is any offline ``skimage.data`` image
    (astronaut, chelsea, coffee, rocket, ...).
    """
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    h, w = image.shape[:2]
    s = min(h, w)
    image = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s, :3]
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def to_numpy_image(x: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` tensor in [0, 1] -> ``(H, W, C)`` array for ``imshow``."""
    x = x.detach().float().clamp(0, 1).cpu()
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return x.permute(1, 2, 0).numpy()


def image_row(images: list[torch.Tensor], titles: list[str], path: Path, width: float = 2.2) -> None:
    """Save images side by side with a title under each."""
    fig, axes = plt.subplots(1, len(images), figsize=(width * len(images), width + 0.4))
    for ax, image, title in zip(np.atleast_1d(axes), images, titles):
        ax.imshow(to_numpy_image(image))
        ax.set_xlabel(title, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, path)


def save(fig, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
