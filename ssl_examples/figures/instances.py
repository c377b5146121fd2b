"""Figures for instance discrimination and contrastive learning: views made by our augment module."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ..augment import simclr_view
from .common import BLUE, GREEN, GREY, ORANGE, QA_SIZE, RED, deck_style, image_row, photo, save_deck, show


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


# --- the lecture deck's question and answer slides --------------------------------------------

BANK = ("chelsea", "astronaut", "coffee", "rocket", "motorcycle", "hubble_deep_field", "retina", "camera")


def _photos(names, size):
    return torch.cat([photo(n, size) for n in names])


def exemplar_qa(path: Path, part: str) -> None:
    """Question: a distorted crop and six candidates. Answer: the two cut from the same photograph."""
    from ..methods.exemplar import RECIPE, exemplar_batch

    names = ("astronaut", "chelsea", "rocket")
    torch.manual_seed(0)  # a draw whose query crop is visibly cropped and tinted (seed 2's was nearly the photo)
    crops, labels = exemplar_batch((_photos(names, 160) * 255).round().to(torch.uint8), torch.arange(3), copies=3,
                                   strength=RECIPE.strength, scale=(RECIPE.min_scale, 1.0))
    anchor = crops[0]  # copy 0 of image 0
    order = [4, 3, 6, 5, 8, 7]  # the other copies, shuffled: images 1, 0, 0, 2, 2, 1
    with deck_style():
        fig = plt.figure(figsize=QA_SIZE)
        grid = fig.add_gridspec(2, 4, width_ratios=[1.25, 1, 1, 1])
        show(fig.add_subplot(grid[:, 0]), anchor, "this crop", BLUE)
        for k, i in enumerate(order):
            ax = fig.add_subplot(grid[k // 3, 1 + k % 3])
            same = int(labels[i]) == 0
            if part == "q":
                show(ax, crops[i], f"crop {k + 1}")
            else:
                show(ax, crops[i], f"class {int(labels[i])}", GREEN if same else RED)
        fig.suptitle("which crops share its source photo?" if part == "q"
                     else "class 0: positives; other images: negatives",
                     color=BLUE if part == "q" else RED)
        save_deck(fig, path)


def thumbnail_features(x: torch.Tensor) -> torch.Tensor:
    """Unit-length 8x8 colour thumbnails: features without a network, for the NPID figure."""
    small = F.interpolate(x, size=(8, 8), mode="area")
    return F.normalize((small - small.mean(dim=(1, 2, 3), keepdim=True)).flatten(1), dim=1)


NPID_QUERY, NPID_TEMPERATURE = 2, 0.07


def npid_qa(path: Path, part: str) -> None:
    """Question: a view and a memory bank of stored images. Answer: the non-parametric softmax."""
    bank_images = _photos(BANK, 96)
    torch.manual_seed(0)
    query = simclr_view(bank_images[NPID_QUERY:NPID_QUERY + 1], size=96, scale=(0.5, 1.0), strength=0.3,
                        grey_p=0.0)
    bank = thumbnail_features(bank_images)
    similarity = bank @ thumbnail_features(query)[0]
    p = torch.softmax(similarity / NPID_TEMPERATURE, dim=0)
    with deck_style():
        fig = plt.figure(figsize=QA_SIZE)
        show(fig.add_axes([0.01, 0.3, 0.27, 0.43]), query[0], "view of image i", BLUE)
        if part == "q":
            for j in range(len(BANK)):
                show(fig.add_axes([0.31 + (j % 4) * 0.175, 0.56 - (j // 4) * 0.46, 0.15, 0.3]), bank_images[j],
                     f"$v_{j}$")
            fig.suptitle("memory bank: which entry is this image?", color=BLUE)
        else:
            ax = fig.add_axes([0.49, 0.14, 0.49, 0.7])
            colours = [RED if j == NPID_QUERY else GREY for j in range(len(BANK))]
            ax.bar(range(len(BANK)), similarity.numpy(), color=colours)
            ax.set_xticks(range(len(BANK)), [f"$v_{j}$" for j in range(len(BANK))])
            ax.set_ylabel("similarity $v_j^\\top v$")
            ax.set_title(f"P({NPID_QUERY} | v) = {p[NPID_QUERY]:.2f} at τ = {NPID_TEMPERATURE}", color=RED)
        save_deck(fig, path, tight=False)


SIMCLR_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")
SIMCLR_SHUFFLE = (5, 2, 0, 7, 3, 6, 1, 4)  # view k of the question shows view SIMCLR_SHUFFLE[k]
PAIR_COLOURS = (BLUE, ORANGE, GREEN, "#8e24aa")


def simclr_qa(path: Path, part: str) -> None:
    """Question: eight views of a batch of four photographs. Answer: the four positive pairs."""
    torch.manual_seed(3)
    x = _photos(SIMCLR_PHOTOS, 128)
    views = torch.cat([simclr_view(x, size=128, strength=0.8, scale=(0.2, 1.0)) for _ in range(2)])  # 2N
    with deck_style():
        fig, axes = plt.subplots(2, 4, figsize=QA_SIZE)
        if part == "q":
            for k, ax in enumerate(axes.flat):
                show(ax, views[SIMCLR_SHUFFLE[k]], "ABCDEFGH"[k])
            fig.suptitle("2N = 8 views: which ones are pairs?", color=BLUE)
        else:
            for j in range(4):
                for row in range(2):
                    v = j + row * 4
                    letter = "ABCDEFGH"[SIMCLR_SHUFFLE.index(v)]
                    show(axes[row, j], views[v], letter, PAIR_COLOURS[j], label_colour="#1d1d1f")
            fig.suptitle("a column is a positive pair; 6 negatives each", color=RED)
        # The answer's frames reach past their axes, over the letters of the row above unless
        # the rows stand further apart; the question gets the same layout, so nothing moves.
        fig.tight_layout(pad=0.4, h_pad=1.0)
        save_deck(fig, path, tight=False)


MOCO_PHOTOS = ("astronaut", "chelsea", "coffee", "motorcycle", "retina", "rocket")
MOCO_POSITIVE = 3  # where the positive key is shown among the keys


def moco_qa(path: Path, part: str) -> None:
    """Question: a query and six keys. Answer: the positive key of this batch; the queue's keys are negatives."""
    torch.manual_seed(5)
    x = _photos(MOCO_PHOTOS, 112)
    query = simclr_view(x[:1], size=112, strength=0.8, scale=(0.3, 1.0))[0]
    keys = simclr_view(x, size=112, strength=0.8, scale=(0.3, 1.0))
    order = [1, 2, 3, 0, 4, 5]  # key 0 (the same photograph as the query) is shown fourth
    with deck_style():
        fig = plt.figure(figsize=QA_SIZE)
        grid = fig.add_gridspec(2, 4, width_ratios=[1.3, 1, 1, 1])
        show(fig.add_subplot(grid[:, 0]), query, "query q", BLUE)
        for k, i in enumerate(order):
            ax = fig.add_subplot(grid[k // 3, 1 + k % 3])
            if part == "q":
                show(ax, keys[i], f"key {k + 1}")
            elif i == 0:
                show(ax, keys[i], "$k_+$: this batch", GREEN)
            else:
                show(ax, keys[i], "queue", RED)
        fig.suptitle("which key is the other view of q?" if part == "q"
                     else "one positive key, negatives from the queue",
                     color=BLUE if part == "q" else RED)
        save_deck(fig, path)


def info_nce_figure(path: Path) -> None:
    """NPID, MoCo, SimCLR and CPC as one loss: a query, one positive key, many negative keys;
    the methods differ in where the keys come from."""
    from .diagrams import canvas, label, picture

    torch.manual_seed(1)
    x = _photos(("chelsea", "astronaut", "coffee", "rocket", "motorcycle"), 96)
    view = simclr_view(x, size=96, strength=0.6, scale=(0.3, 1.0))
    cat, others = x[0], x[1:]
    rows = [("NPID", view[0], "the cat's stored\nfeature $v_i$", cat, others,
             "memory bank: every\nimage, refreshed\nwhen it is visited"),
            ("MoCo", view[0], "other view, from\nthe momentum\nencoder", simclr_view(x[:1], size=96)[0], view[1:],
             "queue of keys from\nrecent batches"),
            ("SimCLR", view[0], "other view,\nsame batch", simclr_view(x[:1], size=96)[0], view[1:],
             "the other 2N - 2 views\nof the batch"),
            ("CPC", cat[:, :48], "a patch k rows\nbelow, predicted\nas $W_k c_t$", cat[:, 60:92, 32:64],
             [o[:, 40:72, 30:62] for o in others], "other patches, of\nthis and other\nimages")]
    with deck_style():
        fig, ax = canvas(10.8, 3.9)
        for col, head in zip((1.3, 2.6, 6.8, 9.2), ("query", "positive key", "negative keys", "keys come from")):
            label(ax, col, 3.75, head, BLUE if col < 2 else GREEN if col < 4 else RED if col < 7 else GREY,
                  weight="bold")
        for r, (name, q, pos_text, pos, negs, source) in enumerate(rows):
            y = 2.75 - r * 0.9
            label(ax, 0.05, y + 0.4, name, ha="left", weight="bold")
            picture(ax, q, 0.9, y, 0.8, 0.8 * q.shape[1] / q.shape[2], BLUE)
            picture(ax, pos, 2.2, y, 0.8, 0.8, GREEN)
            label(ax, 3.15, y + 0.4, pos_text, ha="left", size=11)
            for k, n in enumerate(negs):
                picture(ax, n, 5.65 + k * 0.6, y + 0.13, 0.54, 0.54, RED)
            label(ax, 8.2, y + 0.4, source, ha="left", size=11)
        save_deck(fig, path, tight=False)
