"""Figures for reconstruction: context encoders, colorization and BoWNet."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from ..color import lab_to_rgb, rgb_to_lab
from ..evaluate import backbone_input
from ..methods import bownet, colorization, context_encoder
from ..nets import make_backbone
from .common import image_row, photo, save, to_numpy_image

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
