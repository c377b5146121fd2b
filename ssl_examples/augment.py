"""Batched augmentations that run on the device where the batch lives.

Every function takes a float batch ``(B, C, H, W)`` in [0, 1] and draws independent random
parameters for each image from torch's global generator (so checkpoints can save its state
and a resumed run draws the same numbers).
"""

import math

import torch
import torch.nn.functional as F

from .color import LUMA_WEIGHTS, from_hue, hsv_to_rgb, hue_value_chroma, luma, rgb_to_hsv  # noqa: F401 (re-exported)


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


# --- Colour, blur and solarisation: the SimCLR recipe, batched ---------------------------
# Each op below exists twice: a deterministic version that takes one parameter per image
# (tested against its torchvision.transforms.v2.functional counterpart) and, for the
# random ops, a version that draws those parameters, one per image, from torch's generator.

def _per_image(v, x: torch.Tensor) -> torch.Tensor:
    """A scalar or a ``(B,)`` tensor -> ``(B, 1, 1, 1)``, ready to broadcast over images."""
    return torch.as_tensor(v, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma of an RGB batch, ``(B, 1, H, W)`` (``color.luma``)."""
    return luma(x)


def _mix(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``t * a + (1 - t) * b`` clipped to [0, 1]; ``t > 1`` pushes away from ``b``."""
    return (t * a + (1 - t) * b).clamp(0, 1)


def adjust_brightness(x: torch.Tensor, factor) -> torch.Tensor:
    """Scale every pixel by ``factor`` (one per image)."""
    return (x * _per_image(factor, x)).clamp(0, 1)


def adjust_contrast(x: torch.Tensor, factor) -> torch.Tensor:
    """Move each image towards (factor < 1) or away from its mean grey level."""
    mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _mix(x, mean, _per_image(factor, x))


def adjust_saturation(x: torch.Tensor, factor) -> torch.Tensor:
    """Move each pixel towards (factor < 1) or away from its own grey value."""
    return _mix(x, grayscale(x), _per_image(factor, x))


def adjust_hue(x: torch.Tensor, shift) -> torch.Tensor:
    """Rotate the hue of each image by ``shift`` turns (in [-0.5, 0.5]); value and chroma stay."""
    h, v, chroma = hue_value_chroma(x)
    return from_hue(torch.remainder(h + _per_image(shift, x), 1.0), v, chroma)


def _uniform(b: int, low: float, high: float, device) -> torch.Tensor:
    return torch.empty(b, device=device).uniform_(low, high)


# Brightness, contrast and saturation are linear in the image and its grey levels, so any run
# of them composes into one map  y = a x + g G(x) + m M(x),  with G(x) each pixel's luma
# (copied to the three channels) and M(x) the image's mean luma. With s = the sum of the luma
# weights (G of a grey image is s times it, likewise M), each change updates (a, g, m):
#   brightness f:  (a, g, m) -> f (a, g, m)
#   contrast f:    m -> f m + (1 - f)(a + s g + s m), a -> f a, g -> f g
#   saturation f:  g -> f g + (1 - f)(a + s g), m -> f m + (1 - f) s m, a -> f a
def _compose(coef: torch.Tensor, op: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Apply linear change ``op`` (0 brightness, 1 contrast, 2 saturation; per image) with
    factor ``f`` to the coefficients ``(B, 3)`` = (a, g, m)."""
    a, g, m = coef.unbind(1)
    s = sum(LUMA_WEIGHTS)
    contrast = torch.stack([f * a, f * g, f * m + (1 - f) * (a + s * g + s * m)], 1)
    saturation = torch.stack([f * a, f * g + (1 - f) * (a + s * g), f * m + (1 - f) * s * m], 1)
    out = torch.where((op == 1)[:, None], contrast, f[:, None] * coef)
    return torch.where((op == 2)[:, None], saturation, out)


def _apply_linear(x: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    grey = luma(x)
    a, g, m = (c.view(-1, 1, 1, 1) for c in coef.unbind(1))
    return (a * x + g * grey + m * grey.mean(dim=(1, 2, 3), keepdim=True)).clamp(0, 1)


def jitter_in_order(x: torch.Tensor, factors: torch.Tensor, order: torch.Tensor,
                    rotate_hue: bool = True) -> torch.Tensor:
    """Brightness, contrast, saturation (factors ``(B, 3)`` of ``factors[:, :3]``) and hue
    (shift ``factors[:, 3]``) applied to each image in its own ``order`` (``(B, 4)``, a
    permutation of 0..3 per image: 0 brightness, 1 contrast, 2 saturation, 3 hue).

    The linear changes before the hue rotation are composed into one map, then the hue is
    rotated, then the linear changes after it: three passes over the batch whatever the
    order. The result is clipped to [0, 1] once per pass; torchvision clips after every
    change, which differs only where an intermediate change left [0, 1]. ``rotate_hue=False``
    skips the hue pass (a jitter without hue).
    """
    b = x.shape[0]
    identity = torch.tensor([1.0, 0.0, 0.0], device=x.device, dtype=x.dtype).expand(b, 3)
    before, after = identity, identity
    hue_seen = torch.zeros(b, dtype=torch.bool, device=x.device)
    for r in range(4):
        op = order[:, r]
        hue_seen = hue_seen | (op == 3)
        f = factors.gather(1, op.clamp(max=2)[:, None]).squeeze(1)
        linear = op != 3
        before = torch.where((linear & ~hue_seen)[:, None], _compose(before, op, f), before)
        after = torch.where((linear & hue_seen)[:, None], _compose(after, op, f), after)
    y = _apply_linear(x, before)
    if rotate_hue:
        y = adjust_hue(y, factors[:, 3])
    return _apply_linear(y, after)


def color_jitter(x: torch.Tensor, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                 hue: float = 0.1, p: float = 0.8) -> torch.Tensor:
    """Random brightness, contrast, saturation and hue, each image with its own factors and
    its own order of the four changes (as torchvision's ColorJitter and SimCLR do).

    With probability ``p`` per image (SimCLR: 0.8), the factors are drawn uniformly from
    ``[1 - brightness, 1 + brightness]`` (same for contrast, saturation) and the hue shift
    from ``[-hue, hue]``. The other images are returned unchanged. SimCLR's strength ``s`` is
    ``(0.8 s, 0.8 s, 0.8 s, 0.2 s)``.
    """
    b, dev = x.shape[0], x.device
    apply = torch.rand(b, device=dev) < p
    factors = torch.stack([_uniform(b, max(0.0, 1 - brightness), 1 + brightness, dev),
                           _uniform(b, max(0.0, 1 - contrast), 1 + contrast, dev),
                           _uniform(b, max(0.0, 1 - saturation), 1 + saturation, dev),
                           _uniform(b, -hue, hue, dev)], dim=1)  # (B, 4)
    order = torch.rand(b, 4, device=dev).argsort(dim=1)  # order[i, r]: image i's r-th change
    return torch.where(apply.view(-1, 1, 1, 1), jitter_in_order(x, factors.to(x.dtype), order, hue > 0), x)


def random_grayscale(x: torch.Tensor, p: float = 0.2) -> torch.Tensor:
    """Replace each image by its grey version (kept as 3 channels) with probability ``p``."""
    grey = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(grey.view(-1, 1, 1, 1), grayscale(x).expand_as(x), x)


def gaussian_kernels(sigma: torch.Tensor, size: int) -> torch.Tensor:
    """One normalised 1-D Gaussian of ``size`` taps per sigma: ``(len(sigma), size)``."""
    offsets = torch.linspace(-(size - 1) / 2, (size - 1) / 2, size, device=sigma.device, dtype=sigma.dtype)
    weights = torch.exp(-0.5 * (offsets / sigma[:, None]) ** 2)
    return weights / weights.sum(dim=1, keepdim=True)


def gaussian_blur(x: torch.Tensor, sigma, kernel_size: int) -> torch.Tensor:
    """Blur each image with its own sigma: a separable filter, reflected at the borders.

    Implemented as one grouped convolution over all ``B * C`` channels, so a whole batch
    with different sigmas costs two convolutions.
    """
    b, c, h, w = x.shape
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(b)
    k = gaussian_kernels(sigma, kernel_size).repeat_interleave(c, dim=0)  # (B*C, size)
    pad = kernel_size // 2
    y = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    y = F.conv2d(y, k.view(b * c, 1, kernel_size, 1), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, 1, kernel_size), groups=b * c)
    return y.reshape(b, c, h, w)


def random_gaussian_blur(x: torch.Tensor, p: float = 0.5, sigma=(0.1, 2.0),
                         kernel_size: int | None = None) -> torch.Tensor:
    """Blur each image with probability ``p``, sigma uniform in ``sigma`` (in pixels).

    The kernel spans about 10 % of the image side (odd), as in SimCLR.
    """
    kernel_size = kernel_size or 2 * (x.shape[-1] // 20) + 1
    blur = torch.rand(x.shape[0], device=x.device) < p
    s = _uniform(x.shape[0], sigma[0], sigma[1], x.device)
    if kernel_size < 3 or not bool(blur.any()):
        return x
    return torch.where(blur.view(-1, 1, 1, 1), gaussian_blur(x, s, kernel_size), x)


def solarize(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Invert every pixel at or above ``threshold``."""
    return torch.where(x >= threshold, 1 - x, x)


def random_solarize(x: torch.Tensor, p: float = 0.2, threshold: float = 0.5) -> torch.Tensor:
    """Solarize each image with probability ``p``."""
    hit = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(hit.view(-1, 1, 1, 1), solarize(x, threshold), x)


# --8<-- [start:simclr]
def simclr_view(x: torch.Tensor, size: int | None = None, scale=(0.08, 1.0), strength: float = 0.5,
                grey_p: float = 0.2, blur_p: float = 0.0, solarize_p: float = 0.0) -> torch.Tensor:
    """One random view of every image, SimCLR's recipe, with independent draws per image.

    Random resized crop and flip, colour jitter of strength ``strength`` (SimCLR used 1.0
    on ImageNet, 0.5 on CIFAR-10) with probability 0.8, greyscale with probability
    ``grey_p``, Gaussian blur with ``blur_p`` (0.5 on ImageNet, off for CIFAR's 32 pixels)
    and solarisation with ``solarize_p`` (used by BYOL and MoCo v3).
    """
    x = random_resized_crop_flip(x, scale=scale, size=size)
    s = strength
    x = color_jitter(x, 0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=0.8)
    x = random_grayscale(x, grey_p)
    if blur_p > 0:
        x = random_gaussian_blur(x, blur_p)
    if solarize_p > 0:
        x = random_solarize(x, solarize_p)
    return x
# --8<-- [end:simclr]


def asymmetric_views(x: torch.Tensor, size: int | None, scale, strength: float,
                     solarize_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """BYOL's pair of views (also used by Barlow Twins and VICReg): the same distortions in
    both, solarisation with probability ``solarize_p`` in the second only."""
    return (simclr_view(x, size=size, scale=scale, strength=strength),
            simclr_view(x, size=size, scale=scale, strength=strength, solarize_p=solarize_p))


# --8<-- [start:multicrop]
def multi_crop(x: torch.Tensor, num_global: int = 2, num_local: int = 4, global_size: int | None = None,
               local_size: int = 16, global_scale=(0.3, 1.0), local_scale=(0.05, 0.3), strength: float = 0.5,
               grey_p: float = 0.2, blur_p: float = 0.0, solarize_p: float = 0.0) -> list[torch.Tensor]:
    """Multi-crop (SwAV, DINO): ``num_global`` large views and ``num_local`` small ones of every image.

    Global views cover ``global_scale`` of the image area and keep the image size (or
    ``global_size``); local views cover ``local_scale`` and are resampled to ``local_size``
    pixels, so they cost little to encode. SwAV's ImageNet setting is 2 x 224 px from
    (0.14, 1) and 6 x 96 px from (0.05, 0.14). Each kind is drawn in one batched call
    (the images repeated, then split), each view with its own crop, flip and colours.
    Returns the global views first, then the local ones, each ``(B, C, size, size)``.
    """
    b = x.shape[0]
    kw = dict(strength=strength, grey_p=grey_p, blur_p=blur_p, solarize_p=solarize_p)
    views = list(simclr_view(x.repeat(num_global, 1, 1, 1), size=global_size, scale=global_scale, **kw).split(b))
    if num_local > 0:
        views += simclr_view(x.repeat(num_local, 1, 1, 1), size=local_size, scale=local_scale, **kw).split(b)
    return views
# --8<-- [end:multicrop]
