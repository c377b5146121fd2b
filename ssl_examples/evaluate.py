"""Evaluation protocols shared by all methods.

Each protocol gives a top-1 accuracy on held-out labelled images, and every number is
meant to be read next to the same protocol on a random-init backbone (and a supervised
reference), so what pre-training added is visible:

* ``linear_probe``: logistic regression on frozen, pooled backbone features;
* ``knn_accuracy``: weighted k-nearest neighbours with cosine similarity (Wu et al., 2018:
  each neighbour votes ``exp(s / 0.07)``), with ``KNN_K`` neighbours;
* ``finetune``: the whole backbone plus a linear classifier trained on 1 %, 10 % or 100 % of
  the labels (a class-balanced subset), as in the "efficient learning" evaluations.

The protocol is honest about choices: the probes are fitted on ``data.train``, every choice
(the probe's weight decay, which layer to report) is made on ``data.val``, and ``data.test``
is only reported. ``probe_layers`` reads every stage of the backbone (per-layer probes, as
Goyal et al., ICCV 2019, evaluate), and a method's headline number is its best layer on
validation.
"""

import copy
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_resized_crop_flip
from .color import luma
from .data import ImageData, TensorImages, make_loader
from .errors import UserError
from .train import Recipe, Runtime, pick_device, train


def backbone_input(images: torch.Tensor, in_channels: int) -> torch.Tensor:
    """uint8 RGB batch -> the float input a backbone expects (greyscale for 1-channel nets)."""
    x = images.float() / 255
    return luma(x) if in_channels == 1 else x


# Chosen once, on the validation split, for every method (see docs/lecture/evaluation.md):
# k: on the validation split, k in {5, 10, 20, 50, 100, 200} for six pre-trained networks and
# the random init, at block4 and block5 (12 pairs), gave mean kNN accuracies of 18.4, 19.4,
# 19.6, 19.4, 18.6 and 18.0 %: 20 is best. (Wu et al. use 200, but with 250 images a class
# 200 neighbours vote with most of a class.)
KNN_K = 20
# Features: the cosine of the raw pooled features. Checked on the validation split (seed 0, best
# layer, 14 pre-trained networks and the random init): centring them on the training mean first
# gives a mean kNN accuracy of 22.1 % against 22.7 % (higher for 5 of the 14), standardising each
# dimension 22.8 % (higher for 8); both lower the random init, from 24.8 to 20.7 and 22.4 %. So the
# gains would grow mostly because the baseline falls, not because the networks are read better.
# Pooling: every stage is averaged over all positions (the backbones' forward_layers). Goyal et
# al. instead average-pool each stage to about 9 000 dimensions, which keeps a coarse layout.
# Checked on the validation split (seed 0, best layer, kNN / linear %): pooling each stage to
# 2 x 2 positions lifts the random init from 24.8 / 37.1 to 31.0 / 44.9, and SimCLR trained for
# 12 epochs only from 30.6 / 50.0 to 35.2 / 52.2: the layout helps an untrained network at least
# as much as a trained one, so we keep global pooling, which asks the features to carry the class.
# BatchNorm statistics: read as pre-training left them (running averages over its augmented views,
# or tiles). Re-estimated on the clean training images instead (validation, seed 0, best layer,
# linear / kNN %): the random init 24.8 -> 23.3 on kNN; jigsaw (then 8-px tiles of 32-px images)
# 40.0 / 21.5 -> 44.3 / 22.3, context prediction 45.8 / 25.9 -> 49.9 / 24.3 (both trained on small
# tiles, so their statistics are the tiles'); exemplar 38.6 / 18.4 -> 38.9 / 18.2, NPID
# 38.2 / 22.0 -> 38.3 / 21.2, order prediction 42.1 / 20.5 -> 41.8 / 20.6; BYOL, Barlow Twins,
# SwAV and SimCLR moved by under a point. kNN rose by under a point for jigsaw only and fell by 1.5
# for the random init: re-estimating would lift the kNN gains mostly by lowering the baseline, as
# centring would, so the statistics stay as trained.
WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2)  # the linear probe's L2 penalty, chosen per layer on val


