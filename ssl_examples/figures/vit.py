"""Figures for the Vision Transformer methods: MAE's reconstructions and I-JEPA's blocks."""

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from ..cache import cache_dir, load_cached, save_cached
from ..methods import ijepa, mae
from .common import photo, save, to_numpy_image

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "camera")
GREY = 0.5


def trained_mae(recipe: mae.MAERecipe = mae.RECIPE, seed: int = 0) -> mae.MAE:
    """MAE pre-trained with ``recipe`` on the embedded world (the same run as ``pretrain mae``),
    cached on disk under a key of the recipe, the seed and the code that draws the world and
    trains the model, so only the first call trains."""
    from .. import data as data_package
    from .. import nets
    from ..data import load_images, world
    from ..train import Runtime, train

    code = [Path(m.__file__).read_bytes() for m in (world, data_package, nets, mae)]
    key = hashlib.sha256(json.dumps([asdict(recipe), seed], sort_keys=True).encode() + b"".join(code)).hexdigest()[:12]
    path = cache_dir(f"figure-mae-{key}.pt")
    torch.manual_seed(seed)
    model = mae.build(recipe, None)
    weights = load_cached(path)
    if weights is not None:
        model.load_state_dict(weights)
        return model.eval()
    start = time.process_time()
    data = load_images("world", recipe.image_size, num_images=recipe.num_images)
    train(model, data.pretrain, recipe, Runtime(device="cpu", progress=False, seed=seed))
    save_cached(model.state_dict(), path)
    print(f"MAE for the figure: trained in {time.process_time() - start:.0f} s of CPU time, cached in {path}")
    return model.eval()


def paint_patches(x: torch.Tensor, patches: torch.Tensor, where: torch.Tensor, p: int) -> torch.Tensor:
    """``x`` with the patches flagged in ``where`` (``(B, N)``) replaced by ``patches`` (``(B, N, P)``)."""
    b, c, h, w = x.shape
    mine = mae.patchify(x, p)
    mixed = torch.where(where.unsqueeze(-1), patches, mine)
    return mae.unpatchify(mixed, p, c, h, w)


def mae_figure(path: Path) -> None:
    """Photographs at 32 px: the 25 % of patches the encoder sees; MAE's prediction for the
    other 75 %, pasted between the visible ones, first as the bare predicted pattern (what the
    network outputs: normalised pixels), then with each hidden patch's true mean and spread put
    back (as the paper's figures do); and the original."""
    model = trained_mae()
    p = model.backbone.patch_size
    x = torch.cat([photo(name, 32) for name in PHOTOS])
    torch.manual_seed(1)
    keep, masked = mae.random_masking(len(x), 64, model.mask_ratio)
    with torch.no_grad():
        predicted = model.reconstruct(x, keep)
    # The network predicts each patch's *normalised* pixels: undo that with the true patch's
    # mean and spread, as the paper does for its figures (it shows shapes, not brightness).
    truth = mae.patchify(x, p)
    mean, std = truth.mean(-1, keepdim=True), (truth.var(-1, keepdim=True) + 1e-6).sqrt()
    painted = (predicted * std + mean).clamp(0, 1) if model.norm_pix_loss else predicted.clamp(0, 1)
    visible = paint_patches(x, torch.full_like(truth, GREY), masked, p)
    filled = paint_patches(x, painted, masked, p)
    # What the network itself contributes: the predicted pattern, on a common grey and spread
    pattern = paint_patches(x, (GREY + 0.15 * predicted).clamp(0, 1), masked, p)
    rows = [(visible, "what the encoder sees"), (pattern, "predicted patterns"),
            (filled, "with the true means"), (x, "original")]
    fig, axes = plt.subplots(len(rows), len(x), figsize=(1.9 * len(x), 1.9 * len(rows) + 0.2))
    for i, (images, title) in enumerate(rows):
        for j in range(len(x)):
            axes[i, j].imshow(to_numpy_image(images[j]), interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(title, fontsize=9)
    save(fig, path)


def ijepa_blocks_figure(path: Path) -> None:
    """Three photographs with one draw of I-JEPA's blocks: the context the encoder sees, and
    the four target blocks whose representations the predictor must give."""
    torch.manual_seed(2)
    names = PHOTOS[:3]
    x = torch.cat([photo(name, 128) for name in names])
    r = ijepa.RECIPE
    context, targets = ijepa.context_and_targets(
        len(x), (8, 8), num_targets=r.num_targets, target_scale=(r.target_min_scale, r.target_max_scale),
        target_aspect=(r.target_min_aspect, r.target_max_aspect),
        context_scale=(r.context_min_scale, r.context_max_scale))
    p = 128 // 8
    colours = torch.tensor([[0.95, 0.35, 0.2], [0.2, 0.6, 0.95], [0.95, 0.8, 0.1], [0.6, 0.3, 0.9]])
    fig, axes = plt.subplots(2, len(x), figsize=(2.4 * len(x), 5.0))
    for j in range(len(x)):
        patches = mae.patchify(x[j:j + 1], p)[0].view(64, p, p, 3)
        seen = torch.full_like(patches, GREY)
        seen[context[j]] = patches[context[j]]
        marked = patches * 0.35 + 0.65 * GREY
        for t in range(len(targets[j])):
            marked[targets[j, t]] = 0.5 * patches[targets[j, t]] + 0.5 * colours[t]
        for i, (image, title) in enumerate([(seen, "context (the encoder's input)"),
                                            (marked, "4 target blocks (coloured)")]):
            image = mae.unpatchify(image.reshape(1, 64, -1), p, 3, 128, 128)[0]
            axes[i, j].imshow(to_numpy_image(image))
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(title, fontsize=9)
    save(fig, path)


FIGURES = {"mae-reconstructions.png": mae_figure, "ijepa-blocks.png": ijepa_blocks_figure}

