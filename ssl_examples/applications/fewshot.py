r"""Few-shot learning with a self-supervised auxiliary loss (Gidaris, Bursuc, Komodakis, Pérez
and Cord, ICCV 2019).

Idea: a few-shot classifier learns, on *base* classes with many labels, an embedding in which
*novel* classes can be recognised from one or five examples each. Trained on the base
classes alone, the embedding keeps what separates those classes and may drop the rest;
adding a self-supervised loss on the same network (here: predicting the rotation of each
image) asks it to keep more about the images, which the novel classes may need.

The few-shot learner is a prototypical network (Snell, Swersky and Zemel, NeurIPS 2017).
It is trained on *episodes* that mimic the test: from :math:`N` classes, :math:`K` labelled
*support* images each and some *query* images. A class's prototype is the mean embedding of
its support images, :math:`c_k = \frac{1}{K} \sum_{i \in S_k} f(x_i)`, and a query is
classified by its distances to the prototypes:

.. math::

    \mathcal{L}_{\text{few}} = -\frac{1}{|Q|} \sum_{(x, y) \in Q}
    \log \frac{\exp(-\lVert f(x) - c_y \rVert^2)}{\sum_k \exp(-\lVert f(x) - c_k \rVert^2)},
    \qquad
    \mathcal{L} = \mathcal{L}_{\text{few}} + \lambda \, \frac{1}{4 |E|} \sum_{x \in E} \sum_{r=0}^{3}
    \operatorname{CE}\big(r, g(f(\operatorname{rot}_r(x)))\big)

with :math:`E` every image of the episode and :math:`g` a rotation head on the embedding.
The world's first 7 classes are the base classes; the last 5 are novel: no image of them is
seen in training, and the test is 5-way (all five novel classes) with 1 or 5 shots and 15
queries per class, over 600 episodes per seed.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import random_resized_crop_flip
from ..data.world import CLASSES, world_split
from ..errors import UserError
from ..evaluate import backbone_input
from ..methods.rotation import rotate_batch
from ..train import Recipe
from .common import CpuClock, batched, fit, small_backbone

BASE_CLASSES = tuple(range(7))
NOVEL_CLASSES = tuple(range(7, len(CLASSES)))


# --8<-- [start:episodes]
def sample_episode(labels: torch.Tensor, classes, way: int, shot: int, query: int,
                   g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One episode: ``way`` of ``classes``, ``shot`` support and ``query`` query images each.

    Returns indices into ``labels``, ``(way, shot + query)`` (the first ``shot`` of each row are
    the support set), and the classes picked (row ``k`` is episode label ``k``)."""
    classes = torch.as_tensor(classes)
    picked = classes[torch.randperm(len(classes), generator=g)[:way]]
    rows = []
    for c in picked.tolist():
        pool = (labels == c).nonzero().squeeze(1)
        if len(pool) < shot + query:
            raise ValueError(f"class {c} has {len(pool)} images, an episode needs {shot + query}")
        rows.append(pool[torch.randperm(len(pool), generator=g)[:shot + query]])
    return torch.stack(rows), picked


