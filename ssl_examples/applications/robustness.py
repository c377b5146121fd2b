r"""Robustness to image corruptions with a rotation head (Hendrycks, Mazeika, Kadavath and
Song, NeurIPS 2019).

Idea: train a supervised classifier and, on the same features, a head that predicts which of
four rotations an image was given. The rotation task asks for the shape and layout of objects
rather than texture or noise statistics, so the shared features may lean less on what a
corruption destroys. The paper measured this on CIFAR-10-C, CIFAR-10's test set under 15
corruptions at 5 severities; here a corrupted copy of the world's test split is made the
same way by our code: Gaussian noise, blur, contrast, JPEG and haze, three severities each.

Loss: with :math:`p(y \mid x)` the classifier, :math:`p_{\text{rot}}` the rotation head and
:math:`\operatorname{rot}_r` a rotation by :math:`r \cdot 90°`,

.. math::

    \mathcal{L} = \operatorname{CE}\big(y, p(y \mid x)\big)
    + \lambda \cdot \frac{1}{4} \sum_{r=0}^{3} \operatorname{CE}\big(r, p_{\text{rot}}(r \mid \operatorname{rot}_r(x))\big)

The weight :math:`\lambda` is chosen on the validation split (corrupted the same way), from
the paper's 0.5 and its neighbours; the test split is only reported.
"""

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..augment import gaussian_blur
from ..data import TensorImages
from ..data.world import CLASSES, world_split
from ..train import Recipe
from .common import CpuClock, RotationAuxClassifier, accuracy, batched, fit, small_backbone

# --8<-- [start:corruptions]
SEVERITIES = (1, 2, 3)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def gaussian_noise(x: torch.Tensor, severity: int, g: torch.Generator) -> torch.Tensor:
    """Add white noise of standard deviation 0.04, 0.08 or 0.12 (of the [0, 1] range)."""
    sigma = (0.04, 0.08, 0.12)[severity - 1]
    return x + sigma * torch.randn(x.shape, generator=g)


def blur(x: torch.Tensor, severity: int, g: torch.Generator) -> torch.Tensor:
    """A Gaussian blur of 0.6, 1.0 or 1.5 pixels (out-of-focus optics)."""
    sigma = (0.6, 1.0, 1.5)[severity - 1]
    return gaussian_blur(x, sigma, 2 * math.ceil(3 * sigma) + 1)


def contrast(x: torch.Tensor, severity: int, g: torch.Generator) -> torch.Tensor:
    """Pull every pixel towards the image's mean grey level, keeping 60, 40 or 25 % of the contrast."""
    keep = (0.6, 0.4, 0.25)[severity - 1]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return mean + keep * (x - mean)


def jpeg(x: torch.Tensor, severity: int, g: torch.Generator) -> torch.Tensor:
    """Compress to JPEG at quality 30, 15 or 7 and decode again (blocks and ringing)."""
    quality = (30, 15, 7)[severity - 1]
    out = []
    for image in _to_uint8(x).permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255


def haze(x: torch.Tensor, severity: int, g: torch.Generator) -> torch.Tensor:
    """Blend towards a bright airlight through a smooth, uneven veil (like CIFAR-10-C's fog):
    the veil is a 4x4 random field upsampled to the image, 35, 55 or 75 % thick on average."""
    thickness = (0.35, 0.55, 0.75)[severity - 1]
    b, _, h, w = x.shape
    field = F.interpolate(torch.rand(b, 1, 4, 4, generator=g), size=(h, w), mode="bicubic", align_corners=False)
    veil = (thickness * (0.7 + 0.6 * field)).clamp(0, 1)
    return x * (1 - veil) + 0.85 * veil


CORRUPTIONS = {"gaussian noise": gaussian_noise, "blur": blur, "contrast": contrast, "jpeg": jpeg, "haze": haze}


def corrupt(images: torch.Tensor, name: str, severity: int, seed: int = 0) -> torch.Tensor:
    """A corrupted copy of a uint8 batch ``(B, 3, H, W)``: same shape, uint8, deterministic in ``seed``."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity}")
    g = torch.Generator().manual_seed(seed)
    return _to_uint8(CORRUPTIONS[name](images.float() / 255, severity, g))
# --8<-- [end:corruptions]


@dataclass(frozen=True)
class Config:
    num_train: int = 6000  # labelled images of the world's train split, each seen once
    num_eval: int = 500  # images of the val (selection) or test (report) split, each corrupted 15 ways
    epochs: int = 1
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 5e-4
    rotation_weight: float = 1.0  # λ, chosen on val by ``select`` (see the page)
    weights_to_try: tuple = (0.25, 0.5, 1.0)  # the grid ``select`` searches: the paper's 0.5 and its neighbours
    severities: tuple = SEVERITIES


DEFAULTS = Config()


def train_classifier(config: Config, rotation_weight: float, seed: int, device, verbose=False):
    images, _, labels = world_split("train", config.num_train)
    recipe = Recipe(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                    weight_decay=config.weight_decay, warmup_epochs=0.1)
    return fit(lambda: RotationAuxClassifier(small_backbone(), len(CLASSES), rotation_weight),
               TensorImages(images, labels), recipe, seed, device, verbose)


def corrupted_sets(split: str, config: Config) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{"clean": (images, labels), "blur 2": ..., ...}`` for the first ``num_eval`` images of a split."""
    images, _, labels = world_split(split, config.num_eval)
    sets = {"clean": (images, labels)}
    for i, name in enumerate(CORRUPTIONS):
        for s in config.severities:
            sets[f"{name} {s}"] = (corrupt(images, name, s, seed=100 * i + s), labels)
    return sets


