"""Figures of the application pages and slides: what the experiment looks at, and its stored
result (``docs/results/applications/<name>.json``) as bars with their 95 % intervals.

A figure whose results are not stored yet shows the images and names the command to run."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..stats import mean_interval
from .common import BLUE, GREY, ORANGE, deck_style, save_deck, to_numpy_image

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "applications"
# Blue for the plain model, orange for the self-supervised one (distinct for colour-blind readers);
# a third bar (the OOD rotation score) in dark brown.
COLOURS = (BLUE, ORANGE, "#7a2a00")
SIZE = (10.8, 4.4)  # inches at the deck's 100 dpi: a full slide width


def deck_figure(draw):
    """Draw ``draw(path)`` with the deck's projector-sized text."""
    def wrapped(path: Path) -> None:
        with deck_style():
            draw(path)
    wrapped.__doc__ = draw.__doc__
    return wrapped


def _stored(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()).get("test") if path.exists() else None


def _table(part: dict, table_id: str) -> dict:
    return next(t for t in part["tables"] if t["id"] == table_id)


def _bars(ax, table: dict, rows: list[str] | None = None, ylabel: str = "", columns: list[int] | None = None,
          labels: list[str] | None = None, ylim=None, chance: float | None = None) -> None:
    """Grouped bars: one group per row of ``table``, one bar per column, mean ± 95 % interval;
    a dashed line at ``chance`` (in the table's unit) if given."""
    if chance is not None:
        ax.axhline(chance, color=GREY, linestyle="--", linewidth=1.5, label="chance", zorder=0)
    picked = [r for r in table["rows"] if rows is None or r["label"] in rows]
    columns = columns if columns is not None else list(range(len(table["columns"])))
    width = 0.8 / len(columns)
    scale = table.get("scale", 1)
    top = 0.0
    for j, c in enumerate(columns):
        stats = [mean_interval(r["cells"][c]) for r in picked]
        means = [scale * m for m, _ in stats]
        halves = [scale * h if h == h else 0 for _, h in stats]  # NaN (one seed): no bar
        top = max(top, *(m + h for m, h in zip(means, halves)))
        x = np.arange(len(picked)) + (j - (len(columns) - 1) / 2) * width
        ax.bar(x, means, width, yerr=halves, capsize=3, color=COLOURS[j % len(COLOURS)],
               label=labels[j] if labels else table["columns"][c])
    ax.set_xticks(np.arange(len(picked)), [r["label"] for r in picked])
    ax.set_ylabel(ylabel)
    ax.set_ylim(*(ylim or (0, 1.3 * top)))  # room for the legend above the bars
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, loc="upper right")


def _missing(ax, name: str) -> None:
    ax.axis("off")
    ax.text(0.5, 0.5, f"results not stored yet:\npython -m ssl_examples apply {name}", ha="center", va="center")


