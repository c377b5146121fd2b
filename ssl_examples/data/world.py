"""A small procedural world of labelled images, drawn on the fly (no download, no GPU).

Every image shows one *main object* of one of the classes in ``CLASSES`` (its label), drawn
upright (a small tilt only) over an out-of-focus crop of a real photograph that scikit-image ships, with
clutter shapes and a partial object of another class behind it and small occluders in front.

An object is a few *parts* (a house is walls, roof, door and window), each a 2-D signed
distance function drawn in the object's own frame; ``shapes.py`` defines them, one drawing
function a kind, with each part's palette. Each part gets a colour drawn from its palette and
jittered, so colour alone does not give the class away.

Sampling and drawing are separate:

* ``sample_scenes(n, generator)`` draws a :class:`Scenes` parameter set: per scene a background
  crop and colour transform, and ``LAYERS`` layers (clutter, a distractor object, the main
  object, occluders), each with a kind, centre, scale, aspect, angle, flip, shape code, part
  colours and depth;
* ``render(scenes, size)`` turns parameters into pixels and an instance map.

A video clip is the same parameter set changed a little from frame to frame (move ``x``/``y``,
turn ``angle``, swap ``depth``, slide the background crop) and rendered once per frame.

Public API: ``CLASSES``, ``render_world``, ``world_split``, ``sample_grid``; ``render_style`` and
``styled_split`` draw the same scenes as a cartoon or a sketch.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..color import hsv_to_rgb
from .shapes import CLASSES, CLUTTER, COLOURS, KINDS, MAX_PARTS, SHAPES


# Layer slots of a still scene, back to front (their default depth order).
BACK_CLUTTER, DISTRACTOR, MAIN, OCCLUDERS = (0, 1, 2), 3, 4, (5, 6)
LAYERS = 7

# Backgrounds are out of focus: blurred with a Gaussian of this standard deviation (a fraction
# of the image side) and their contrast scaled down. Chosen on the validation split: with sharp
# backgrounds SimCLR's kNN stayed at random init's (background kNN rose, class kNN fell).
BACKGROUND_BLUR = 0.05
BACKGROUND_CONTRAST = 0.6

# Background photographs (all ship with scikit-image and load offline); grey ones get tinted.
BACKGROUNDS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
               "stereo_motorcycle", "camera", "grass", "brick", "gravel", "moon", "coins", "text")


def _palette_tables():
    """Tensors of the palettes: options (K, P, O, 3) HSV, option count (K, P), copy-from (K, P)."""
    n_opt = max(len(p) for _, ps, _ in SHAPES.values() for p in ps if not isinstance(p, int))
    opts = torch.zeros(len(KINDS), MAX_PARTS, n_opt, 3)
    count = torch.ones(len(KINDS), MAX_PARTS, dtype=torch.long)
    copy = torch.full((len(KINDS), MAX_PARTS), -1, dtype=torch.long)
    for k, (_, parts, _) in enumerate(SHAPES.values()):
        for p, names in enumerate(parts):
            if isinstance(names, int):
                copy[k, p] = names
                continue
            count[k, p] = len(names)
            opts[k, p, : len(names)] = torch.tensor([COLOURS[c] for c in names])
    return opts, count, copy


_OPTS, _COUNT, _COPY = _palette_tables()


# ----------------------------------------------------------------------------------------------
# Scene parameters


@dataclasses.dataclass
class Scenes:
    """Parameters of ``n`` scenes; every field is a tensor whose first dimension is the scene.

    Coordinates are normalised: the image spans [-1, 1] in x (right) and y (down); an object of
    ``scale`` s reaches about s from its centre, so it covers about a fraction s of the image width.
    """

    bg_image: torch.Tensor  # (n,) index into BACKGROUNDS
    bg_crop: torch.Tensor  # (n, 3) crop centre x, y and crop width, in the photo's normalised coords
    bg_flip: torch.Tensor  # (n,) bool: mirror the photo
    bg_colour: torch.Tensor  # (n, 3, 4) affine colour transform applied to the photo's RGB
    kind: torch.Tensor  # (n, L) int64 index into KINDS, -1 for an empty layer
    x: torch.Tensor  # (n, L) centre
    y: torch.Tensor  # (n, L)
    scale: torch.Tensor  # (n, L) half-size
    aspect: torch.Tensor  # (n, L) width / height
    angle: torch.Tensor  # (n, L) radians, counter-clockwise
    flip: torch.Tensor  # (n, L) bool: mirror the object
    shape: torch.Tensor  # (n, L, 4) shape code in [-1, 1]
    colour: torch.Tensor  # (n, L, MAX_PARTS, 3) RGB of each part
    depth: torch.Tensor  # (n, L) larger is nearer; layers are drawn far to near

    def __getitem__(self, index) -> "Scenes":
        return Scenes(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def label(self) -> torch.Tensor:
        return self.kind[:, MAIN]


LAYER_FIELDS = ("kind", "x", "y", "scale", "aspect", "angle", "flip", "shape", "colour", "depth")


def _uniform(g, shape, lo, hi):
    return lo + (hi - lo) * torch.rand(shape, generator=g)


def sample_colours(kind: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Part colours (..., MAX_PARTS, 3) RGB for layers of the given kinds: palette pick + jitter."""
    k = kind.clamp(min=0)
    pick = (torch.rand(*kind.shape, MAX_PARTS, generator=g) * _COUNT[k]).long()
    hsv = _OPTS[k].gather(-2, pick[..., None, None].expand(*pick.shape, 1, 3)).squeeze(-2)
    jitter = torch.rand(*hsv.shape, generator=g) * 2 - 1
    hsv = torch.stack([(hsv[..., 0] + 0.04 * jitter[..., 0]) % 1,
                       (hsv[..., 1] * (1 + 0.3 * jitter[..., 1])).clamp(0, 1),
                       (hsv[..., 2] * (1 + 0.2 * jitter[..., 2])).clamp(0, 1)], -1)
    rgb = hsv_to_rgb(hsv, dim=-1)
    copy = _COPY[k]
    for p in range(MAX_PARTS):  # parts that copy an earlier part's colour, slightly shaded
        src = copy[..., p].clamp(min=0)
        copied = rgb.gather(-2, src[..., None, None].expand(*src.shape, 1, 3)).squeeze(-2) * 0.9
        rgb[..., p, :] = torch.where((copy[..., p] >= 0)[..., None], copied, rgb[..., p, :])
    return rgb


