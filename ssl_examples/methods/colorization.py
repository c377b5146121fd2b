r"""Colorful image colorization (Zhang, Isola and Efros, ECCV 2016).

Idea: give the network only the lightness of a photograph and ask for its colours. Grass is
green and the sky blue, but to colour a ladybird red or a school bus yellow the network has
to recognise them first; colour is a label that every photograph carries for free.

Pretext targets: the image in CIELAB, where :math:`L` is lightness and :math:`(a, b)` the
colour. The :math:`ab` plane is cut into squares of side 10; the :math:`Q` squares that
real colours can reach (in gamut) are the classes. Regression to the mean colour makes
washed-out, brownish images, so the paper *classifies* colour per pixel instead:

* each pixel's target is a soft distribution :math:`Z` over its 5 nearest bins, weighted by
  a Gaussian of the distance (:math:`\sigma = 5`);
* common colours (greys, browns, sky blue) would dominate the loss, so each pixel's loss is
  weighted by :math:`w_q \propto \big((1 - \lambda) \tilde p_q + \lambda / Q\big)^{-1}` of its
  nearest bin :math:`q`, with :math:`\tilde p` the empirical colour distribution of the
  training images smoothed by a Gaussian (:math:`\sigma = 5`), :math:`\lambda = 1/2`, and
  :math:`w` scaled so that :math:`\mathbb{E}_{\tilde p}[w] = 1`;
* a prediction :math:`\hat Z` becomes a colour by the *annealed mean*: re-normalise
  :math:`\hat Z^{1/T}` with :math:`T = 0.38`, then average the bin centres.

The sRGB -> CIELAB conversion is the shared one in ``ssl_examples/color.py``.

Input: the backbone has one channel. Evaluation feeds it the luma (``color.luma``:
``0.2989 R + 0.587 G + 0.114 B``), so pre-training feeds the same luma rather than :math:`L / 100`; :math:`L` and
luma are both monotone in brightness and differ only by a gamma-like curve.

Loss: with :math:`F` the backbone, :math:`D` a small decoder predicting :math:`\hat Z` at a
quarter of the image resolution and :math:`q^*_{h,w}` the nearest bin of pixel :math:`(h, w)`,

.. math::

    \mathcal{L} = -\frac{1}{NHW} \sum_{i, h, w} w_{q^*_{h,w}}
    \sum_{q=1}^{Q} Z_{h,w,q} \log \hat Z_{h,w,q}, \qquad \hat Z = \operatorname{softmax}\big(D(F(x_{\text{luma}}))\big)
"""

import functools
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import random_resized_crop_flip
from ..color import rgb_to_lab
from ..evaluate import backbone_input
from ..nets import make_backbone
from ..train import Recipe

GRID = 10  # side of an ab bin
SIGMA = 5.0  # soft-encoding and prior-smoothing Gaussian
NEIGHBOURS = 5
LAMBDA = 0.5  # mix of the empirical prior with the uniform distribution
T = 0.38  # annealed-mean temperature


