"""The benchmark: every method on a fixed budget on the embedded data, next to its baselines.

``python -m ssl_examples bench`` pre-trains each method with its ``RECIPE`` (the same
defaults ``pretrain`` uses), evaluates the backbone with the linear probe and kNN, and
puts the numbers beside three baselines computed on the same images:

* raw pixels: the protocols on the flattened pixels (no network at all);
* random init: the protocols on the same backbone, untrained;
* supervised: the backbone trained with all labels, then probed the same way.

It prints a table and writes it as JSON (``docs/results/bench.json``), which the results
page and every method page render. ``--methods a b`` re-runs only those rows and keeps the
others, so a new method adds its row without re-running the rest.
"""

import json
import os
import platform
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from .data import load_for_method, load_images
from .evaluate import SupervisedClassifier, frozen_protocols, knn_accuracy, linear_probe
from .methods import METHODS
from .nets import make_backbone
from .train import Recipe, Runtime, pick_device, train

# The supervised reference gets labels and a budget comparable to the methods' own.
SUPERVISED = Recipe(epochs=15, batch_size=128, lr=2e-3, weight_decay=5e-4)


def pixel_baseline(data) -> dict[str, float]:
    def flat(ds):
        return ds.images.flatten(1).float() / 255, ds.labels
    (tx, ty), (vx, vy) = flat(data.train), flat(data.test)
    return {"linear": linear_probe(tx, ty, vx, vy), "knn": knn_accuracy(tx, ty, vx, vy)}


def baselines(recipe: Recipe, in_channels: int, runtime: Runtime) -> dict:
    """Raw pixels, random init and supervised for one (backbone, image size, data size)."""
    data = load_images("world", recipe.image_size, num_images=recipe.num_images)
    device = pick_device(runtime.device)
    torch.manual_seed(runtime.seed)
    random_init = frozen_protocols(make_backbone(recipe.backbone, in_channels), data, device)
    torch.manual_seed(runtime.seed)
    supervised = SupervisedClassifier(make_backbone(recipe.backbone, in_channels), data.num_classes)
    train(supervised, data.train, replace(SUPERVISED, image_size=recipe.image_size), runtime)
    return {"raw_pixels": pixel_baseline(data), "random_init": random_init,
            "supervised": frozen_protocols(supervised.backbone, data, device)}


def bench_method(name: str, runtime: Runtime) -> dict:
    method = METHODS[name]
    recipe = method.RECIPE
    torch.manual_seed(runtime.seed)
    data = load_for_method(method, "world", recipe.image_size, recipe.num_images)
    model = method.build(recipe, data)
    start = time.perf_counter()
    train(model, data.pretrain, recipe, runtime)
    seconds = time.perf_counter() - start
    scores = frozen_protocols(model.backbone, data, pick_device(runtime.device))
    return {"seconds": round(seconds, 1), "images_per_s": round(recipe.epochs * len(data.pretrain) / seconds, 1),
            "linear": scores["linear"], "knn": scores["knn"], "recipe": asdict(recipe),
            "in_channels": model.backbone.in_channels,
            "command": f"python -m ssl_examples pretrain {name}"}


def baseline_key(recipe: dict, in_channels: int) -> str:
    return f"{recipe['backbone']}-{recipe['image_size']}px-{recipe['num_images']}-{in_channels}ch"


def run_bench(names: list[str] | None, out: Path, runtime: Runtime) -> dict:
    from .__main__ import get_method

    names = names or list(METHODS)
    for name in names:
        get_method(name)  # unknown names fail before hours of work
    out = Path(out)
    results = json.loads(out.read_text()) if out.exists() else {"methods": {}, "baselines": {}}
    runtime = replace(runtime, progress=False)
    for name in names:
        print(f"== {name}", flush=True)
        row = bench_method(name, runtime)
        results["methods"][name] = row
        key = baseline_key(row["recipe"], row["in_channels"])
        if key not in results["baselines"]:
            print(f"== baselines for {key}", flush=True)
            results["baselines"][key] = baselines(Recipe.from_dict(row["recipe"]), row["in_channels"], runtime)
        row["baseline"] = key
    results["machine"] = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                          "threads": torch.get_num_threads(), "torch": torch.__version__,
                          "device": str(pick_device(runtime.device))}
    results["updated"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # Re-read before writing: another bench run may have added rows in the meantime.
    if out.exists():
        on_disk = json.loads(out.read_text())
        results["methods"] = {**on_disk["methods"], **{n: results["methods"][n] for n in names}}
        results["baselines"] = {**on_disk["baselines"], **results["baselines"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    tmp.replace(out)
    print_bench(results)
    return results


def print_bench(results: dict) -> None:
    head = f"{'method':22s}{'seconds':>9s}{'img/s':>8s}{'linear':>8s}{'kNN':>8s}{'rand lin':>9s}{'rand kNN':>9s}{'sup lin':>9s}{'pixels':>8s}"
    print(head)
    for name, r in results["methods"].items():
        b = results["baselines"][r["baseline"]]
        print(f"{name:22s}{r['seconds']:9.0f}{r['images_per_s']:8.0f}{100 * r['linear']:7.1f}%{100 * r['knn']:7.1f}%"
              f"{100 * b['random_init']['linear']:8.1f}%{100 * b['random_init']['knn']:8.1f}%"
              f"{100 * b['supervised']['linear']:8.1f}%{100 * b['raw_pixels']['linear']:7.1f}%")
