"""The benchmark: every method on a fixed budget, over seeds, next to its baselines.

``python -m ssl_examples bench`` pre-trains each method with its recipe for the chosen tier
(``cpu``: the ``RECIPE`` that ``pretrain`` uses, embedded data, about a minute on a laptop;
``gpu``: ``GPU_RECIPE``, a ResNet-18 on 50 000 images), once per seed (``--seeds``, three by
default: a seed changes the initialisation, the augmentation draws and the batch order; the
data stay fixed). Each run is read by the per-layer probes (``evaluate.frozen_protocols``:
linear probe and kNN on every stage, choices made on the validation split) and stands
beside three baselines on the same labelled images and seeds:

* raw pixels: the protocols on the flattened pixels (no network at all);
* random init: the same backbone, untrained, probed the same way (its own best layer);
* supervised: the backbone trained with every training label, then probed the same way.

The headline of a row is each protocol's test accuracy at the layer whose *mean validation*
accuracy over the seeds is highest; its gain over random init is computed seed by seed.
Every seed's value is stored (``docs/results/bench.json``, or ``bench-gpu.json`` for the GPU
tier), which the results page and every method page render. ``--methods a b`` re-runs only
those rows and keeps the others. A method whose page compares the linear probe with
fine-tuning names the label fractions in its module (``BENCH_FINETUNE``), so that the plain
command makes every stored number; ``--finetune`` overrides it for all the methods it runs.
"""

import json
import os
import platform
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from .checks import check_recipe
from .data import load_for_method
from .errors import UserError
from .evaluate import SupervisedClassifier, finetune, frozen_protocols, knn_accuracy, linear_probe
from .methods import METHODS
from .nets import make_backbone
from .stats import format_gain, format_interval
from .train import Recipe, Runtime, pick_device, train

PROTOCOLS = ("linear", "knn")

# The supervised reference: the same backbone trained with labels on as many images as the
# tier pre-trains on, with a budget like the methods' own (the image size and backbone follow
# the method's recipe). It is then probed like every method.
SUPERVISED = {"cpu": Recipe(num_images=3000, epochs=15, batch_size=128, lr=2e-3, weight_decay=5e-4),
              "gpu": Recipe(num_images=50_000, epochs=15, batch_size=512, lr=2e-3, weight_decay=5e-4)}
TIERS = tuple(SUPERVISED)
SEEDS = (0, 1, 2)  # the default (also the CLI's): a row's command names --seeds only when they differ
DEFAULT_OUT = {"cpu": Path("docs/results/bench.json"), "gpu": Path("docs/results/bench-gpu.json")}


def tier_recipe(method, tier: str) -> Recipe:
    """The method's recipe for a tier: ``RECIPE`` on the CPU, ``GPU_RECIPE`` on a GPU."""
    if tier == "cpu":
        return method.RECIPE
    if not hasattr(method, "GPU_RECIPE"):
        raise UserError(f"{method.__name__.rsplit('.', 1)[-1]} has no GPU_RECIPE for --tier gpu")
    return method.GPU_RECIPE


def pixel_baseline(data) -> dict[str, float]:
    """The protocols on raw pixels, at their test split (no choice to make on val)."""
    def flat(ds):
        return ds.images.flatten(1).float() / 255, ds.labels
    (tx, ty), (vx, vy) = flat(data.train), flat(data.test)
    return {"linear": linear_probe(tx, ty, vx, vy), "knn": knn_accuracy(tx, ty, vx, vy)}


def collect(per_seed: list[dict]) -> dict:
    """Per-seed ``frozen_protocols`` results -> one record: every seed's value per layer, and
    each protocol's headline at the layer with the best *mean validation* accuracy."""
    layers = list(per_seed[0]["layers"])
    out = {"layers": {name: {p: {split: [r["layers"][name][p][split] for r in per_seed] for split in ("val", "test")}
                             for p in PROTOCOLS} for name in layers}}
    out["best"] = {}
    for p in PROTOCOLS:
        # The last of equals: the deepest layer.
        best = max(reversed(layers), key=lambda n: sum(out["layers"][n][p]["val"]))
        out["best"][p] = best
        out[p] = out["layers"][best][p]["test"]
    return out