# --8<-- [start:bins]
@functools.lru_cache(maxsize=1)
def ab_bins(grid: int = GRID) -> torch.Tensor:
    """Centres ``(Q, 2)`` of the ab bins that some sRGB colour falls into (the in-gamut bins).

    Found by converting a dense 64^3 lattice of the RGB cube to Lab; cheap, and memoised.
    """
    levels = torch.linspace(0, 1, 64)
    rgb = torch.cartesian_prod(levels, levels, levels).T.reshape(1, 3, 64 * 64, 64)
    ab = rgb_to_lab(rgb)[0, 1:].reshape(2, -1).T
    cells = torch.unique(torch.round(ab / grid).long(), dim=0)
    return cells.float() * grid


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, k: int = NEIGHBOURS, sigma: float = SIGMA) -> torch.Tensor:
    """ab ``(B, 2, H, W)`` -> a distribution over the bins ``(B, Q, H, W)``: the ``k`` nearest
    bins of each pixel, weighted by a Gaussian of their distance."""
    b, _, h, w = ab.shape
    d2 = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins).square()  # (BHW, Q)
    near_d2, near = d2.topk(k, dim=1, largest=False)
    weights = torch.softmax(-near_d2 / (2 * sigma ** 2), dim=1)
    z = torch.zeros_like(d2).scatter_(1, near, weights)
    return z.view(b, h, w, -1).permute(0, 3, 1, 2)


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Index of the nearest bin of every pixel, ``(B, H, W)``."""
    b, _, h, w = ab.shape
    return torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins).argmin(1).view(b, h, w)


def rebalancing_weights(counts: torch.Tensor, bins: torch.Tensor, lam: float = LAMBDA,
                        sigma: float = SIGMA) -> torch.Tensor:
    """Per-bin loss weights from bin counts: smooth the empirical prior with a Gaussian over
    the ab plane, mix it with the uniform distribution, invert, and scale to expectation 1."""
    p = counts.float() / counts.sum()
    kernel = torch.exp(-torch.cdist(bins, bins).square() / (2 * sigma ** 2))
    p = kernel @ p
    p = p / p.sum()
    w = 1 / ((1 - lam) * p + lam / len(bins))
    return w / (p * w).sum()


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, t: float = T) -> torch.Tensor:
    """Predicted distributions ``(B, Q, H, W)`` (as logits) -> ab ``(B, 2, H, W)``."""
    z = torch.softmax(logits / t, dim=1)  # softmax(log p / T) = p^(1/T), re-normalised
    return torch.einsum("bqhw,qc->bchw", z, bins.to(logits))
# --8<-- [end:bins]


# --8<-- [start:model]
class Colorization(nn.Module):
    """A one-channel backbone + a decoder that classifies the colour of every pixel."""

    def __init__(self, backbone: nn.Module, class_weights: torch.Tensor, *, min_scale: float):
        super().__init__()
        self.scale = (min_scale, 1.0)
        assert backbone.in_channels == 1
        self.backbone = backbone
        self.register_buffer("bins", ab_bins())
        self.register_buffer("class_weights", class_weights)
        d = backbone.feature_dim
        self.decoder = nn.Sequential(  # 1/8 -> 1/4 of the image size, then Q logits per pixel
            nn.ConvTranspose2d(d, 128, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(128),
            nn.ReLU(inplace=True), nn.Conv2d(128, len(self.bins), 1))

    def forward(self, batch):
        rgb = random_resized_crop_flip(batch["image"].float() / 255, scale=self.scale)
        logits = self.decoder(self.backbone.forward_maps(backbone_input(rgb * 255, 1)))
        # Targets at the decoder's resolution: average the colour over each output pixel.
        ab = F.adaptive_avg_pool2d(rgb_to_lab(rgb)[:, 1:], logits.shape[-2:])
        z = soft_encode(ab, self.bins)
        w = self.class_weights[nearest_bin(ab, self.bins)]  # (B, h, w)
        loss = -(w * (z * F.log_softmax(logits, dim=1)).sum(1)).mean()
        # The loss cannot go below the (weighted) entropy of the soft targets; the gap to it
        # is the KL divergence, which a perfect prediction brings to zero.
        entropy = -(w * (z * z.clamp(min=1e-12).log()).sum(1)).mean()
        return loss, {"kl": (loss - entropy).detach(),
                      "ab_err": (annealed_mean(logits.detach(), self.bins) - ab).norm(dim=1).mean()}
# --8<-- [end:model]


# --8<-- [start:recipe]
@dataclass
class ColorizationRecipe(Recipe):
    min_scale: float = 0.5  # smallest crop, as a fraction of the image


# Epochs, validation split, mean of seeds 0-2 at the best layer (linear / kNN %): 6 epochs
# 41.3 / 22.4 (a first three-seed bench, one thread), 12 epochs 45.6 / 24.5, against 33.1 / 22.2 for the
# greyscale random init of the same seeds. 12 epochs take about 50 s on two threads of a quiet
# 2-core CPU (73 s on one thread), the most the one-minute budget allows.
RECIPE = ColorizationRecipe(image_size=32, num_images=3000, epochs=12, batch_size=128, lr=2e-3, weight_decay=5e-4)
# --8<-- [end:recipe]

# The GPU tier (`bench --tier gpu`): a CIFAR-style ResNet-18 on up to 50 000 world images, batch 512,
# sized for about two minutes on one H100-class GPU (an encoder-decoder on whole images); not yet measured on a GPU.
GPU_RECIPE = replace(RECIPE, backbone="resnet18-cifar", num_images=50_000, batch_size=512, epochs=20)


def colour_counts(images: torch.Tensor, bins: torch.Tensor, max_images: int = 2000) -> torch.Tensor:
    """How often each bin is the nearest one, over the pixels of (up to) ``max_images`` images."""
    counts = torch.zeros(len(bins), dtype=torch.long)
    for chunk in images[:max_images].split(100):
        ab = rgb_to_lab(chunk.float() / 255)[:, 1:]
        counts += torch.bincount(nearest_bin(ab, bins).flatten(), minlength=len(bins))
    return counts


def build(recipe: ColorizationRecipe, data) -> Colorization:
    images = data.pretrain.images if hasattr(data.pretrain, "images") else \
        torch.stack([data.pretrain[i]["image"] for i in range(min(2000, len(data.pretrain)))])
    weights = rebalancing_weights(colour_counts(images, ab_bins()), ab_bins())
    return Colorization(make_backbone(recipe.backbone, in_channels=1), weights, min_scale=recipe.min_scale)
