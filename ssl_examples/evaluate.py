"""Evaluation protocols shared by all methods.

Each protocol gives a top-1 accuracy on held-out labelled images, and every number is
meant to be read next to the same protocol on a random-init backbone (and a supervised
reference), so what pre-training added is visible:

* ``linear_probe``: logistic regression on frozen, pooled backbone features;
* ``knn_accuracy``: weighted k-nearest neighbours with cosine similarity (Wu et al., 2018:
  k = 200, each neighbour votes ``exp(s / 0.07)``);
* ``finetune``: the whole backbone plus a linear classifier trained on 1 %, 10 % or 100 % of
  the labels (a class-balanced subset), as in the "efficient learning" evaluations.
"""

import copy
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_resized_crop_flip
from .data import ImageData, TensorImages, make_loader
from .train import Recipe, Runtime, pick_device, train


def backbone_input(images: torch.Tensor, in_channels: int) -> torch.Tensor:
    """uint8 RGB batch -> the float input a backbone expects (greyscale for 1-channel nets)."""
    x = images.float() / 255
    if in_channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x


@torch.no_grad()
def extract_features(backbone: nn.Module, dataset, device: torch.device,
                     batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features and labels of a whole dataset, on the CPU."""
    backbone.eval().to(device)
    feats, labels = [], []
    for batch in make_loader(dataset, batch_size, shuffle=False):
        x = backbone_input(batch["image"].to(device), backbone.in_channels)
        feats.append(backbone(x).float().cpu())
        labels.append(torch.as_tensor(batch["label"]))
    return torch.cat(feats), torch.cat(labels)


# --8<-- [start:linear]
def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, steps: int = 300, weight_decay: float = 1e-4) -> float:
    """Top-1 of a multinomial logistic regression trained full-batch on standardised features."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    num_classes = int(train_y.max()) + 1
    classifier = nn.Linear(train_x.shape[1], num_classes)
    optimizer = torch.optim.LBFGS(classifier.parameters(), lr=1, max_iter=steps, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(classifier(train_x), train_y) + weight_decay * classifier.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return (classifier(test_x).argmax(1) == test_y).float().mean().item()
# --8<-- [end:linear]


# --8<-- [start:knn]
def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, k: int = 200, temperature: float = 0.07) -> float:
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


def finetune(backbone: nn.Module, data: ImageData, fraction: float, recipe: Recipe,
             runtime: Runtime) -> float:
    """Fine-tune a copy of the backbone with a class-balanced ``fraction`` of the labels."""
    train_set = data.train
    if fraction < 1:
        assert isinstance(train_set, TensorImages), "label fractions need an in-memory dataset"
        train_set = train_set.subset(balanced_subset(train_set.labels, fraction, runtime.seed))
    batch = min(recipe.batch_size, len(train_set))
    # Fewer labels, more passes, so every fraction gets a comparable number of steps.
    epochs = max(recipe.epochs, round(recipe.epochs / max(fraction, 0.05) ** 0.5))
    model = SupervisedClassifier(copy.deepcopy(backbone), data.num_classes)
    train(model, train_set, replace(recipe, batch_size=batch, epochs=epochs), replace(runtime, progress=False))
    device = pick_device(runtime.device)
    model.eval()
    correct = 0
    with torch.no_grad():
        for b in make_loader(data.test, 512, shuffle=False):
            x = backbone_input(b["image"].to(device), model.backbone.in_channels)
            correct += (model.classifier(model.backbone(x)).argmax(1).cpu() == torch.as_tensor(b["label"])).sum().item()
    return correct / len(data.test)


def frozen_protocols(backbone: nn.Module, data: ImageData, device: torch.device) -> dict[str, float]:
    """Linear probe and kNN on frozen features."""
    train_x, train_y = extract_features(backbone, data.train, device)
    test_x, test_y = extract_features(backbone, data.test, device)
    return {"linear": linear_probe(train_x, train_y, test_x, test_y),
            "knn": knn_accuracy(train_x, train_y, test_x, test_y)}
