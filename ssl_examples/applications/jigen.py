r"""Domain generalisation by solving jigsaw puzzles: JiGen (Carlucci, D'Innocente, Bucci,
Caputo and Tommasi, CVPR 2019).

Idea: a classifier trained on photographs and cartoons should also work on sketches it has
never seen. Colour and texture change from one visual domain to the next; the shapes of
objects and the layout of their parts do not. JiGen trains the classifier together with a
jigsaw head on the same network: some images are cut into a 3x3 grid and reassembled in a
shuffled order, and the network must say which of :math:`P` shuffles was applied. Solving
the puzzle needs the spatial layout of parts, which carries over to an unseen domain.

Unlike the jigsaw *pretext* method (``methods/jigsaw.py``: nine tiles through a siamese
network), JiGen shuffles the tiles *inside* the image and feeds the recomposed image to the
one classifier network. A fraction :math:`\beta` of the images stays in order (jigsaw label
0); only those are classified, so the object classifier never sees a scrambled object.

Loss: with :math:`\tilde x` an image whose tiles were shuffled by permutation :math:`j`
(:math:`j = 0`: in order), :math:`h` the object classifier and :math:`g` the jigsaw head on
the shared network,

.. math::

    \mathcal{L} = \frac{1}{|\{i: j_i = 0\}|} \sum_{i: j_i = 0} \operatorname{CE}\big(y_i, h(\tilde x_i)\big)
    + \alpha \, \frac{1}{N} \sum_{i=1}^{N} \operatorname{CE}\big(j_i, g(\tilde x_i)\big)

Here the world is drawn in three styles (photo, cartoon, sketch; ``data/world.py``); each
style in turn is held out, the network trains on the other two and is tested on it
("leave one domain out"). The baseline trains the same network on the same images without
the jigsaw head (the paper's "Deep All"). Images are 30 px so that the grid has 10 px tiles.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import random_resized_crop_flip
from ..data import TensorImages
from ..data.world import CLASSES, STYLES, styled_split
from ..evaluate import backbone_input
from ..methods.jigsaw import permutation_set
from ..train import Recipe
from .common import CpuClock, accuracy, batched, fit, small_backbone

SIZE = 30  # pixels: 3 x 3 tiles of 10 px


# --8<-- [start:shuffle]
def jigsaw_classes(num_permutations: int = 30) -> torch.Tensor:
    """The jigsaw head's classes: the identity (class 0, "in order") and ``num_permutations``
    shuffles from the jigsaw method's set, far apart in Hamming distance, ``(P + 1, 9)``."""
    candidates = permutation_set(num_permutations + 1)
    shuffles = candidates[(candidates != torch.arange(9)).any(1)][:num_permutations]
    return torch.cat([torch.arange(9)[None], shuffles])


def shuffle_tiles_in_image(x: torch.Tensor, perms: torch.Tensor, ordered_fraction: float):
    """Cut every image into 3x3 tiles and put them back in a shuffled order, except for a
    fraction ``ordered_fraction`` of the images, which stay as they are.

    ``perms`` is ``(P + 1, 9)`` with the identity first. Returns the recomposed images (same
    shape) and their labels: 0 for an image in order, ``j`` when tile ``perms[j][k]`` was
    moved to position ``k`` (reading order)."""
    b, c, h, w = x.shape
    t = h // 3
    assert h == w == 3 * t, "the images must split into 3 x 3 equal tiles"
    tiles = x.unfold(2, t, t).unfold(3, t, t).permute(0, 2, 3, 1, 4, 5).reshape(b, 9, c, t, t)
    labels = torch.randint(1, len(perms), (b,), device=x.device)
    labels = torch.where(torch.rand(b, device=x.device) < ordered_fraction, 0, labels)
    order = perms.to(x.device)[labels]  # (B, 9)
    shuffled = tiles[torch.arange(b, device=x.device)[:, None], order]
    return shuffled.view(b, 3, 3, c, t, t).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w), labels
# --8<-- [end:shuffle]


# --8<-- [start:model]
class JigsawAuxClassifier(nn.Module):
    """JiGen: one network, an object classifier on the images in order and a jigsaw head on all.

    With ``jigsaw_weight = 0`` it is the plain classifier ("Deep All"), every image in order."""

    def __init__(self, backbone: nn.Module, num_classes: int, jigsaw_weight: float,
                 ordered_fraction: float = 0.7, num_permutations: int = 30):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.feature_dim, num_classes)
        self.jigsaw_head = nn.Linear(backbone.feature_dim, num_permutations + 1)
        self.register_buffer("perms", jigsaw_classes(num_permutations), persistent=False)
        self.jigsaw_weight, self.ordered_fraction = jigsaw_weight, ordered_fraction

    def forward(self, batch):
        x = random_resized_crop_flip(backbone_input(batch["image"], 3), scale=(0.6, 1.0))
        y = batch["label"]
        if self.jigsaw_weight == 0:
            logits = self.classifier(self.backbone(x))
            loss = F.cross_entropy(logits, y)
            return loss, {"acc": (logits.argmax(1) == y).float().mean().detach()}
        x, j = shuffle_tiles_in_image(x, self.perms, self.ordered_fraction)
        features = self.backbone(x)
        ordered = j == 0
        logits = self.classifier(features[ordered])
        class_loss = F.cross_entropy(logits, y[ordered]) if ordered.any() else features.sum() * 0
        jigsaw_logits = self.jigsaw_head(features)
        loss = class_loss + self.jigsaw_weight * F.cross_entropy(jigsaw_logits, j)
        return loss, {"acc": (logits.argmax(1) == y[ordered]).float().mean().detach(),
                      "jig_acc": (jigsaw_logits.argmax(1) == j).float().mean().detach()}