def accuracies(model, sets: dict, device) -> dict[str, float]:
    def logits(x):
        return model.classifier(model.backbone(x))
    return {name: accuracy(batched(logits, images, device), labels) for name, (images, labels) in sets.items()}


def summarise(per_set: dict[str, float]) -> dict[str, float]:
    """Clean accuracy, each corruption averaged over its severities, and the mean corrupted accuracy."""
    out = {"clean": per_set["clean"]}
    for name in CORRUPTIONS:
        out[name] = sum(v for k, v in per_set.items() if k.startswith(name + " ")) / \
            sum(1 for k in per_set if k.startswith(name + " "))
    out["mean corrupted"] = sum(out[name] for name in CORRUPTIONS) / len(CORRUPTIONS)
    return out


def run(config: Config, seeds, device, verbose=False) -> dict:
    """Train both variants per seed; accuracy on the clean and corrupted test split."""
    clock = CpuClock()
    sets = corrupted_sets("test", config)
    variants = {"supervised": 0.0, f"+ rotation head (λ={config.rotation_weight:g})": config.rotation_weight}
    per_seed = {v: [] for v in variants}
    for seed in seeds:
        for variant, weight in variants.items():
            model = train_classifier(config, weight, seed, device, verbose)
            per_seed[variant].append(accuracies(model, sets, device))
            print(f"  seed {seed} {variant}: clean {per_seed[variant][-1]['clean']:.3f}", flush=True)
    summary = {v: [summarise(s) for s in runs] for v, runs in per_seed.items()}
    rows = ["clean", *CORRUPTIONS, "mean corrupted"]
    table = {"id": "corruptions", "row_header": "test images", "columns": list(variants), "unit": "%",
             "scale": 100, "digits": 1, "gain": True,
             "title": f"Top-1 accuracy on {config.num_eval} test images of the world, clean and corrupted "
                      f"(each corruption averaged over severities {', '.join(map(str, config.severities))}); "
                      f"mean ± 95 % interval over seeds {', '.join(map(str, seeds))}.",
             "rows": [{"label": r, "cells": [[s[r] for s in summary[v]] for v in variants]} for r in rows]}
    severity_table = {"id": "severities", "row_header": "corruption, severity", "columns": list(variants),
                      "unit": "%", "scale": 100, "digits": 1, "gain": True,
                      "title": "Top-1 accuracy per corruption and severity (test split).",
                      "rows": [{"label": k, "cells": [[s[k] for s in per_seed[v]] for v in variants]}
                               for k in sets if k != "clean"]}
    return {"tables": [table, severity_table], "per_seed": per_seed, **clock.read()}


def select(config: Config, seeds, device, verbose=False) -> dict:
    """Choose λ on the validation split: the weight with the best mean corrupted accuracy."""
    clock = CpuClock()
    sets = corrupted_sets("val", config)
    weights = (0.0, *config.weights_to_try)
    scores = {w: [] for w in weights}
    for seed in seeds:
        for w in weights:
            model = train_classifier(config, w, seed, device, verbose)
            scores[w].append(summarise(accuracies(model, sets, device)))
            print(f"  seed {seed} λ={w:g}: val mean corrupted {scores[w][-1]['mean corrupted']:.3f}", flush=True)
    chosen = max(config.weights_to_try, key=lambda w: sum(s["mean corrupted"] for s in scores[w]))
    columns = [f"λ={w:g}" for w in weights]
    table = {"id": "selection", "row_header": "validation images", "columns": columns, "unit": "%",
             "scale": 100, "digits": 1, "gain": False,
             "title": f"Choosing λ on {config.num_eval} validation images (λ=0: no rotation head); "
                      f"chosen: λ={chosen:g}, the best mean corrupted accuracy.",
             "rows": [{"label": r, "cells": [[s[r] for s in scores[w]] for w in weights]}
                      for r in ("clean", "mean corrupted")]}
    return {"tables": [table], "chosen": {"rotation_weight": chosen}, **clock.read()}