def sample_scenes(n: int, g: torch.Generator) -> Scenes:
    """Draw ``n`` still scenes: clutter behind, maybe a partial other object, the main object, occluders."""
    L, u = LAYERS, functools.partial(_uniform, g)
    n_cls, n_clutter = len(CLASSES), len(CLUTTER)

    # Background: a random crop (20-100% of the photo's width), mirror, and colour transform.
    width = u((n,), 0.2, 1.0)
    crop = torch.stack([u((n,), -1, 1) * (1 - width), u((n,), -1, 1) * (1 - width), width], 1)
    perm = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    perm = perm[torch.randint(6, (n,), generator=g)]
    perm = torch.where(torch.rand(n, 1, generator=g) < 0.5, perm, torch.arange(3))
    sat = u((n, 1, 1), 0.2, 1.2)  # mix towards grey (<1) or away from it (>1)
    mix = sat * torch.eye(3)[perm] + (1 - sat) / 3
    contrast = u((n, 1, 1), 0.45, 1.0) * u((n, 3, 1), 0.7, 1.2)  # also tints grey photos
    brightness = u((n, 1), -0.15, 0.15) + 0.5 * (1 - contrast[..., 0])
    bg_colour = torch.cat([contrast * mix, brightness[..., None]], -1)

    kind = torch.full((n, L), -1, dtype=torch.long)
    x, y = u((n, L), -1, 1), u((n, L), -1, 1)
    scale, aspect = u((n, L), 0.1, 0.5), torch.exp(u((n, L), -1.0, 1.0))
    angle = u((n, L), -math.pi, math.pi)

    # Clutter behind: blobs, sticks, blocks... anywhere, any angle.
    for s in BACK_CLUTTER:
        present = torch.rand(n, generator=g) < 0.8
        kind[:, s] = torch.where(present, n_cls + torch.randint(n_clutter, (n,), generator=g), -1)

    # A small upright object of any class, mostly out of the frame at one side.
    s = DISTRACTOR
    present = torch.rand(n, generator=g) < 0.6
    kind[:, s] = torch.where(present, torch.randint(n_cls, (n,), generator=g), -1)
    scale[:, s], aspect[:, s] = u((n,), 0.2, 0.35), torch.exp(u((n,), -0.1, 0.1))
    side = torch.randint(4, (n,), generator=g)
    edge = u((n,), 0.75, 1.05) * torch.where(side % 2 == 0, 1.0, -1.0)
    x[:, s] = torch.where(side < 2, edge, x[:, s])
    y[:, s] = torch.where(side < 2, y[:, s], edge)
    angle[:, s] = u((n,), -1, 1) * math.radians(15)

    # The main object: balanced classes, about 45-90% of the image, near upright, may touch the border.
    s = MAIN
    kind[:, s] = torch.randperm(n, generator=g) % n_cls
    scale[:, s], aspect[:, s] = u((n,), 0.5, 1.0), torch.exp(u((n,), -0.12, 0.12))
    reach = 1.12 - scale[:, s]
    x[:, s], y[:, s] = u((n,), -1, 1) * reach, u((n,), -1, 1) * reach
    angle[:, s] = u((n,), -1, 1) * math.radians(15)

    # Small occluders in front, over the main object.
    for s in OCCLUDERS:
        present = torch.rand(n, generator=g) < 0.5
        kind[:, s] = torch.where(present, n_cls + torch.randint(n_clutter, (n,), generator=g), -1)
        scale[:, s] = u((n,), 0.08, 0.22)
        x[:, s] = x[:, MAIN] + u((n,), -0.8, 0.8) * scale[:, MAIN]
        y[:, s] = y[:, MAIN] + u((n,), -0.8, 0.8) * scale[:, MAIN]

    flippable = torch.tensor([f for _, _, f in SHAPES.values()])
    flip = (torch.rand(n, L, generator=g) < 0.5) & flippable[kind.clamp(min=0)]
    return Scenes(
        bg_image=torch.randint(len(BACKGROUNDS), (n,), generator=g), bg_crop=crop,
        bg_flip=torch.rand(n, generator=g) < 0.5, bg_colour=bg_colour,
        kind=kind, x=x, y=y, scale=scale, aspect=aspect, angle=angle, flip=flip,
        shape=u((n, L, 4), -1, 1), colour=sample_colours(kind, g),
        depth=torch.arange(L, dtype=torch.float32).expand(n, L).clone(),
    )


