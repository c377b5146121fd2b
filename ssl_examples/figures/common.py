"""Pieces every figure uses: real photographs from scikit-image and a tidy way to save.

Figures of the lecture deck are drawn for a projector: ``deck_style()`` sets a type size that
stays at least ``MIN_LABEL_PX`` pixels high when the image is shown at its natural size on a
1280x720 screen, and ``save_deck`` refuses a figure with any smaller text and records the
smallest size in the PNG (``Min-label-px``), which the deck's tests read back.
"""

from contextlib import contextmanager
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
    (astronaut, chelsea, coffee, rocket, ...) or ``motorcycle``.
    """
    from skimage import data

    # "motorcycle": the left view of scikit-image's stereo pair
    image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
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


# The deck shows its figures at their natural size (one PNG pixel, one CSS pixel of remark's
# 1210x681 slide), so text drawn at DECK_DPI with FONT_PT points is FONT_PT * DECK_DPI / 72 px.
DECK_DPI = 100
FONT_PT = 12          # 16.7 px
MIN_LABEL_PX = 14     # the smallest label allowed on a projected slide
SLIDE_WIDTH_PX = 1090  # what fits between remark's margins without being scaled down
QA_SIZE = (5.3, 3.35)  # a pretext question or answer: two fit side by side (530 x 335 px)
BLUE, GREEN, GREY, RED, ORANGE = "#3f51b5", "#2e7d32", "#5f5f66", "#c62828", "#bf4300"  # all >= 4.5:1 on white
BASELINE_DASHES = ("--", ":", "-.")  # one per random-init line drawn on one chart, so each can be named


@contextmanager
def deck_style():
    """Matplotlib settings for figures a room reads from a projector."""
    with plt.rc_context({"font.size": FONT_PT, "axes.titlesize": FONT_PT, "axes.labelsize": FONT_PT,
                         "xtick.labelsize": FONT_PT - 1, "ytick.labelsize": FONT_PT - 1,
                         "legend.fontsize": FONT_PT - 1, "figure.titlesize": FONT_PT + 1,
                         "figure.dpi": DECK_DPI, "axes.spines.top": False, "axes.spines.right": False}):
        yield


def smallest_text_px(fig, dpi: float = DECK_DPI) -> float:
    """The size in pixels of the smallest visible text of ``fig`` when saved at ``dpi``."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() * dpi / 72 for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())]
    return min(sizes, default=float("inf"))


def baseline_name(baseline_key: str) -> str:
    """``"convnet-64px-1ch"`` -> ``"ConvNet, 64 px, grey"``: a baseline's name for a legend
    (a key of another form is shown as it is)."""
    parts = baseline_key.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].endswith("px"):
        return baseline_key
    backbone, size, channels = parts
    name = {"convnet": "ConvNet", "vit-tiny-half": "ViT"}.get(backbone, backbone)
    return f"{name}, {size[:-2]} px" + (", grey" if channels == "1ch" else "")


def texts_outside(fig) -> list[str]:
    """The texts of ``fig`` placed by hand or by a layout (figure and axes texts, titles, axis
    labels, legends) that reach past its edges, so the saved image cuts them off. Tick labels
    are left out: matplotlib keeps labels for ticks beyond the axes' limits, undrawn."""
    fig.draw_without_rendering()  # axis labels find their places only when the figure is drawn
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    texts = list(fig.texts) + [t for legend in fig.legends for t in legend.get_texts()]
    for ax in fig.axes:
        if ax.get_visible():
            texts += [*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label]
            texts += ax.get_legend().get_texts() if ax.get_legend() else []
    cut = []
    for t in texts:
        if t.get_visible() and t.get_text().strip():
            box = t.get_window_extent(renderer)
            if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
                cut.append(t.get_text())
    return cut


def save_deck(fig, path: Path, tight: bool = True) -> None:
    """Save a deck figure at ``DECK_DPI`` after checking that every label is legible and on it."""
    path = Path(path)
    smallest = smallest_text_px(fig)
    if smallest < MIN_LABEL_PX:
        plt.close(fig)
        raise ValueError(f"{path.name}: text of {smallest:.1f} px, under the {MIN_LABEL_PX} px a projector needs")
    width = fig.get_figwidth() * DECK_DPI
    if width > SLIDE_WIDTH_PX + 0.5:
        plt.close(fig)
        raise ValueError(f"{path.name}: {width:.0f} px wide, wider than a slide ({SLIDE_WIDTH_PX} px)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout(pad=0.4)
    cut = texts_outside(fig)
    if cut:
        plt.close(fig)
        raise ValueError(f"{path.name}: text past the figure's edge: {', '.join(map(repr, cut[:3]))}")
    label = "inf" if smallest == float("inf") else f"{smallest:.1f}"
    fig.savefig(path, dpi=DECK_DPI, metadata={"Software": None, "Min-label-px": label})
    plt.close(fig)


def show(ax, image: torch.Tensor, label: str | None = None, colour: str | None = None, title: str | None = None,
         label_colour: str | None = None):
    """An image in ``ax`` without ticks, an optional label under it and a coloured frame."""
    ax.imshow(to_numpy_image(image), interpolation="nearest" if image.shape[-1] < 64 else "antialiased")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(colour is not None)
        if colour:
            spine.set_edgecolor(colour)
            spine.set_linewidth(4)
    if label:
        ax.set_xlabel(label, color=label_colour or (colour if colour not in (None, "white") else "#1d1d1f"))
    if title:
        ax.set_title(title)


def save(fig, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
