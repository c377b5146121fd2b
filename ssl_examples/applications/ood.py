r"""Out-of-distribution detection with a rotation head (Hendrycks, Mazeika, Kadavath and Song,
NeurIPS 2019; Ahmed and Courville, AAAI 2020).

Idea: a classifier trained on some classes should notice when an image shows none of them.
The usual baseline scores an image by its *maximum softmax probability* (Hendrycks and
Gimpel, ICLR 2017): confident means normal. A classifier that also learned to predict
rotations has a second signal: on an image unlike its training data it cannot tell which
way up it is, so its rotation loss is high. Ahmed and Courville argue that held-out *classes*
(semantic anomalies) are the test that matters, and that a self-supervised auxiliary task
helps there too.

Here the classifier learns 8 of the world's 12 classes. Out-of-distribution test images are
(1) images of the 4 held-out classes, drawn over the same backgrounds with the same clutter,
and (2) object-free backgrounds: the same kind of scene with its objects removed.

Scores (higher means more anomalous), with :math:`p(y \mid x)` over :math:`K` classes and
:math:`U` the uniform distribution:

.. math::

    s_{\text{MSP}}(x) = -\max_y p(y \mid x), \qquad
    s_{\text{rot}}(x) = -\operatorname{KL}\big(U \,\|\, p(\cdot \mid x)\big)
        + \frac{1}{4} \sum_{r=0}^{3} \operatorname{CE}\big(r, p_{\text{rot}}(r \mid \operatorname{rot}_r(x))\big)

(the second is the paper's score: unconfident *and* confused about rotations). Reported: the
area under the ROC curve (AUROC) of telling test images of the 8 classes from each
out-of-distribution set; 50 % is chance, 100 % perfect.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import TensorImages
from ..data.world import DISTRACTOR, MAIN, SPLITS, render_scenes, scenes_for, world_split
from ..methods.rotation import rotate_batch
from ..train import Recipe
from .common import CpuClock, RotationAuxClassifier, accuracy, batched, fit, small_backbone

IN_CLASSES = 8  # classes 0..7 are in distribution; 8..11 (umbrella, flower, bird, lamp) are held out


# --8<-- [start:scores]
def msp_score(logits: torch.Tensor) -> torch.Tensor:
    """Anomaly score of the maximum-softmax baseline: minus the top class probability."""
    return -logits.softmax(1).max(1).values


def rotation_score(logits: torch.Tensor, rotation_logits: torch.Tensor) -> torch.Tensor:
    """The rotation-based score: ``-KL(U || p(y|x))`` plus the mean rotation cross-entropy.

    ``rotation_logits`` is ``(4, B, 4)``: the rotation head on every image in its four
    rotations (row ``r`` turned by ``r * 90°``, so ``r`` is the right answer)."""
    log_p = logits.log_softmax(1)
    k = logits.shape[1]
    kl_uniform = -torch.log(torch.tensor(float(k))) - log_p.mean(1)  # sum_k (1/K) log((1/K) / p_k)
    targets = torch.arange(4).view(4, 1).expand(4, logits.shape[0])
    rotation_loss = F.cross_entropy(rotation_logits.flatten(0, 1), targets.flatten(), reduction="none")
    return -kl_uniform + rotation_loss.view(4, -1).mean(0)


def auroc(normal: torch.Tensor, anomalous: torch.Tensor) -> float:
    """Area under the ROC curve of telling ``anomalous`` from ``normal`` scores (higher means
    anomalous): the probability that a random anomaly scores above a random normal image,
    ties counting one half (the Mann-Whitney statistic, from average ranks)."""
    scores = torch.cat([normal, anomalous]).double()
    _, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    counts = counts.double()
    average_rank = counts.cumsum(0) - (counts - 1) / 2  # 1-based rank of each distinct value
    n, m = len(normal), len(anomalous)
    rank_sum = average_rank[inverse[n:]].sum()
    return ((rank_sum - m * (m + 1) / 2) / (n * m)).item()
# --8<-- [end:scores]


def object_free(n: int, split: str) -> torch.Tensor:
    """``n`` backgrounds of a split's kind of scene with the main and the distractor object
    removed (clutter stays); seed 1 of the split's stream, which ``world_split`` never uses."""
    scenes = scenes_for(n, seed=1, stream=1 + SPLITS.index(split))
    scenes.kind[:, MAIN] = -1
    scenes.kind[:, DISTRACTOR] = -1
    return render_scenes(scenes, 32)[0]


def split_sets(split: str, n: int) -> dict[str, torch.Tensor]:
    """Images of a split: ``n`` of the in-distribution classes (and their labels), ``n`` of
    the held-out classes, ``n`` object-free backgrounds."""
    images, _, labels = world_split(split, 4 * n)  # classes are balanced: 1/3 held out
    inside = labels < IN_CLASSES
    assert (~inside).sum() >= n
    return {"in": images[inside][:n], "in_labels": labels[inside][:n],
            "held-out classes": images[~inside][:n], "backgrounds": object_free(n, split)}


@dataclass(frozen=True)
class Config:
    num_train: int = 6000  # images of the 8 in-distribution classes, each seen once
    num_eval: int = 500  # images per set: in-distribution, held-out classes, backgrounds
    epochs: int = 1
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 5e-4
    rotation_weight: float = 0.25  # λ, chosen on val by ``select``
    weights_to_try: tuple = (0.25, 0.5, 1.0)