# ----------------------------------------------------------------------------------------------
# Rendering


@functools.lru_cache(maxsize=4)
def _photo_bank(resolution: int) -> torch.Tensor:
    """The background photos as float RGB squares (B, 3, R, R): centre crops, resized with antialiasing."""
    import skimage.data

    photos = []
    for name in BACKGROUNDS:
        img = getattr(skimage.data, name)()
        img = img[0] if isinstance(img, tuple) else img  # stereo pairs
        img = torch.as_tensor(np.asarray(img, dtype=np.float32) / 255.0)
        img = img[..., None].expand(*img.shape, 3) if img.ndim == 2 else img[..., :3]
        h, w = img.shape[:2]
        side = min(h, w)
        img = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        img = img.permute(2, 0, 1)[None]
        photos.append(F.interpolate(img, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(photos)


def render_background(scenes: Scenes, size: int) -> torch.Tensor:
    """Crop, mirror, resample and recolour the photos: (n, 3, size, size) float."""
    bank = _photo_bank(min(512, 4 * size))
    n = len(scenes)
    cx, cy, w = scenes.bg_crop.unbind(1)
    sx = torch.where(scenes.bg_flip, -w, w)
    zero = torch.zeros_like(w)
    theta = torch.stack([torch.stack([sx, zero, cx], 1), torch.stack([zero, w, cy], 1)], 1)
    out = torch.empty(n, 3, size, size)
    for b in scenes.bg_image.unique().tolist():
        idx = (scenes.bg_image == b).nonzero()[:, 0]
        grid = F.affine_grid(theta[idx], [len(idx), 3, size, size], align_corners=False)
        out[idx] = F.grid_sample(bank[b:b + 1].expand(len(idx), -1, -1, -1), grid, mode="bilinear", align_corners=False)
    out = torch.einsum("nij,njhw->nihw", scenes.bg_colour[:, :, :3], out) + scenes.bg_colour[:, :, 3, None, None]
    # Out of focus, as behind an object photographed up close: the photo's texture stays a
    # faint, blurred hint. Sharp photo crops gave instance-discrimination methods a shortcut
    # that real photographs do not offer so cheaply: two crops of an image could be matched
    # by the background's texture alone, which here says nothing about the class.
    from ..augment import gaussian_blur

    sigma = BACKGROUND_BLUR * size
    out = gaussian_blur(out, sigma, 2 * int(3 * sigma) + 1)
    mean = out.mean(dim=(2, 3), keepdim=True)
    out = mean + BACKGROUND_CONTRAST * (out - mean)
    return out.clamp(0, 1)


def object_frame(x, y, scale, aspect, angle, flip, size):
    """Pixel-centre coordinates in each object's frame (u right, v up), and the pixel size there."""
    t = (torch.arange(size, dtype=torch.float32) + 0.5) * (2 / size) - 1
    dx = t[None, None, :] - x[:, None, None]
    dy = y[:, None, None] - t[None, :, None]  # y up
    c, s = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    sx, sy = (scale * aspect.sqrt())[:, None, None], (scale / aspect.sqrt())[:, None, None]
    u = (c * dx + s * dy) / sx
    v = (c * dy - s * dx) / sy
    u = torch.where(flip[:, None, None], -u, u)
    return u, v, (2 / size) / torch.minimum(sx, sy)


def render_layers(scenes: Scenes, size: int):
    """Every layer on its own: premultiplied RGB (n, L, 3, S, S) and coverage (n, L, S, S)."""
    n, L = scenes.kind.shape
    flat = {name: getattr(scenes, name).flatten(0, 1) for name in LAYER_FIELDS}
    rgb = torch.zeros(n * L, 3, size, size)
    alpha = torch.zeros(n * L, size, size)
    for k in flat["kind"].unique().tolist():
        if k < 0:  # an empty layer
            continue
        idx = (flat["kind"] == k).nonzero()[:, 0]
        one = {name: value[idx] for name, value in flat.items()}
        u, v, pixel = object_frame(one["x"], one["y"], one["scale"], one["aspect"], one["angle"], one["flip"], size)
        shading = (1 + 0.12 * v.clamp(-1, 1))[:, None]  # lit from above, in the object's frame
        colour = one["colour"][..., None, None]
        c, a = torch.zeros(len(idx), 3, size, size), torch.zeros(len(idx), size, size)
        for p, sdf in enumerate(SHAPES[KINDS[k]][0](u, v, one["shape"][..., None, None])):
            cover = (0.5 - sdf / pixel).clamp(0, 1)  # anti-aliased edge about one pixel wide
            c = torch.lerp(c, colour[:, p] * shading, cover[:, None])  # premultiplied "over"
            a = torch.lerp(a, torch.ones(()), cover)
        rgb[idx], alpha[idx] = c, a
    return rgb.view(n, L, 3, size, size), alpha.view(n, L, size, size)


def render(scenes: Scenes, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw scenes: float RGB (n, 3, S, S) in [0, 1], and the instance map (n, S, S) uint8 holding
    1 + the layer index of the nearest layer covering each pixel by more than half (0: photo)."""
    image = render_background(scenes, size)
    rgb, alpha = render_layers(scenes, size)
    order = scenes.depth.argsort(dim=1, stable=True)
    rows = torch.arange(len(scenes))
    ids = torch.zeros(len(scenes), size, size, dtype=torch.uint8)
    for r in range(order.shape[1]):
        layer = order[:, r]
        a = alpha[rows, layer]
        image = rgb[rows, layer] + image * (1 - a[:, None])
        ids = torch.where(a > 0.5, (layer + 1).to(torch.uint8)[:, None, None], ids)
    return image.clamp(0, 1), ids


# ----------------------------------------------------------------------------------------------
# Styles: the same scenes drawn as a photograph (the default), a flat-colour cartoon or a pencil
# sketch, for experiments across visual domains (domain generalisation).  ``render`` above is the
# photo style and stays untouched; the other styles reuse the scene parameters and the SDFs.

STYLES = ("photo", "cartoon", "sketch")
INK = {"cartoon": 0.05, "sketch": 0.2}  # grey level of the outlines
PAPER = (0.97, 0.96, 0.92)  # the sketch's background


def cartoon_background(scenes: Scenes, size: int) -> torch.Tensor:
    """Sky over ground in two flat, light colours: the mean colours of the upper and lower half
    of the scene's photo crop, washed out; the horizon height follows the crop (n, 3, S, S)."""
    photo = render_background(scenes, size)
    half = size // 2
    sky = 0.4 + 0.6 * photo[:, :, :half].mean((2, 3))
    ground = 0.25 + 0.6 * photo[:, :, half:].mean((2, 3))
    horizon = ((0.5 + 0.25 * scenes.bg_crop[:, 1]) * size).round()
    above = torch.arange(size)[None, :] < horizon[:, None]  # (n, S) rows above the horizon
    return torch.where(above[:, None, :, None], sky[:, :, None, None], ground[:, :, None, None]).expand(-1, -1, -1, size)


# --8<-- [start:styles]
def styled_layers(scenes: Scenes, size: int, style: str):
    """Like ``render_layers`` for the cartoon (flat part colours, no shading, dark outlines)
    and sketch (paper-white parts, grey outlines) styles: premultiplied RGB and coverage."""
    n, L = scenes.kind.shape
    flat = {name: getattr(scenes, name).flatten(0, 1) for name in LAYER_FIELDS}
    rgb = torch.zeros(n * L, 3, size, size)
    alpha = torch.zeros(n * L, size, size)
    ink = torch.full((3, 1, 1), INK[style])
    paper = torch.tensor(PAPER).view(3, 1, 1)
    for k in flat["kind"].unique().tolist():
        if k < 0:
            continue
        idx = (flat["kind"] == k).nonzero()[:, 0]
        one = {name: value[idx] for name, value in flat.items()}
        u, v, pixel = object_frame(one["x"], one["y"], one["scale"], one["aspect"], one["angle"], one["flip"], size)
        c, a = torch.zeros(len(idx), 3, size, size), torch.zeros(len(idx), size, size)
        for p, sdf in enumerate(SHAPES[KINDS[k]][0](u, v, one["shape"][..., None, None])):
            cover = (0.5 - sdf / pixel).clamp(0, 1)
            line = (1.1 - sdf.abs() / pixel).clamp(0, 1)  # a stroke about 1.5 pixels wide on the edge
            fill = one["colour"][:, p, :, None, None] if style == "cartoon" else paper
            c = torch.lerp(c, fill.expand_as(c), cover[:, None])
            c = torch.lerp(c, ink.expand_as(c), line[:, None])
            a = torch.lerp(a, torch.ones(()), torch.maximum(cover, line))
        rgb[idx], alpha[idx] = c, a
    return rgb.view(n, L, 3, size, size), alpha.view(n, L, size, size)


def render_style(scenes: Scenes, size: int, style: str = "photo") -> torch.Tensor:
    """Draw scenes in one of ``STYLES``: float RGB (n, 3, S, S) in [0, 1]. The same scenes give
    the same objects in the same places in every style; ``"photo"`` is exactly ``render``."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    if style == "photo":
        return render(scenes, size)[0]
    if style == "cartoon":
        image = cartoon_background(scenes, size)
    else:
        image = torch.tensor(PAPER).view(1, 3, 1, 1).expand(len(scenes), 3, size, size)
    rgb, alpha = styled_layers(scenes, size, style)
    order = scenes.depth.argsort(dim=1, stable=True)
    rows = torch.arange(len(scenes))
    for r in range(order.shape[1]):
        layer = order[:, r]
        image = rgb[rows, layer] + image * (1 - alpha[rows, layer][:, None])
    return image.clamp(0, 1)
# --8<-- [end:styles]


def styled_split(split: str, n: int, size: int = 32, style: str = "photo", start: int = 0):
    """Images ``start .. start + n`` of a split (``world_split``'s scenes) drawn in ``style``:
    uint8 images (n, 3, S, S) and labels (n,)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    scenes = scenes_for(start + n, seed=0, stream=1 + SPLITS.index(split))[start:]
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    for i in range(0, n, 1024):
        images[i:i + 1024] = (render_style(scenes[i:i + 1024], size, style) * 255).round_().to(torch.uint8)
    return images, scenes.label.clone()


# ----------------------------------------------------------------------------------------------
# The public API

BLOCK = 1024  # scenes are sampled in blocks with their own seeds, so n images are a prefix of n + m


def _block_generator(seed: int, stream: int, block: int) -> torch.Generator:
    state = np.random.SeedSequence([stream, seed, block]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


def scenes_for(n: int, seed: int = 0, stream: int = 0) -> Scenes:
    """The parameters behind ``render_world(n, seed=seed)`` (stream 0) or a split (streams 1-3)."""
    blocks = [sample_scenes(BLOCK, _block_generator(seed, stream, b)) for b in range((n + BLOCK - 1) // BLOCK)]
    return Scenes(**{f.name: torch.cat([getattr(b, f.name) for b in blocks])[:n] for f in dataclasses.fields(Scenes)})


def render_scenes(scenes: Scenes, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images uint8 (n, 3, S, S), masks uint8 (n, S, S) (0 or 1 + class of the main object), labels."""
    n = len(scenes)
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    masks = torch.empty(n, size, size, dtype=torch.uint8)
    chunk = max(16, (1024 * 32 * 32) // (size * size))
    for i in range(0, n, chunk):
        part = scenes[i:i + chunk]
        image, ids = render(part, size)
        images[i:i + chunk] = (image * 255).round_().to(torch.uint8)
        masks[i:i + chunk] = torch.where(ids == MAIN + 1, (part.label + 1).to(torch.uint8)[:, None, None], 0)
    return images, masks, scenes.label.clone()


def render_world(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` labelled images of the world: images uint8 (n, 3, size, size), masks uint8
    (n, size, size) with 0 for everything but the main object's visible pixels, which hold
    1 + its class, and labels int64 (n,).  Deterministic in (n, size, seed); the first n images
    of a seed do not depend on how many more are asked for."""
    if not 8 <= size <= 256:
        raise ValueError(f"size must be between 8 and 256 pixels, not {size}")
    return render_scenes(scenes_for(n, seed), size)


SPLITS = ("train", "val", "test")


@functools.lru_cache(maxsize=16)
def world_split(split: str, n: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``train``, ``val`` or ``test`` split: like ``render_world`` but from seed streams of
    their own, which no ``render_world`` seed reaches; memoised, so do not modify the tensors."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    return render_scenes(scenes_for(n, seed=0, stream=1 + SPLITS.index(split)), size)


def sample_grid(path, size: int = 64, rows: int = 4, cols: int = 8, seed: int = 0) -> None:
    """Save a labelled grid of ``rows x cols`` samples as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, _, labels = render_world(rows * cols, size, seed)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.65 * rows))
    for ax, image, label in zip(axes.flat, images, labels):
        ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(CLASSES[label], fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