def _image(ax, image: torch.Tensor, title: str = "") -> None:
    ax.imshow(to_numpy_image(image.float() / 255 if image.dtype == torch.uint8 else image), interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def robustness_figure(path: Path) -> None:
    """A test image under each corruption (severity 3), and accuracy per corruption."""
    from ..applications.robustness import CORRUPTIONS, corrupt
    from ..data.world import world_split

    images, _, _ = world_split("test", 4)
    image = images[1:2]
    fig = plt.figure(figsize=SIZE)
    grid = fig.add_gridspec(2, 6, width_ratios=[1, 1, 1, 0.15, 3.2, 0.05])
    shown = [("clean", image)] + [(name, corrupt(image, name, 3, seed=7)) for name in CORRUPTIONS]
    for k, (name, x) in enumerate(shown):
        _image(fig.add_subplot(grid[k // 3, k % 3]), x[0], name)
    ax = fig.add_subplot(grid[:, 4])
    part = _stored("robustness")
    if part is None:
        _missing(ax, "robustness")
    else:
        _bars(ax, _table(part, "corruptions"), ylabel="top-1 accuracy (%)")
        plt.setp(ax.get_xticklabels(), rotation=35, ha="right", rotation_mode="anchor")
    save_deck(fig, path)


def ood_figure(path: Path) -> None:
    """In-distribution images, held-out classes, object-free backgrounds; AUROC per score."""
    from ..applications.ood import IN_CLASSES, object_free
    from ..data.world import CLASSES, world_split

    images, _, labels = world_split("test", 40)
    inside = [i for i in range(40) if labels[i] < IN_CLASSES][:2]
    outside = [i for i in range(40) if labels[i] >= IN_CLASSES][:2]
    backgrounds = object_free(2, "test")
    fig = plt.figure(figsize=SIZE)
    grid = fig.add_gridspec(2, 5, width_ratios=[1, 1, 1, 0.15, 3.4])
    for r in range(2):
        _image(fig.add_subplot(grid[r, 0]), images[inside[r]], f"in: {CLASSES[labels[inside[r]]]}")
        _image(fig.add_subplot(grid[r, 1]), images[outside[r]], f"held out: {CLASSES[labels[outside[r]]]}")
        _image(fig.add_subplot(grid[r, 2]), backgrounds[r], "background")
    ax = fig.add_subplot(grid[:, 4])
    part = _stored("ood")
    if part is None:
        _missing(ax, "ood")
    else:
        # From zero, as bars must be (their lengths are compared); the space above 100 holds the key.
        _bars(ax, _table(part, "auroc"), ylabel="AUROC (%)", ylim=(0, 128), chance=50,
              labels=["max softmax", "max softmax, + rotation head", "rotation score, + rotation head"])
        ax.set_yticks(range(0, 101, 20))
    save_deck(fig, path)


def jigen_figure(path: Path) -> None:
    """One scene in the three styles and as a jigsaw; accuracy on each held-out style."""
    from ..applications.jigen import jigsaw_classes, shuffle_tiles_in_image
    from ..data.world import CLASSES, STYLES, render_style, scenes_for

    scenes = scenes_for(6, seed=11)[3:4]
    fig = plt.figure(figsize=SIZE)
    grid = fig.add_gridspec(2, 5, width_ratios=[1, 1, 0.1, 0.15, 3.4])
    views = [render_style(scenes, 90, style)[0] for style in STYLES]
    torch.manual_seed(3)
    shuffled, _ = shuffle_tiles_in_image(views[0][None], jigsaw_classes(), ordered_fraction=0.0)
    for k, (image, title) in enumerate(zip(views + [shuffled[0]], list(STYLES) + ["jigsaw (photo)"])):
        _image(fig.add_subplot(grid[k // 2, k % 2]), image, title)
    ax = fig.add_subplot(grid[:, 4])
    part = _stored("jigen")
    if part is None:
        _missing(ax, "jigen")
    else:
        _bars(ax, _table(part, "leave-one-domain-out"), ylabel="top-1 on the held-out style (%)",
              chance=100 / len(CLASSES),
              labels=["supervised (Deep All)", "+ jigsaw head (JiGen)"])
    save_deck(fig, path)


def fewshot_figure(path: Path) -> None:
    """A 5-way 1-shot test episode on the novel classes; accuracy with and without rotations."""
    from ..applications.fewshot import NOVEL_CLASSES, sample_episode
    from ..data.world import CLASSES, world_split

    images, _, labels = world_split("test", 300)
    idx, picked = sample_episode(labels, NOVEL_CLASSES, 5, 1, 1, torch.Generator().manual_seed(2))
    fig = plt.figure(figsize=SIZE)
    grid = fig.add_gridspec(2, 7, width_ratios=[1, 1, 1, 1, 1, 0.15, 4.2])
    for k in range(5):
        top, bottom = fig.add_subplot(grid[0, k]), fig.add_subplot(grid[1, k])
        _image(top, images[idx[k, 0]], CLASSES[picked[k]])
        _image(bottom, images[idx[(k + 2) % 5, 1]], "?")
        if k == 0:
            top.set_ylabel("support: 1 shot")
            bottom.set_ylabel("queries")
    ax = fig.add_subplot(grid[:, 6])
    part = _stored("fewshot")
    if part is None:
        _missing(ax, "fewshot")
    else:
        _bars(ax, _table(part, "novel"), ylabel="5-way accuracy, novel classes (%)", chance=20,
              labels=["prototypical network", "+ rotation loss"])
    save_deck(fig, path)


def ssgan_figure(path: Path) -> None:
    """Real images beside the stored samples of both GANs (seed 0), each with its distance."""
    from ..applications.ssgan import grid as sample_grid
    from ..data.world import world_split

    part = _stored("ssgan")
    real = sample_grid(world_split("test", 36)[0], rows=6)
    panels = [("real test images", real)]
    if part is not None:
        from PIL import Image

        table = _table(part, "frechet")
        for key, column in zip(("dcgan", "ssgan"), table["columns"]):
            picture = torch.from_numpy(np.asarray(Image.open(RESULTS / part["samples"][key]).convert("RGB")))
            picture = picture.permute(2, 0, 1)
            cells = table["rows"][0]["cells"][table["columns"].index(column)]
            mean, half = mean_interval(cells)
            panels.append((f"{column}\nFréchet distance {mean:.2f} ± {half:.2f}", picture[:, :6 * 34 + 2, :6 * 34 + 2]))
    fig, axes = plt.subplots(1, 3, figsize=SIZE)
    for ax, (title, picture) in zip(axes, panels):
        _image(ax, picture, title)
    for ax in axes[len(panels):]:
        _missing(ax, "ssgan")
    save_deck(fig, path)


APPLICATION_FIGURES = {
    "application-robustness.png": deck_figure(robustness_figure),
    "application-ood.png": deck_figure(ood_figure),
    "application-jigen.png": deck_figure(jigen_figure),
    "application-fewshot.png": deck_figure(fewshot_figure),
    "application-ssgan.png": deck_figure(ssgan_figure),
}
