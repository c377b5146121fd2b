"""Figures for reconstruction: context encoders, colorization and BoWNet."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from ..color import lab_to_rgb, rgb_to_lab
from ..evaluate import backbone_input
from ..methods import bownet, colorization, context_encoder
from ..nets import make_backbone
from .common import BLUE, FONT_PT, QA_SIZE, RED, deck_style, image_row, photo, save, save_deck, show, to_numpy_image

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")


def _trained_context_encoder(steps: int = 30) -> context_encoder.ContextEncoder:
    """The encoder-decoder of ``runs/context_encoder`` if it was pre-trained, else a few seconds
    of training on world images (enough to show the idea, not the quality)."""
    from ..data import load_images
    from ..train import load_checkpoint

    torch.manual_seed(0)
    model = context_encoder.build(context_encoder.RECIPE, None)
    run = Path("runs/context_encoder/checkpoint.pt")
    if run.is_file():
        model.load_state_dict(load_checkpoint(run)["model"])
        return model.eval()
    images = load_images("world", 32, num_images=960).pretrain.images
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(steps):
        batch = {"image": images[step * 32:(step + 1) * 32]}
        loss, _ = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def context_encoder_figure(path: Path) -> None:
    """Real photographs (32 px) with the central hole, the network's painting, and the original."""
    model = _trained_context_encoder()
    x = torch.cat([photo(name, 32) for name in PHOTOS])
    region = context_encoder.centre_region(len(x), 32)
    hole, _ = context_encoder.hole_and_weights(region, model.overlap)
    with torch.no_grad():
        painted = model.inpaint(x, hole)
    filled = x * (1 - hole) + painted * hole
    fig, axes = plt.subplots(3, len(x), figsize=(2.0 * len(x), 6.4))
    for j in range(len(x)):
        for i, (image, title) in enumerate([(context_encoder.mask_images(x, hole)[j], "masked input"),
                                            (filled[j], "prediction pasted in"), (x[j], "original")]):
            axes[i, j].imshow(to_numpy_image(image), interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(title, fontsize=10)
    save(fig, path)


def colorization_figure(path: Path) -> None:
    """What colorization targets look like on a real photograph: the luma input, the true ab
    snapped to its nearest bin, the soft-encoded target decoded by the annealed mean, and the
    original. (No trained network: these are the targets, not predictions.)"""
    x = photo("coffee", 128)
    lab = rgb_to_lab(x)
    bins = colorization.ab_bins()
    ab = lab[:, 1:]
    snapped = bins[colorization.nearest_bin(ab, bins)].permute(0, 3, 1, 2)
    z = colorization.soft_encode(ab, bins)
    decoded = colorization.annealed_mean(z.clamp(min=1e-12).log(), bins)

    def with_ab(ab_):
        return lab_to_rgb(torch.cat([lab[:, :1], ab_], dim=1))[0]

    grey = backbone_input(x * 255, 1)[0]
    image_row([grey, with_ab(snapped), with_ab(decoded), x[0]],
              ["input: luma", f"ab snapped to 1 of {len(bins)} bins", "soft target, annealed mean",
               "original"], path, width=2.6)


def bownet_figure(path: Path) -> None:
    """A real photograph and four perturbed versions of it, as the BoWNet student sees them;
    the target is always the bag of words of the unperturbed image."""
    torch.manual_seed(0)
    x = photo("chelsea", 96).expand(4, -1, -1, -1)
    views = bownet.perturb(x, bownet.RECIPE.min_scale)
    image_row([x[0], *views], ["original (teacher)"] + [f"student view {i + 1}" for i in range(4)], path)


# --- the lecture deck's question and answer slides --------------------------------------------

HOLE_PHOTOS = ("chelsea", "astronaut")
COLOUR_PHOTOS = ("motorcycle", "coffee")


def context_encoder_qa(path: Path, part: str) -> None:
    """Question: photographs with their centre hidden. Answer: the hidden region."""
    size, lo, hi = 224, 64, 160  # the centre quarter, as the paper's central-region masks
    with deck_style():
        fig, axes = plt.subplots(1, 2, figsize=QA_SIZE)
        for ax, name in zip(axes, HOLE_PHOTOS):
            x = photo(name, size)[0]
            if part == "q":
                x = x.clone()
                x[:, lo:hi, lo:hi] = context_encoder.FILL
                show(ax, x, "what was here?")
            else:
                show(ax, x, "target: the hidden pixels", RED)
                ax.add_patch(plt.Rectangle((lo - 0.5, lo - 0.5), hi - lo, hi - lo, fill=False, ec=RED, lw=3))
        save_deck(fig, path)


def colorization_qa(path: Path, part: str) -> None:
    """Question: the lightness of two photographs. Answer: their colours (a, b in Lab)."""
    with deck_style():
        fig, axes = plt.subplots(1, 2, figsize=QA_SIZE)
        for ax, name in zip(axes, COLOUR_PHOTOS):
            x = photo(name, 224)
            if part == "q":
                lightness = rgb_to_lab(x)[0, :1] / 100
                show(ax, lightness, "input: lightness L")
            else:
                show(ax, x[0], "target: colours a, b", RED)
        save_deck(fig, path)


# The astronaut rather than the cat: the cat's patches are nearly all fur, so its eight words
# looked alike on a projector; the suit, the helmet, the flag and the shuttle give distinct ones.
BOW_PHOTO, BOW_WORDS, BOW_PATCH = "astronaut", 8, 12


def visual_words(x: torch.Tensor, k: int = BOW_WORDS, patch: int = BOW_PATCH, iters: int = 15):
    """Word map and vocabulary of one ``(1, 3, S, S)`` image: k-means on its Lab patches.

    A stand-in for BoWNet's vocabulary, which clusters the feature maps of a pre-trained
    network; colour patches keep the figure cheap and the words easy to see.
    """
    lab = rgb_to_lab(x)[0] / torch.tensor([100.0, 128.0, 128.0]).view(3, 1, 1)
    cells = lab.unfold(1, patch, patch).unfold(2, patch, patch)  # (3, h, w, p, p)
    h, w = cells.shape[1:3]
    desc = cells.permute(1, 2, 0, 3, 4).reshape(h * w, -1)
    g = torch.Generator().manual_seed(0)
    centres = desc[torch.randperm(len(desc), generator=g)[:k]].clone()
    for _ in range(iters):
        assign = torch.cdist(desc, centres).argmin(1)
        for j in range(k):
            if (assign == j).any():
                centres[j] = desc[assign == j].mean(0)
    # words ordered by frequency, so word 0 is the commonest; each shown by its most typical patch
    counts = torch.bincount(assign, minlength=k)
    order = counts.argsort(descending=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(k)
    typical = torch.cdist(centres[order], desc).argmin(1)
    rgb = x[0].unfold(1, patch, patch).unfold(2, patch, patch).permute(1, 2, 0, 3, 4).reshape(h * w, 3, patch, patch)
    return rank[assign].view(h, w), counts[order], rgb[typical]


WORD_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#4d4d4d")


def bownet_qa(path: Path, part: str) -> None:
    """Question: a perturbed crop. Answer: the bag of visual words of the whole image."""
    from matplotlib.colors import ListedColormap

    x = photo(BOW_PHOTO, 192)
    words, counts, examples = visual_words(x)
    with deck_style():
        fig, axes = plt.subplots(1, 2, figsize=QA_SIZE, gridspec_kw={"width_ratios": [1, 1.15]})
        if part == "q":
            torch.manual_seed(4)
            view = bownet.perturb(x, bownet.RECIPE.min_scale)[0]
            show(axes[0], view, "input: a perturbed crop")
            axes[1].axis("off")
            axes[1].set_title("how often is each word\nin the whole image?", color=BLUE)
            for j in range(BOW_WORDS):
                inset = axes[1].inset_axes([0.02 + (j % 4) * 0.25, 0.5 - (j // 4) * 0.5, 0.21, 0.36])
                show(inset, examples[j], f"word {j}", WORD_COLOURS[j], label_colour="#1d1d1f")
        else:
            show(axes[0], x[0], "the whole image's words")
            axes[0].imshow(words.numpy(), cmap=ListedColormap(WORD_COLOURS[:BOW_WORDS]), alpha=0.45,
                           extent=(-0.5, x.shape[-1] - 0.5, x.shape[-1] - 0.5, -0.5), interpolation="nearest",
                           vmin=0, vmax=BOW_WORDS - 1)
            share = counts.float() / counts.sum()
            axes[1].bar(range(BOW_WORDS), share.numpy(), color=WORD_COLOURS[:BOW_WORDS])
            axes[1].set_xticks(range(BOW_WORDS))
            axes[1].set_xlabel("visual word")
            axes[1].set_ylabel("share of the image")
            axes[1].set_title("target: the bag of words", color=RED)
        save_deck(fig, path)