@torch.no_grad()
def extract_features(backbone: nn.Module, dataset, device: torch.device, batch_size: int = 512,
                     layers: list[str] | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Pooled features of every stage in ``layers`` (default: all) and the labels, on the CPU."""
    backbone.eval().to(device)
    layers = list(layers or backbone.layer_names)
    feats: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    labels = []
    for batch in make_loader(dataset, batch_size, shuffle=False):
        x = backbone_input(batch["image"].to(device), backbone.in_channels)
        out = backbone.forward_layers(x)
        for name in layers:
            feats[name].append(out[name].float().cpu())
        labels.append(torch.as_tensor(batch["label"]))
    return {name: torch.cat(f) for name, f in feats.items()}, torch.cat(labels)


# --8<-- [start:linear]
def fit_linear(train_x: torch.Tensor, train_y: torch.Tensor, steps: int = 150,
               weight_decay: float = 1e-4):
    """A multinomial logistic regression trained full-batch (L-BFGS) on standardised features;
    returns ``predict(x) -> class indices``."""
    # Standardise with the *training* statistics only: the test set's own mean and spread
    # would leak information about the test set into the classifier.
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x = (train_x - mean) / std
    classifier = nn.Linear(train_x.shape[1], int(train_y.max()) + 1)
    optimizer = torch.optim.LBFGS(classifier.parameters(), lr=1, max_iter=steps, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(classifier(train_x), train_y) + weight_decay * classifier.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)

    @torch.no_grad()
    def predict(x: torch.Tensor) -> torch.Tensor:
        return classifier((x - mean) / std).argmax(1)
    return predict


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, steps: int = 150, weight_decay: float = 1e-4) -> float:
    """Top-1 on ``test`` of a linear classifier fitted on ``train`` (see ``fit_linear``)."""
    predict = fit_linear(train_x, train_y, steps, weight_decay)
    return (predict(test_x) == test_y).float().mean().item()
# --8<-- [end:linear]


# --8<-- [start:knn]
def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, k: int = KNN_K, temperature: float = 0.07) -> float:
    """Weighted kNN on cosine similarity: neighbour i votes for its class with exp(s_i / T)."""
    train_x, test_x = F.normalize(train_x, dim=1), F.normalize(test_x, dim=1)
    num_classes = int(train_y.max()) + 1
    k = min(k, len(train_x))
    correct = 0
    for start in range(0, len(test_x), 1024):
        sims, idx = (test_x[start:start + 1024] @ train_x.T).topk(k, dim=1)
        votes = torch.zeros(len(idx), num_classes).scatter_add_(1, train_y[idx], (sims / temperature).exp())
        correct += (votes.argmax(1) == test_y[start:start + 1024]).sum().item()
    return correct / len(test_x)
# --8<-- [end:knn]


class SupervisedClassifier(nn.Module):
    """Backbone + linear classifier trained with labels: fine-tuning and the supervised reference."""

    def __init__(self, backbone: nn.Module, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.feature_dim, num_classes)

    def forward(self, batch):
        x = random_resized_crop_flip(backbone_input(batch["image"], self.backbone.in_channels), scale=(0.6, 1.0))
        logits = self.classifier(self.backbone(x))
        loss = F.cross_entropy(logits, batch["label"])
        return loss, {"acc": (logits.argmax(1) == batch["label"]).float().mean().detach()}


def balanced_subset(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Indices of ``fraction`` of the images, the same number from every class (at least one)."""
    g = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    per_class = max(1, round(fraction * len(labels) / len(classes)))
    picked = []
    for c in classes:
        idx = (labels == c).nonzero().squeeze(1)
        picked.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.cat(picked).sort().values


# Fine-tuning: the same optimiser settings and the same number of steps for every label
# fraction (fewer labels means more passes over them), so fractions differ only in labels.
FINETUNE = Recipe(epochs=1, batch_size=64, lr=1e-3, weight_decay=5e-4, warmup_epochs=0.0)
FINETUNE_STEPS = 300


def finetune(backbone: nn.Module, data: ImageData, fraction: float, runtime: Runtime,
             recipe: Recipe = FINETUNE, steps: int = FINETUNE_STEPS) -> float:
    """Fine-tune a copy of the backbone with a class-balanced ``fraction`` of the labels for
    ``steps`` steps; top-1 on the test split."""
    train_set = data.train
    if fraction < 1:
        if not isinstance(train_set, TensorImages):
            raise UserError("label fractions below 100 % need an in-memory dataset (world, CIFAR, STL-10)")
        train_set = train_set.subset(balanced_subset(train_set.labels, fraction, runtime.seed))
    batch = min(recipe.batch_size, len(train_set))
    steps_per_epoch = len(train_set) // batch
    epochs = -(-steps // steps_per_epoch)  # ceil: at least ``steps`` steps
    model = SupervisedClassifier(copy.deepcopy(backbone), data.num_classes)
    train(model, train_set, replace(recipe, batch_size=batch, epochs=epochs, image_size=data.image_size),
          replace(runtime, progress=False))
    device = pick_device(runtime.device)
    model.eval()
    correct = 0
    with torch.no_grad():
        for b in make_loader(data.test, 512, shuffle=False):
            x = backbone_input(b["image"].to(device), model.backbone.in_channels)
            correct += (model.classifier(model.backbone(x)).argmax(1).cpu() == torch.as_tensor(b["label"])).sum().item()
    return correct / len(data.test)


# --8<-- [start:layers]
def probe_layers(backbone: nn.Module, data: ImageData, device: torch.device,
                 layers: list[str] | None = None) -> dict[str, dict]:
    """Linear probe and kNN on every stage: ``{layer: {"linear": {"val", "test", "weight_decay"},
    "knn": {"val", "test"}}}``. The probe's weight decay is chosen on val, per layer."""
    if data.val is None:
        raise UserError(f"{data.name} has no validation split; the protocol needs one to make its choices")
    train_x, train_y = extract_features(backbone, data.train, device, layers=layers)
    val_x, val_y = extract_features(backbone, data.val, device, layers=layers)
    test_x, test_y = extract_features(backbone, data.test, device, layers=layers)
    def accuracy(predict, x, y):
        return (predict(x) == y).float().mean().item()

    out = {}
    for name in train_x:
        fits = []
        for wd in WEIGHT_DECAYS:
            state = torch.get_rng_state()  # the same classifier initialisation for every wd
            predict = fit_linear(train_x[name], train_y, weight_decay=wd)
            torch.set_rng_state(state)
            fits.append({"val": accuracy(predict, val_x[name], val_y),
                         "test": accuracy(predict, test_x[name], test_y), "weight_decay": wd})
        # Chosen on val alone (the first of equals: the weakest penalty); its test is reported.
        linear = max(fits, key=lambda f: f["val"])
        out[name] = {"linear": linear,
                     "knn": {"val": knn_accuracy(train_x[name], train_y, val_x[name], val_y),
                             "test": knn_accuracy(train_x[name], train_y, test_x[name], test_y)}}
    return out


def best_layer(per_layer: dict[str, dict], protocol: str) -> str:
    """The stage with the highest *validation* accuracy for ``protocol`` (the last of equals:
    the deepest layer)."""
    return max(reversed(list(per_layer)), key=lambda name: per_layer[name][protocol]["val"])
# --8<-- [end:layers]


def frozen_protocols(backbone: nn.Module, data: ImageData, device: torch.device,
                     layers: list[str] | None = None) -> dict:
    """Per-layer probes, plus the headline: each protocol's test accuracy at its best layer on
    validation, ``{"linear": .., "knn": .., "best": {"linear": layer, "knn": layer}, "layers": ..}``."""
    per_layer = probe_layers(backbone, data, device, layers)
    best = {p: best_layer(per_layer, p) for p in ("linear", "knn")}
    return {"linear": per_layer[best["linear"]]["linear"]["test"], "knn": per_layer[best["knn"]]["knn"]["test"],
            "best": best, "layers": per_layer}
