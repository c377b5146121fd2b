"""Batched augmentations that run on the device where the batch lives.

Every function takes a float batch ``(B, C, H, W)`` in [0, 1] and draws independent random
parameters for each image from torch's global generator (so checkpoints can save its state
and a resumed run draws the same numbers).
"""

import math

import torch
import torch.nn.functional as F


def crop_boxes(batch_size: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), device=None) -> torch.Tensor:
    """Random crop boxes as (centre x, centre y, width, height) in [-1, 1] image coordinates.

    Like torchvision's RandomResizedCrop: the area fraction is uniform in ``scale`` and the
    aspect ratio log-uniform in ``ratio``; a box that does not fit is clamped to the image.
    """
    area = torch.empty(batch_size, device=device).uniform_(*scale)
    log_r = torch.empty(batch_size, device=device).uniform_(math.log(ratio[0]), math.log(ratio[1]))
    w = (area * log_r.exp()).sqrt().clamp(max=1.0)
    h = (area / log_r.exp()).sqrt().clamp(max=1.0)
    cx = (torch.rand(batch_size, device=device) * 2 - 1) * (1 - w)
    cy = (torch.rand(batch_size, device=device) * 2 - 1) * (1 - h)
    return torch.stack([cx, cy, w, h], dim=1)


def crop_resize(x: torch.Tensor, boxes: torch.Tensor, flip: torch.Tensor | None = None,
                size: int | None = None) -> torch.Tensor:
    """Cut each image's box out, optionally mirror it, and resample it to ``size`` (bilinear)."""
    b = x.shape[0]
    size = size or x.shape[-1]
    sign = 1.0 - 2.0 * flip.float() if flip is not None else torch.ones(b, device=x.device)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = boxes[:, 2] * sign
    theta[:, 0, 2] = boxes[:, 0]
    theta[:, 1, 1] = boxes[:, 3]
    theta[:, 1, 2] = boxes[:, 1]
    grid = F.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_resized_crop_flip(x: torch.Tensor, scale=(0.08, 1.0), size: int | None = None) -> torch.Tensor:
    """Random resized crop and horizontal flip with a coin per image."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return crop_resize(x, crop_boxes(x.shape[0], scale, device=x.device), flip, size)