def baselines(recipe: Recipe, in_channels: int, seeds: list[int], runtime: Runtime, tier: str) -> dict:
    """Raw pixels, random init and supervised for one (backbone, image size, channels)."""
    supervised_recipe = replace(SUPERVISED[tier], image_size=recipe.image_size, backbone=recipe.backbone)
    data = load_for_method(None, supervised_recipe)  # labelled images to train the reference on
    device = pick_device(runtime.device)
    random_init, supervised = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        random_init.append(frozen_protocols(make_backbone(recipe.backbone, in_channels), data, device))
        torch.manual_seed(seed)
        model = SupervisedClassifier(make_backbone(recipe.backbone, in_channels), data.num_classes)
        train(model, data.pretrain, supervised_recipe, replace(runtime, seed=seed))
        supervised.append(frozen_protocols(model.backbone, data, device))
    return {"raw_pixels": pixel_baseline(data), "random_init": collect(random_init),
            "supervised": collect(supervised), "seeds": list(seeds)}


def bench_method(name: str, seeds: list[int], runtime: Runtime, tier: str,
                 finetune_fractions: list[int]) -> dict:
    method = METHODS[name]
    recipe = tier_recipe(method, tier)
    data = load_for_method(method, recipe)
    device = pick_device(runtime.device)
    results, seconds, tuned = [], [], {f: [] for f in finetune_fractions}
    for seed in seeds:
        torch.manual_seed(seed)
        start = time.perf_counter()  # building counts: some methods fit a vocabulary or a first network
        model = method.build(recipe, data)
        train(model, data.pretrain, recipe, replace(runtime, seed=seed))
        seconds.append(time.perf_counter() - start)
        results.append(frozen_protocols(model.backbone, data, device))
        for fraction in finetune_fractions:
            torch.manual_seed(seed)
            tuned[fraction].append(finetune(model.backbone, data, fraction / 100, replace(runtime, seed=seed)))
        print(f"   seed {seed}: {seconds[-1]:.0f} s, linear {100 * results[-1]['linear']:.1f} "
              f"({results[-1]['best']['linear']}), kNN {100 * results[-1]['knn']:.1f} ({results[-1]['best']['knn']})",
              flush=True)
    # The command that makes this row again, whatever it was asked for besides the method.
    flags = "" if tier == "cpu" else " --tier gpu"
    if tuple(seeds) != SEEDS:
        flags += " --seeds " + " ".join(map(str, seeds))
    if finetune_fractions:
        flags += " --finetune " + " ".join(map(str, finetune_fractions))
    row = {"tier": tier, "seeds": list(seeds), "seconds": [round(s, 1) for s in seconds],
           "images_per_s": [round(recipe.epochs * len(data.pretrain) / s, 1) for s in seconds],
           "recipe": asdict(recipe), "in_channels": model.backbone.in_channels,
           # the seconds depend on it (and on whatever else ran): each row keeps its own
           "threads": torch.get_num_threads(), "updated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           # A seed's numbers repeat exactly on one machine; rows made on a CPU with other vector
           # instructions (AVX2, AVX512, ...) can differ a little for the same code and seed.
           "cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "command": f"python -m ssl_examples bench{flags} --methods {name}", **collect(results)}
    if finetune_fractions:
        row["finetune"] = {str(f): v for f, v in tuned.items()}
    return row


def baseline_key(recipe: dict, in_channels: int) -> str:
    return f"{recipe['backbone']}-{recipe['image_size']}px-{in_channels}ch"


def run_bench(names: list[str] | None, out: Path | None, runtime: Runtime, seeds: list[int] | None = None,
              tier: str = "cpu", finetune_fractions: list[int] | None = None, resume: bool = False) -> dict:
    seeds = list(SEEDS if seeds is None else seeds)
    if tier not in TIERS:
        raise UserError(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}")
    if not seeds:
        raise UserError("--seeds needs at least one seed (three give an interval worth reading)")
    names = names or list(METHODS)
    for name in names:  # unknown names and recipes that cannot train fail before hours of work
        if name not in METHODS:
            raise UserError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
        check_recipe(tier_recipe(METHODS[name], tier), METHODS[name])
    out = Path(out or DEFAULT_OUT[tier])
    results = json.loads(out.read_text()) if out.exists() else {"methods": {}, "baselines": {}}
    runtime = replace(runtime, progress=False)
    if tier == "gpu":  # channels-last always; compiling pays off on a GPU (on a CPU it costs more than it saves)
        runtime = replace(runtime, channels_last=True, compile=pick_device(runtime.device).type == "cuda")

    def fractions_for(name: str) -> list[int]:
        return list(getattr(METHODS[name], "BENCH_FINETUNE", ()) if finetune_fractions is None else finetune_fractions)

    if resume:  # continue a stopped run: skip the rows this very call would make again
        finished = [n for n in names if same_run(results, n, seeds, tier, fractions_for(n))]
        if finished:
            print(f"== already in {out}, skipped: {', '.join(finished)}", flush=True)
        names = [n for n in names if n not in finished]
    done: list[str] = []
    for name in names:
        print(f"== {name} (seeds {', '.join(map(str, seeds))})", flush=True)
        fractions = fractions_for(name)
        row = bench_method(name, list(seeds), runtime, tier, fractions)
        results["methods"][name] = row
        key = baseline_key(row["recipe"], row["in_channels"])
        if results["baselines"].get(key, {}).get("seeds") != list(seeds):
            print(f"== baselines for {key}", flush=True)
            results["baselines"][key] = baselines(Recipe.from_dict(row["recipe"]), row["in_channels"], seeds,
                                                  runtime, tier)
        row["baseline"] = key
        done.append(name)
        # Written after every row, so a run stopped after hours keeps every row it finished
        # (--resume with the same --out runs the rest; finished baselines are reused).
        results = save_results(out, results, done, tier, runtime)
    print_bench(results)
    return results


def same_run(results: dict, name: str, seeds: list[int], tier: str, fractions: list[int]) -> bool:
    """Whether ``results`` holds the row that benching ``name`` now would make: same tier, seeds,
    recipe and fine-tuning, beside a baseline over the same seeds."""
    row = results["methods"].get(name)
    if row is None or row.get("tier") != tier or row.get("seeds") != seeds:
        return False
    recipe = json.loads(json.dumps(asdict(tier_recipe(METHODS[name], tier))))  # as stored: tuples as lists
    baseline = results["baselines"].get(row.get("baseline"), {})
    return (row.get("recipe") == recipe and set(row.get("finetune", {})) == {str(f) for f in fractions}
            and baseline.get("seeds") == seeds)


def save_results(out: Path, results: dict, done: list[str], tier: str, runtime: Runtime) -> dict:
    """Merge the rows in ``done`` (and every baseline) into ``out`` atomically; returns the merge."""
    results["tier"] = tier
    results["machine"] = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                          "threads": torch.get_num_threads(), "torch": torch.__version__,
                          "device": device_name(pick_device(runtime.device))}
    results["updated"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # Re-read before writing: another bench run may have added rows in the meantime.
    if out.exists():
        on_disk = json.loads(out.read_text())
        results["methods"] = {**on_disk["methods"], **{n: results["methods"][n] for n in done}}
        results["baselines"] = {**on_disk["baselines"], **results["baselines"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    tmp.replace(out)
    return results


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return str(device)


def print_bench(results: dict) -> None:
    """Mean ± 95 % interval over seeds, and the gain over random init, per method."""
    print(f"\n{'method':22s}{'s/seed':>7s}  {'linear':>12s} {'gain':>12s}  {'kNN':>12s} {'gain':>12s}  "
          f"{'random lin':>11s} {'random kNN':>11s} {'sup. lin':>9s}")
    for name, r in results["methods"].items():
        b = results["baselines"].get(r.get("baseline"), {})
        if "random_init" not in b or "linear" not in r or not isinstance(r["linear"], list):
            continue  # a row from an older format
        rnd = b["random_init"]
        cells = []
        for p in PROTOCOLS:
            cells += [format_interval(r[p]), format_gain(r[p], rnd[p])]
        print(f"{name:22s}{sum(r['seconds']) / len(r['seconds']):7.0f}  {cells[0]:>12s} {cells[1]:>12s}  "
              f"{cells[2]:>12s} {cells[3]:>12s}  {format_interval(rnd['linear']):>11s} "
              f"{format_interval(rnd['knn']):>11s} {format_interval(b['supervised']['linear']):>9s}")