DEFAULTS = Config()
OOD_SETS = ("held-out classes", "backgrounds")


def train_classifier(config: Config, rotation_weight: float, seed: int, device, verbose=False):
    images, _, labels = world_split("train", config.num_train * 3 // 2 + 1024)
    inside = labels < IN_CLASSES
    assert inside.sum() >= config.num_train
    data = TensorImages(images[inside][:config.num_train], labels[inside][:config.num_train])
    recipe = Recipe(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                    weight_decay=config.weight_decay, warmup_epochs=0.1)
    return fit(lambda: RotationAuxClassifier(small_backbone(), IN_CLASSES, rotation_weight),
               data, recipe, seed, device, verbose)


def scores(model, images: torch.Tensor, device) -> dict[str, torch.Tensor]:
    """Class logits, the MSP score and the rotation score of every image."""
    def both(x):
        x4, _ = rotate_batch(x)
        features = model.backbone(x4)
        logits = model.classifier(features[: len(x)])
        rotation = model.rotation_head(features).view(4, len(x), 4)
        return torch.cat([logits, rotation_score(logits, rotation)[:, None]], 1)
    out = batched(both, images, device)
    logits = out[:, :-1]
    return {"logits": logits, "msp": msp_score(logits), "rotation": out[:, -1]}


def evaluate(model, sets, device) -> dict:
    inside = scores(model, sets["in"], device)
    result = {"accuracy": accuracy(inside["logits"], sets["in_labels"])}
    for name in OOD_SETS:
        outside = scores(model, sets[name], device)
        for score in ("msp", "rotation"):
            result[f"{name}/{score}"] = auroc(inside[score], outside[score])
    return result


def run(config: Config, seeds, device, verbose=False) -> dict:
    clock = CpuClock()
    sets = split_sets("test", config.num_eval)
    plain, aux = {}, {}
    for seed in seeds:
        plain[seed] = evaluate(train_classifier(config, 0.0, seed, device, verbose), sets, device)
        aux[seed] = evaluate(train_classifier(config, config.rotation_weight, seed, device, verbose), sets, device)
        print(f"  seed {seed}: accuracy {plain[seed]['accuracy']:.3f} / {aux[seed]['accuracy']:.3f}", flush=True)
    lam = f"λ={config.rotation_weight:g}"
    columns = ["supervised, max softmax", f"+ rotation head ({lam}), max softmax",
               f"+ rotation head ({lam}), rotation score"]
    picks = [(plain, "msp"), (aux, "msp"), (aux, "rotation")]
    table = {"id": "auroc", "row_header": "out-of-distribution test images", "columns": columns, "unit": "%",
             "scale": 100, "digits": 1, "gain": True,
             "title": f"AUROC of telling {config.num_eval} test images of the {IN_CLASSES} training classes from "
                      f"{config.num_eval} images of each out-of-distribution set; mean ± 95 % interval over "
                      f"seeds {', '.join(map(str, seeds))}; gains are paired with the baseline (first column).",
             "rows": [{"label": name, "cells": [[r[s][f"{name}/{score}"] for s in seeds] for r, score in picks]}
                      for name in OOD_SETS]}
    accuracy_table = {"id": "accuracy", "row_header": "in-distribution test images", "unit": "%", "scale": 100,
                      "digits": 1, "gain": True, "columns": ["supervised", f"+ rotation head ({lam})"],
                      "title": f"Top-1 accuracy on the {IN_CLASSES} training classes (test split).",
                      "rows": [{"label": "top-1", "cells": [[plain[s]["accuracy"] for s in seeds],
                                                           [aux[s]["accuracy"] for s in seeds]]}]}
    return {"tables": [table, accuracy_table], **clock.read()}


def select(config: Config, seeds, device, verbose=False) -> dict:
    """Choose λ on the validation split: the best mean AUROC of the rotation score over both sets."""
    clock = CpuClock()
    sets = split_sets("val", config.num_eval)
    results = {w: [evaluate(train_classifier(config, w, s, device, verbose), sets, device) for s in seeds]
               for w in config.weights_to_try}

    def mean_auroc(r):
        return sum(r[f"{name}/rotation"] for name in OOD_SETS) / len(OOD_SETS)
    chosen = max(config.weights_to_try, key=lambda w: sum(mean_auroc(r) for r in results[w]))
    rows = [{"label": f"AUROC, rotation score: {name}", "cells": [[r[f"{name}/rotation"] for r in results[w]]
                                                                  for w in config.weights_to_try]}
            for name in OOD_SETS]
    rows.append({"label": "top-1 (in distribution)", "cells": [[r["accuracy"] for r in results[w]]
                                                               for w in config.weights_to_try]})
    table = {"id": "selection", "row_header": "validation images", "unit": "%", "scale": 100, "digits": 1,
             "gain": False, "columns": [f"λ={w:g}" for w in config.weights_to_try], "rows": rows,
             "title": f"Choosing λ on the validation split ({config.num_eval} images per set); chosen: "
                      f"λ={chosen:g}, the best AUROC of the rotation score averaged over both sets."}
    return {"tables": [table], "chosen": {"rotation_weight": chosen}, **clock.read()}
