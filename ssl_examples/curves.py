"""kNN accuracy during pre-training: when does a method's network overtake its own random init?

The bench reads each network once, at the end of its minute. This diagnostic reads it at a few
points of the run too: the validation kNN accuracy (``evaluate.knn_accuracy``) at the best stage
of the backbone, before the first step (the random init itself) and after a fixed share of the
steps. It shows, for instance, that every method first loses the random init's kNN accuracy in
its first few dozen steps, and that some win it back within the minute while others do not.

Only the validation split is read: the curves explain the bench's rows, they choose nothing.
Reading the network does not change the run: the random number generator's state is restored
after each reading, so the final weights equal those of a plain ``train`` (a test checks it).

    python -m ssl_examples.curves simclr byol --seeds 0 1 2 --out docs/results/knn-curves.json
"""

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .data import load_for_method
from .errors import UserError
from .evaluate import extract_features, knn_accuracy
from .methods import METHODS
from .train import Runtime, train

# Shares of the run's optimiser steps after which the network is read (0: before the first step).
FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def knn_by_layer(backbone, data) -> dict[str, float]:
    """Validation kNN accuracy of every stage's pooled features (neighbours from the train split)."""
    train_x, train_y = extract_features(backbone, data.train, torch.device("cpu"))
    val_x, val_y = extract_features(backbone, data.val, torch.device("cpu"))
    return {name: knn_accuracy(train_x[name], train_y, val_x[name], val_y) for name in val_x}


def knn_curve(method, recipe, seed: int, fractions=FRACTIONS) -> tuple[dict, torch.nn.Module]:
    """Pre-train ``method`` with ``recipe`` on the CPU and read kNN at each share of the steps.

    Returns ``{"steps": [...], "knn": {layer: [accuracy at each step]}}`` and the model."""
    torch.manual_seed(seed)
    data = load_for_method(method, recipe)
    model = method.build(recipe, data)
    total = recipe.epochs * (len(data.pretrain) // recipe.batch_size)
    steps = sorted({round(f * total) for f in fractions})
    readings = {}

    def read(step: int) -> None:
        rng = torch.get_rng_state()  # reading draws nothing today; this keeps the run's draws so
        readings[step] = knn_by_layer(model.backbone, data)
        torch.set_rng_state(rng)
        model.train()  # the reading put the backbone in eval mode

    if 0 in steps:
        read(0)
    own_hook = getattr(model, "on_step", None)  # e.g. BYOL's target network; it must still run
    done = 0

    def on_step(progress: float) -> None:
        nonlocal done
        if own_hook is not None:
            own_hook(progress)
        done += 1
        if done in steps:
            read(done)

    model.on_step = on_step  # the training loop calls the model's per-step hook after each step
    try:
        train(model, data.pretrain, recipe, Runtime(device="cpu", seed=seed, progress=False))
    finally:
        del model.on_step  # the model's own hook (if any) is its method again
    layers = list(readings[steps[-1]])
    return {"steps": steps, "knn": {name: [readings[s][name] for s in steps] for name in layers}}, model


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m ssl_examples.curves", description=__doc__.split("\n\n")[0])
    p.add_argument("methods", nargs="+")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", type=Path, required=True, help="JSON file; rows of other methods in it are kept")
    args = p.parse_args(argv)
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        p.exit(2, f"{p.prog}: error: unknown method {unknown[0]!r}; `python -m ssl_examples list` names them\n")
    torch.set_num_threads(1)  # one thread, as the recipes' tuning runs
    try:
        stored = json.loads(args.out.read_text()) if args.out.exists() else {"methods": {}}
    except json.JSONDecodeError as e:
        raise SystemExit(f"{args.out}: not valid JSON ({e})") from None
    for name in args.methods:
        method = METHODS[name]
        runs = []
        for seed in args.seeds:
            curve, _ = knn_curve(method, method.RECIPE, seed)
            runs.append(curve)
            print(f"{name} seed {seed}: " + ", ".join(
                f"step {s} {100 * max(v[i] for v in curve['knn'].values()):.1f}" for i, s in enumerate(curve["steps"])),
                flush=True)
        stored["methods"][name] = {
            "seeds": args.seeds, "steps": runs[0]["steps"], "recipe": asdict(method.RECIPE),
            "knn": {layer: [run["knn"][layer] for run in runs] for layer in runs[0]["knn"]},
            "command": f"python -m ssl_examples.curves {name} --seeds {' '.join(map(str, args.seeds))}",
            "updated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
