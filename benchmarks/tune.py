"""Recipe tuning on the validation split: one method, some recipe overrides, some seeds.

Pre-trains ``METHOD`` with its ``RECIPE`` (plus ``--set name=value`` overrides) on the
embedded world, one torch thread, and prints per seed the CPU seconds of pre-training and
the validation accuracy of the linear probe and kNN at the best layer on validation, beside
the random-init backbone of the same seed (cached in ``--cache``). Test accuracies are
written to the JSON lines log for the final report only; choices are made on ``val``.

    OMP_NUM_THREADS=1 python benchmarks/tune.py byol --seeds 0 1 2 --set tau_base=0.99
"""

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ssl_examples.__main__ import recipe_settings  # noqa: E402
from ssl_examples.checks import check_recipe  # noqa: E402
from ssl_examples.data import load_for_method  # noqa: E402
from ssl_examples.evaluate import frozen_protocols  # noqa: E402
from ssl_examples.methods import METHODS  # noqa: E402
from ssl_examples.nets import make_backbone  # noqa: E402
from ssl_examples.train import Recipe, Runtime, train  # noqa: E402


def headline(scores: dict, split: str) -> dict:
    return {p: scores["layers"][scores["best"][p]][p][split] for p in ("linear", "knn")}


def random_init(recipe: Recipe, data, seed: int, cache: Path, in_channels: int) -> dict:
    key = f"{recipe.backbone}-{recipe.image_size}-{in_channels}ch-{recipe.num_images}-{seed}"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in known:
        torch.manual_seed(seed)
        known[key] = frozen_protocols(make_backbone(recipe.backbone, in_channels), data, torch.device("cpu"))
        cache.write_text(json.dumps(known))
    return known[key]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("method")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--log", type=Path, default=Path("tune-log.jsonl"))
    p.add_argument("--view-size", type=int, default=None, help="experiment: resample two-view methods' views")
    p.add_argument("--save", type=Path, default=None, help="save each seed's backbone weights here (a folder)")
    p.add_argument("--cache", type=Path, default=Path("tune-random-init.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    method = METHODS[args.method]
    if args.view_size:
        import functools
        if not hasattr(method, "simclr_view"):
            sys.exit(f"--view-size: {args.method} does not draw its views with simclr_view; set its recipe's view_size")
        method.simclr_view = functools.partial(method.simclr_view, size=args.view_size)
    fields = {f: getattr(Recipe, f, None) for f in Recipe.__dataclass_fields__}
    base = {k: v for k, v in recipe_settings(method.RECIPE, [s for s in args.set if s.split("=")[0] in fields]).items()}
    extra = recipe_settings(method.RECIPE, [s for s in args.set if s.split("=")[0] not in fields])
    recipe = replace(method.RECIPE, **base, **extra)
    check_recipe(recipe, method)  # a bad --set fails here, before any training, as on the command line
    for seed in args.seeds:
        torch.manual_seed(seed)
        data = load_for_method(method, recipe)
        model = method.build(recipe, data)
        cpu = time.process_time()
        train(model, data.pretrain, recipe, Runtime(device="cpu", seed=seed, progress=False))
        cpu = time.process_time() - cpu
        scores = frozen_protocols(model.backbone, data, torch.device("cpu"))
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            torch.save(model.backbone.state_dict(), args.save / f"{args.method}-{'-'.join(args.set)}-{seed}.pt")
        rand = random_init(recipe, data, seed, args.cache, model.backbone.in_channels)
        val, rval = headline(scores, "val"), headline(rand, "val")
        row = {"method": args.method, "set": args.set, "view_size": args.view_size, "seed": seed, "cpu_s": round(cpu, 1),
               "val": val, "random_val": rval, "test": headline(scores, "test"),
               "random_test": headline(rand, "test"), "best": scores["best"],
               "layers_val": {n: {p: v[p]["val"] for p in ("linear", "knn")} for n, v in scores["layers"].items()},
               "recipe": asdict(recipe), "pid": os.getpid(), "time": time.strftime("%H:%M:%S")}
        with open(args.log, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{args.method} {' '.join(args.set)} seed {seed}: cpu {cpu:.0f} s  "
              f"val linear {100 * val['linear']:.1f} (rand {100 * rval['linear']:.1f}, "
              f"+{100 * (val['linear'] - rval['linear']):.1f})  kNN {100 * val['knn']:.1f} "
              f"(rand {100 * rval['knn']:.1f}, +{100 * (val['knn'] - rval['knn']):.1f})  best {scores['best']}",
              flush=True)


if __name__ == "__main__":
    main()
