r"""Rotation prediction (Gidaris, Singh and Komodakis, ICLR 2018).

Idea: rotate an image by one of four angles and ask the network which one it was. Telling
an upright cat from an upside-down cat is easy if you know what a cat looks like, so a
network that solves the task has to learn what objects look like and where their parts go.

Pretext targets: every image appears four times in the batch, rotated by
:math:`r \cdot 90°` for :math:`r \in \{0, 1, 2, 3\}`, and :math:`r` is its label.

Loss: with :math:`g(x, r)` the image :math:`x` rotated by :math:`r \cdot 90°` and
:math:`F` the backbone followed by a 4-way head,

.. math::

    \mathcal{L} = -\frac{1}{4N} \sum_{i=1}^{N} \sum_{r=0}^{3} \log \operatorname{softmax}\big(F(g(x_i, r))\big)_r
"""

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import random_resized_crop_flip
from ..nets import make_backbone, mlp
from ..train import Recipe


# --8<-- [start:targets]
def rotate_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All four rotations of every image: ``(4B, C, H, W)`` images and their labels 0..3.

    Label ``r`` means a counter-clockwise rotation by ``r * 90`` degrees.
    """
    rotated = torch.cat([torch.rot90(x, r, dims=(2, 3)) for r in range(4)])
    labels = torch.arange(4, device=x.device).repeat_interleave(len(x))
    return rotated, labels
# --8<-- [end:targets]


# --8<-- [start:model]
class RotationPrediction(nn.Module):
    """Backbone + a small MLP head that classifies the rotation of each image."""

    def __init__(self, backbone: nn.Module, *, min_scale: float, hidden_dim: int):
        super().__init__()
        self.backbone = backbone
        self.head = mlp([backbone.feature_dim, hidden_dim, 4])
        self.scale = (min_scale, 1.0)

    def forward(self, batch):
        x = batch["image"].float() / 255
        # Crops and mirror images keep the upright orientation, so they are safe here and
        # stop the network from memorising exact pixels.
        x = random_resized_crop_flip(x, scale=self.scale)
        x4, labels = rotate_batch(x)
        logits = self.head(self.backbone(x4))
        loss = F.cross_entropy(logits, labels)
        return loss, {"acc": (logits.argmax(1) == labels).float().mean().detach()}
# --8<-- [end:model]


# --8<-- [start:recipe]
@dataclass
class RotationRecipe(Recipe):
    min_scale: float = 0.5  # smallest crop, as a fraction of the image, before rotating
    hidden_dim: int = 256  # the rotation classifier's hidden layer


# Validation split, seed 0, best layer (linear / kNN %; random init: 37.9 / 24.8):
# this recipe 57.9 / 39.3 (block4 / block5). The bench row has the seconds a seed takes.
RECIPE = RotationRecipe(image_size=32, num_images=3000, epochs=3, batch_size=64, lr=2e-3, weight_decay=5e-4)
# --8<-- [end:recipe]

# The GPU tier (`bench --tier gpu`): a CIFAR-style ResNet-18 on up to 50 000 world images, batch 512,
# sized for about two minutes on one H100-class GPU (4 rotations of each image per step); not yet measured on a GPU.
GPU_RECIPE = replace(RECIPE, backbone="resnet18-cifar", num_images=50_000, batch_size=512, epochs=15)


def build(recipe: RotationRecipe, data) -> RotationPrediction:
    return RotationPrediction(make_backbone(recipe.backbone), min_scale=recipe.min_scale, hidden_dim=recipe.hidden_dim)