def prototype_logits(support: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """``support`` (way, shot, d) and ``queries`` (q, d) -> logits (q, way): minus the squared
    Euclidean distance from each query to each class's mean support embedding."""
    prototypes = support.mean(1)
    return -torch.cdist(queries, prototypes).square()
# --8<-- [end:episodes]


class Episodes(torch.utils.data.Dataset):
    """``count`` training episodes, item ``i`` drawn from its own seed (so the one training loop
    can shuffle and batch them): images ``(way * (shot + query), 3, H, W)``, support first."""

    def __init__(self, images, labels, classes, way, shot, query, count, seed=0):
        self.images, self.labels, self.classes = images, labels, classes
        self.way, self.shot, self.query, self.count, self.seed = way, shot, query, count, seed

    def __len__(self):
        return self.count

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        idx, _ = sample_episode(self.labels, self.classes, self.way, self.shot, self.query, g)
        # support images of every class first, then the queries, class by class
        order = torch.cat([idx[:, :self.shot].flatten(), idx[:, self.shot:].flatten()])
        return {"image": self.images[order], "index": i}


# --8<-- [start:model]
class ProtoNet(nn.Module):
    """A prototypical network; with ``rotation_weight > 0`` a rotation head on the same embedding."""

    def __init__(self, backbone: nn.Module, way: int, shot: int, query: int, rotation_weight: float):
        super().__init__()
        self.backbone = backbone
        self.rotation_head = nn.Linear(backbone.feature_dim, 4)
        self.way, self.shot, self.query, self.rotation_weight = way, shot, query, rotation_weight

    def forward(self, batch):
        losses, accs = [], []
        for images in batch["image"]:  # one episode at a time
            x = random_resized_crop_flip(backbone_input(images, 3), scale=(0.6, 1.0))
            if self.rotation_weight > 0:
                x4, r = rotate_batch(x)
                features = self.backbone(x4)
                rotation_loss = F.cross_entropy(self.rotation_head(features), r)
                features = features[: len(x)]  # the upright images
            else:
                features, rotation_loss = self.backbone(x), torch.zeros(())
            n_support = self.way * self.shot
            support = features[:n_support].view(self.way, self.shot, -1)
            logits = prototype_logits(support, features[n_support:])
            targets = torch.arange(self.way, device=x.device).repeat_interleave(self.query)
            losses.append(F.cross_entropy(logits, targets) + self.rotation_weight * rotation_loss)
            accs.append((logits.argmax(1) == targets).float().mean())
        return torch.stack(losses).mean(), {"acc": torch.stack(accs).mean().detach()}
# --8<-- [end:model]


@dataclass(frozen=True)
class Config:
    num_train: int = 6000  # images of the world's train split; the base classes' ones are used
    train_episodes: int = 100  # of all 7 base classes, 5 shots and 5 queries each (70 images)
    train_way: int = 7
    train_shot: int = 5
    train_query: int = 5
    lr: float = 4e-3
    weight_decay: float = 5e-4
    rotation_weight: float = 1.0  # λ, chosen on val by ``select``
    weights_to_try: tuple = (0.25, 0.5, 1.0)
    shots: tuple = (1, 5)  # test episodes: 5-way K-shot
    test_queries: int = 15
    test_episodes: int = 600
    num_eval: int = 2000  # images of the test (or val) split whose novel (or base) classes make the test episodes


DEFAULTS = Config()


def check_config(config: Config) -> None:
    per_class = config.num_eval // len(CLASSES)
    if max(config.shots) + config.test_queries > 0.8 * per_class:
        raise UserError(f"{max(config.shots)} shots + {config.test_queries} queries need more than the "
                        f"~{per_class} evaluation images of a class; raise --set num_eval")
    if config.train_way > len(BASE_CLASSES):
        raise UserError(f"train_way: there are only {len(BASE_CLASSES)} base classes")


def train_protonet(config: Config, rotation_weight: float, seed: int, device, verbose=False) -> ProtoNet:
    images, _, labels = world_split("train", config.num_train)
    base = torch.isin(labels, torch.tensor(BASE_CLASSES))
    episodes = Episodes(images[base], labels[base], BASE_CLASSES, config.train_way, config.train_shot,
                        config.train_query, config.train_episodes, seed)
    recipe = Recipe(epochs=1, batch_size=1, lr=config.lr, weight_decay=config.weight_decay, warmup_epochs=0.1)
    return fit(lambda: ProtoNet(small_backbone(), config.train_way, config.train_shot, config.train_query,
                                rotation_weight), episodes, recipe, seed, device, verbose)


def episode_accuracies(features, labels, classes, shot, queries, episodes, seed) -> torch.Tensor:
    """Accuracy of each of ``episodes`` 5-way test episodes on precomputed embeddings."""
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(episodes)
    for e in range(episodes):
        idx, _ = sample_episode(labels, classes, 5, shot, queries, g)
        emb = features[idx]  # (5, shot + queries, d)
        logits = prototype_logits(emb[:, :shot], emb[:, shot:].flatten(0, 1))
        out[e] = (logits.argmax(1) == torch.arange(5).repeat_interleave(queries)).float().mean()
    return out


def evaluate(model, config: Config, split: str, classes, device) -> dict:
    images, _, labels = world_split(split, config.num_eval)
    keep = torch.isin(labels, torch.tensor(classes))
    features = batched(model.backbone, images[keep], device)
    result = {}
    for shot in config.shots:
        acc = episode_accuracies(features, labels[keep], classes, shot, config.test_queries,
                                 config.test_episodes, seed=shot)
        result[shot] = {"mean": acc.mean().item(), "half": 1.96 * acc.std().item() / len(acc) ** 0.5}
    return result


def run(config: Config, seeds, device, verbose=False) -> dict:
    clock = CpuClock()
    lam = f"λ={config.rotation_weight:g}"
    variants = {"prototypical network": 0.0, f"+ rotation loss ({lam})": config.rotation_weight}
    res = {v: [] for v in variants}
    for seed in seeds:
        for v, w in variants.items():
            res[v].append(evaluate(train_protonet(config, w, seed, device, verbose), config, "test",
                                   NOVEL_CLASSES, device))
        scores = [" / ".join(f"{res[v][-1][k]['mean']:.3f}" for v in variants) for k in config.shots]
        print(f"  seed {seed}: " + "; ".join(f"{k}-shot {s}" for k, s in zip(config.shots, scores)), flush=True)
    table = {"id": "novel", "row_header": "novel classes (test)", "columns": list(variants), "unit": "%",
             "scale": 100, "digits": 1, "gain": True,
             "title": f"5-way accuracy on the {len(NOVEL_CLASSES)} novel classes, {config.test_queries} queries per "
                      f"class, {config.test_episodes} episodes per seed; mean ± 95 % interval over seeds "
                      f"{', '.join(map(str, seeds))}.",
             "rows": [{"label": f"5-way {k}-shot", "cells": [[r[k]["mean"] for r in res[v]] for v in variants]}
                      for k in config.shots]}
    episode_table = {"id": "episodes", "row_header": "seed, shots", "columns": list(variants), "unit": "%",
                     "scale": 100, "digits": 1, "gain": False,
                     "title": f"Each seed on its own: mean ± 95 % interval (1.96 standard errors) over its "
                              f"{config.test_episodes} test episodes.",
                     "rows": [{"label": f"seed {s}, {k}-shot", "cells": [res[v][i][k] for v in variants]}
                              for i, s in enumerate(seeds) for k in config.shots]}
    return {"tables": [table, episode_table], **clock.read()}


def select(config: Config, seeds, device, verbose=False) -> dict:
    """Choose λ on *base*-class episodes of the validation split (images never trained on): the
    novel classes stay unseen until the test, as they would in practice."""
    clock = CpuClock()
    weights = (0.0, *config.weights_to_try)
    res = {w: [evaluate(train_protonet(config, w, s, device, verbose), config, "val", BASE_CLASSES, device)
               for s in seeds] for w in weights}
    chosen = max(config.weights_to_try, key=lambda w: sum(r[k]["mean"] for r in res[w] for k in config.shots))
    table = {"id": "selection", "row_header": "base classes (validation images)", "unit": "%", "scale": 100,
             "digits": 1, "gain": False, "columns": [f"λ={w:g}" for w in weights],
             "title": f"Choosing λ on 5-way episodes of the base classes drawn from validation images "
                      f"(λ=0: no rotation loss); chosen: λ={chosen:g}, the best mean over "
                      f"{' and '.join(f'{k}-shot' for k in config.shots)}.",
             "rows": [{"label": f"5-way {k}-shot", "cells": [[r[k]["mean"] for r in res[w]] for w in weights]}
                      for k in config.shots]}
    return {"tables": [table], "chosen": {"rotation_weight": chosen}, **clock.read()}