# --8<-- [end:model]


@dataclass(frozen=True)
class Config:
    num_per_domain: int = 2500  # training images per source style (different scenes per style)
    num_eval: int = 500  # validation images per source style (selection) / test images of the held-out style
    epochs: int = 1
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 5e-4
    jigsaw_weight: float = 0.3  # α, chosen on the sources' validation images by ``select``
    ordered_fraction: float = 0.7  # β, fixed (not tuned)
    weights_to_try: tuple = (0.3, 0.7, 1.0)


DEFAULTS = Config()


def source_data(target: str, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of each style but ``target``; style number d uses the split's scenes
    ``d n .. (d + 1) n``, so no scene appears in two styles."""
    parts = [styled_split(split, n, SIZE, style, start=d * n) for d, style in enumerate(STYLES) if style != target]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def train_on_sources(config: Config, target: str, weight: float, seed: int, device, verbose=False):
    images, labels = source_data(target, "train", config.num_per_domain)
    recipe = Recipe(image_size=SIZE, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                    weight_decay=config.weight_decay, warmup_epochs=0.1)
    return fit(lambda: JigsawAuxClassifier(small_backbone(), len(CLASSES), weight, config.ordered_fraction),
               TensorImages(images, labels), recipe, seed, device, verbose)


def style_accuracy(model, images, labels, device) -> float:
    return accuracy(batched(lambda x: model.classifier(model.backbone(x)), images, device), labels)


def run(config: Config, seeds, device, verbose=False) -> dict:
    clock = CpuClock()
    variants = {"supervised on the sources (Deep All)": 0.0, f"+ jigsaw head (JiGen, α={config.jigsaw_weight:g})":
                config.jigsaw_weight}
    acc = {(t, v): [] for t in STYLES for v in variants}
    for target in STYLES:
        images, labels = styled_split("test", config.num_eval, SIZE, target)
        for seed in seeds:
            for v, w in variants.items():
                acc[target, v].append(style_accuracy(train_on_sources(config, target, w, seed, device, verbose),
                                                    images, labels, device))
            print(f"  held out {target}, seed {seed}: {' / '.join(f'{acc[target, v][-1]:.3f}' for v in variants)}",
                  flush=True)
    rows = [{"label": t, "cells": [acc[t, v] for v in variants]} for t in STYLES]
    rows.append({"label": "mean", "cells": [[sum(acc[t, v][i] for t in STYLES) / len(STYLES)
                                             for i in range(len(seeds))] for v in variants]})
    table = {"id": "leave-one-domain-out", "row_header": "held-out style (test)", "columns": list(variants),
             "unit": "%", "scale": 100, "digits": 1, "gain": True,
             "title": f"Top-1 accuracy on {config.num_eval} test images drawn in the held-out style, after "
                      f"training on the other two ({config.num_per_domain} images each); mean ± 95 % interval "
                      f"over seeds {', '.join(map(str, seeds))}.",
             "rows": rows}
    return {"tables": [table], **clock.read()}


def select(config: Config, seeds, device, verbose=False) -> dict:
    """Choose α on validation images of the *source* styles (the target is unseen, as in the paper)."""
    clock = CpuClock()
    scores = {(t, w): [] for t in STYLES for w in config.weights_to_try}
    for target in STYLES:
        images, labels = source_data(target, "val", config.num_eval)
        for seed in seeds:
            for w in config.weights_to_try:
                model = train_on_sources(config, target, w, seed, device, verbose)
                scores[target, w].append(style_accuracy(model, images, labels, device))
    chosen = max(config.weights_to_try, key=lambda w: sum(sum(scores[t, w]) for t in STYLES))
    table = {"id": "selection", "row_header": "held-out style (validation on the sources)", "unit": "%",
             "scale": 100, "digits": 1, "gain": False, "columns": [f"α={w:g}" for w in config.weights_to_try],
             "title": f"Choosing α: top-1 on validation images of the two source styles ({config.num_eval} each); "
                      f"chosen: α={chosen:g}, the best mean over the three splits.",
             "rows": [{"label": f"{t} held out", "cells": [scores[t, w] for w in config.weights_to_try]}
                      for t in STYLES]}
    return {"tables": [table], "chosen": {"jigsaw_weight": chosen}, **clock.read()}
