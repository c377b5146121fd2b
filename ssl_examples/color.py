"""Every colour conversion of the package, in torch: luma, HSV, CIELAB, and k-means of colours.

* ``luma``: the grey value of an RGB image (ITU-R 601 weights, as torchvision uses them); the
  greyscale augmentation, one-channel backbones and colorization's input all use it.
* ``rgb_to_hsv`` / ``hsv_to_rgb`` and ``hue_value_chroma`` / ``from_hue``: the colour-jitter
  augmentation's hue rotation and the world's palettes.
* ``rgb_to_lab`` / ``lab_to_rgb``: colorization-style methods hide colour and keep lightness:
  ``L`` (0..100) is the input, ``a, b`` (roughly -110..110) the target. The conversion follows
  the CIE definitions with the sRGB transfer curve and the D65 white point.

Every function takes the channel dimension as ``dim`` (default -3: batches ``(..., 3, H, W)``),
works on any device and is differentiable.
"""

import torch

# sRGB (linear) -> XYZ, D65. Kept in float64, and inverted in float64 once here: an inverse
# computed in float32 and then widened loses ~1e-6 in a float64 round trip.
_RGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                            [0.212671, 0.715160, 0.072169],
                            [0.019334, 0.119193, 0.950227]], dtype=torch.float64)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ)
_WHITE = torch.tensor([0.950456, 1.0, 1.088754], dtype=torch.float64)
_EPS = (6 / 29) ** 3


# --- luma and HSV ---------------------------------------------------------------------------
LUMA_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, the weights torchvision uses


def luma(rgb: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """The grey value of RGB in [0, 1], keeping a channel dimension of size 1."""
    r, g, b = rgb.unbind(dim)
    return (LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b).unsqueeze(dim)


def hue_value_chroma(rgb: torch.Tensor, dim: int = -3):
    """Hue in [0, 1), value (the largest channel) and chroma (largest minus smallest), each
    with a channel dimension of size 1."""
    r, g, b = rgb.unbind(dim)
    v = torch.maximum(torch.maximum(r, g), b)
    chroma = v - torch.minimum(torch.minimum(r, g), b)
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    # Hue in sextants: the largest channel picks the sector, the other two the offset in it.
    h = torch.where(r == v, (g - b) / safe, torch.where(g == v, 2 + (b - r) / safe, 4 + (r - g) / safe))
    h = torch.where(chroma > 0, torch.remainder(h / 6, 1.0), torch.zeros_like(h))
    return h.unsqueeze(dim), v.unsqueeze(dim), chroma.unsqueeze(dim)


def from_hue(h: torch.Tensor, v: torch.Tensor, chroma: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """RGB from hue, value and chroma: channel n is ``v - chroma * clamp(min(k, 4 - k), 0, 1)``
    with ``k = (n + 6 h) mod 6`` for n = 5, 3, 1."""
    shape = [1] * h.dim()
    shape[dim] = 3
    n = torch.tensor([5.0, 3.0, 1.0], dtype=h.dtype, device=h.device).view(shape)
    k = torch.remainder(n + 6 * h, 6)
    return v - chroma * torch.minimum(k, 4 - k).clamp(0, 1)


def rgb_to_hsv(rgb: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """RGB in [0, 1] -> HSV with hue in [0, 1)."""
    h, v, chroma = hue_value_chroma(rgb, dim)
    s = chroma / torch.where(v > 0, v, torch.ones_like(v))
    return torch.cat([h, s, v], dim=dim)


def hsv_to_rgb(hsv: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Inverse of ``rgb_to_hsv``."""
    h, s, v = hsv.split(1, dim=dim)
    return from_hue(h, v, v * s, dim)


# --- CIELAB ----------------------------------------------------------------------------------
def _mix(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,...jhw->...ihw", matrix.to(x), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1], channels at dim -3, to CIELAB (L in [0, 100], a and b about [-110, 110])."""
    linear = torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix(_RGB_TO_XYZ, linear) / _WHITE.to(rgb).view(3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], -3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`rgb_to_lab`, clamped to [0, 1]."""
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], -3)
    xyz = torch.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE.to(lab).view(3, 1, 1)
    linear = _mix(_XYZ_TO_RGB, xyz).clamp(0, 1)
    rgb = torch.where(linear > 0.0031308, 1.055 * linear.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * linear)
    return rgb.clamp(0, 1)


def kmeans(points: torch.Tensor, k: int, iterations: int = 30, seed: int = 0) -> torch.Tensor:
    """Cluster centres ``(k, D)`` of ``points`` ``(N, D)`` (k-means++ start, then Lloyd steps)."""
    g = torch.Generator().manual_seed(seed)
    points = points.float()
    centres = points[torch.randint(len(points), (1,), generator=g)]
    # k-means++: a far point is more likely to start a new cluster. Each point's squared distance
    # to its nearest centre is kept and lowered by each new centre, so the start costs k passes
    # over the points rather than k^2 / 2; |x - c|^2 = |x|^2 - 2 x.c + |c|^2 makes a pass one
    # matrix-vector product.
    norms = points.square().sum(1)

    def squared_distance(c):  # to one centre c, (D,) -> (N,)
        return (norms - 2 * (points @ c) + c.square().sum()).clamp(min=0)

    d2 = squared_distance(centres[0])
    for _ in range(1, k):
        new = points[torch.multinomial(d2 + 1e-12, 1, generator=g)]
        centres = torch.cat([centres, new])
        d2 = torch.minimum(d2, squared_distance(new[0]))
    for _ in range(iterations):
        # Lloyd step: every centre moves to the mean of its points (one scatter for all centres);
        # a centre left without points stays where it is.
        assign = torch.cdist(points, centres).argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, points)
        counts = torch.bincount(assign, minlength=k)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)
    return centres


def quantise(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centre for every pixel: ``(..., 2, H, W)`` -> ``(..., H, W)``."""
    flat = ab.movedim(-3, -1)
    d = (flat[..., None, :] - centres.to(ab)).square().sum(-1)
    return d.argmin(-1)
