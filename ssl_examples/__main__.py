"""Command line: ``python -m ssl_examples {list, pretrain, evaluate, bench, speed, figures, apply}``.

Mistakes a user can make (an unknown method, a missing folder, a corrupt image, a bad
checkpoint, a diverging loss) end with one line on stderr and exit status 2.
"""

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from .errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is reported in one line like every other user error."""

    def error(self, message):
        raise UserError(f"{self.prog}: {message} (see --help)")


def add_data_args(p: argparse.ArgumentParser) -> None:
    from .data import DATASETS

    g = p.add_argument_group("data")
    g.add_argument("--data", default=None, help=f"dataset: {', '.join(DATASETS)} (default: world, embedded)")
    g.add_argument("--data-root", type=Path, default=None, help="folder of a real dataset")
    g.add_argument("--download", action="store_true", help="download a real dataset if it is missing")
    g.add_argument("--image-size", type=int, default=None, help="image side in pixels")
    g.add_argument("--num-images", type=int, default=None, help="embedded world: images to pre-train on")


def add_runtime_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("runtime")
    g.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    g.add_argument("--channels-last", action="store_true", help="NHWC memory layout (faster on GPUs)")
    g.add_argument("--compile", nargs="?", const="default", default="",
                   choices=["default", "reduce-overhead", "max-autotune"],
                   help="torch.compile the model; reduce-overhead also replays each step as CUDA graphs")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=None,
                   help="DataLoader workers for image folders (default: train.Runtime's, 4)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--sync-bn", action="store_true",
                   help="under torchrun on GPUs: BatchNorm statistics over all processes (SyncBatchNorm)")


def add_layers_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layers", nargs="+", default=["all"], metavar="LAYER",
                   help="backbone stages to probe: all (default) or names such as block3 block5; "
                        "the headline is the best of them on the validation split")


def make_parser() -> Parser:
    parser = Parser(prog="python -m ssl_examples", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    sub.add_parser("list", help="list the methods, datasets and backbones")

    p = sub.add_parser("pretrain", help="pre-train a backbone with a pretext method, then evaluate it")
    p.add_argument("method")
    add_data_args(p)
    g = p.add_argument_group("recipe (defaults: the method's RECIPE)")
    g.add_argument("--backbone", default=None)
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--optimizer", default=None, choices=["adamw", "sgd", "lars"])
    g.add_argument("--weight-decay", type=float, default=None)
    g.add_argument("--warmup-epochs", type=float, default=None)
    g.add_argument("--temperature", type=float, default=None, help="contrastive methods: softmax temperature")
    g.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="any other field of the method's recipe, e.g. --set queue_size=16384 (repeatable)")
    add_runtime_args(p)
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/METHOD)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation at the end")
    add_layers_arg(p)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint's backbone")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--protocol", nargs="+", default=["linear", "knn"],
                   choices=["linear", "knn", "finetune-1", "finetune-10", "finetune-100"])
    add_layers_arg(p)
    add_data_args(p)
    add_runtime_args(p)

    p = sub.add_parser("bench", help="pre-train every method on a fixed budget, over seeds, and compare")
    p.add_argument("--methods", nargs="+", default=None, help="only these methods (default: all)")
    p.add_argument("--seeds", type=int, nargs="*", default=None,
                   help="one run per seed (default: 0 1 2); rows show the mean and its 95%% interval")
    p.add_argument("--tier", default="cpu",
                   help="cpu: the one-minute recipes (RECIPE); gpu: ResNet-18 on 50 000 images (GPU_RECIPE)")
    p.add_argument("--finetune", type=int, nargs="*", default=None, metavar="PERCENT",
                   help="also fine-tune each run with these percentages of the labels (1, 10, 100); "
                        "default: the BENCH_FINETUNE of each method's module (none if it has none); "
                        "--finetune alone: none")
    p.add_argument("--out", type=Path, default=None,
                   help="results file (default: docs/results/bench.json, bench-gpu.json for --tier gpu); "
                        "every row is written as soon as it is finished")
    p.add_argument("--resume", action="store_true",
                   help="continue a stopped run: skip the methods whose row in --out has the same tier, "
                        "seeds, recipe and fine-tuning")
    add_runtime_args(p)

    p = sub.add_parser("speed", help="training throughput of SimCLR and MoCo, ours vs lightly, each timed alone")
    p.add_argument("--tables", nargs="+", default=["augmentation", "step", "end-to-end"],
                   choices=["augmentation", "step", "end-to-end", "loop"],
                   help="loop: our whole training loop (train.py) for --epochs epochs, SimCLR and MoCo")
    p.add_argument("--epochs", type=int, default=3, help="loop: epochs (the first, which compiles, is not timed)")
    p.add_argument("--methods", nargs="+", default=["simclr", "moco"], choices=["simclr", "moco"],
                   help="loop: the methods to train")
    p.add_argument("--backbone", default="resnet18-cifar")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--num-images", type=int, default=None, help="random images to draw batches from (default: 16 batches)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per measurement (at least)")
    p.add_argument("--min-seconds", type=float, default=0.0, help="... and at least this long")
    p.add_argument("--rounds", type=int, default=1, help="time every contender this many times, in turn; report the median")
    p.add_argument("--out", type=Path, default=None, help="also write the tables as JSON here")
    add_runtime_args(p)  # --workers: lightly's DataLoader workers (default: one per core)

    p = sub.add_parser("figures", help="regenerate the figures of the decks and pages")
    p.add_argument("names", nargs="*", help="only these figures (default: all)")
    p.add_argument("--out", type=Path, default=Path("docs/figures"))

    from .applications.cli import add_parser as add_apply_parser  # torch-free: `apply NAME`
    add_apply_parser(sub)
    return parser


def runtime_from(args):
    from .train import Runtime

    workers = {} if args.workers is None else {"workers": args.workers}  # the default lives in Runtime
    return Runtime(device=args.device, precision=args.precision, channels_last=args.channels_last,
                   compile=args.compile, seed=args.seed, progress=not args.no_progress, sync_bn=args.sync_bn,
                   **workers)


def get_method(name: str):
    from .methods import METHODS

    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def cmd_list(args) -> None:
    from .data import DATASETS
    from .methods import FAMILIES, METHODS, REGISTRY
    from .nets import BACKBONES

    print("methods:")
    for family, title in FAMILIES.items():
        print(f"  {title}:")
        for m in (m for m in REGISTRY if m.family == family):
            print(f"    {m.name:24s} {METHODS[m.name].__doc__.strip().splitlines()[0]}")
    print("datasets: " + ", ".join(DATASETS))
    print("backbones: " + ", ".join(BACKBONES))
    from .applications.cli import list_applications
    list_applications()


def chosen_layers(args, backbone) -> list[str]:
    """``--layers all`` or names of the backbone's stages; anything else is a user error."""
    if args.layers == ["all"]:
        return list(backbone.layer_names)
    unknown = [name for name in args.layers if name not in backbone.layer_names]
    if unknown or not args.layers:
        raise UserError(f"--layers: unknown layer {unknown[0] if unknown else ''!r}; this backbone has "
                        f"{', '.join(backbone.layer_names)} (or all)")
    return list(args.layers)


def print_probes(title: str, results: dict[str, dict], names: list[str]) -> None:
    """Per-layer table (val chooses, test reports) and each protocol's headline layer."""
    def cell(r: dict) -> str:
        return f"{100 * r['val']:.1f} / {100 * r['test']:.1f}"

    print(f"\n{title}")
    print(f"  {'':10s}" + "".join(f"{n + ' linear':>24s}{n + ' kNN':>24s}" for n in names))
    print(f"  {'layer':10s}" + f"{'val / test':>24s}" * 2 * len(names))
    for layer in results[names[0]]["layers"]:
        rows = [results[n]["layers"][layer] for n in names]
        print(f"  {layer:10s}" + "".join(f"{cell(r['linear']):>24s}{cell(r['knn']):>24s}" for r in rows))
    for p, label in (("linear", "linear probe"), ("knn", "kNN")):
        parts = [f"{n} {100 * results[n][p]:.1f} % ({results[n]['best'][p]})" for n in names]
        print(f"  {label} on the test split, at the best layer on validation: " + ", ".join(parts))


def cmd_pretrain(args) -> None:
    import torch

    from .checks import check_recipe, check_runtime
    from .data import load_for_method
    from .evaluate import frozen_protocols
    from .nets import make_backbone
    from .train import Recipe, pick_device, train

    method = get_method(args.method)
    overrides = {k: getattr(args, k) for k in
                 ("image_size", "num_images", "backbone", "epochs", "batch_size", "lr",
                  "optimizer", "weight_decay", "warmup_epochs")
                 if getattr(args, k) is not None}
    if args.temperature is not None:
        if not any(f == "temperature" for f in method.RECIPE.__dataclass_fields__):
            raise UserError(f"--temperature: {args.method} has no temperature")
        args.set.append(f"temperature={args.temperature}")
    overrides.update(recipe_settings(method.RECIPE, args.set))
    recipe: Recipe = replace(method.RECIPE, **overrides)
    runtime = runtime_from(args)
    check_recipe(recipe, method)  # every value, once, before any work
    check_runtime(runtime)
    layers = chosen_layers(args, make_backbone(recipe.backbone))
    device = pick_device(runtime.device)  # a bad --device fails before any work
    run_dir = args.out or Path("runs") / args.method
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.exists() and not args.resume:
        raise UserError(f"{checkpoint} exists: pass --resume to continue that run, or --out DIR for a new one")
    data_name = args.data or "world"
    data = load_for_method(method, recipe, data_name, args.data_root, args.download)
    torch.manual_seed(runtime.seed)
    model = method.build(recipe, data)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Under torchrun only rank 0 talks and evaluates. The process group does not exist yet
    # (train() joins it), so read the rank torchrun puts in the environment.
    rank0 = os.environ.get("RANK", "0") == "0"
    if rank0:
        print(f"pre-training {args.method} on {data_name} ({len(data.pretrain)} images, {recipe.image_size} px), "
              f"backbone {recipe.backbone}, {recipe.epochs} epochs, device {device}")
    meta = {"method": args.method, "data": data_name, "backbone": recipe.backbone,
            "in_channels": model.backbone.in_channels, "image_size": recipe.image_size}
    train(model, data.pretrain, recipe, runtime, run_dir, resume=args.resume, meta=meta)
    if not rank0:
        return
    print(f"checkpoint: {checkpoint}")
    if args.no_eval:
        return
    ours = frozen_protocols(model.backbone, data, device, layers)
    torch.manual_seed(runtime.seed)  # the untrained twin: same seed, same backbone
    random_init = frozen_protocols(make_backbone(recipe.backbone, model.backbone.in_channels), data, device, layers)
    print_probes(f"{data_name}: probes fitted on {len(data.train)} images, chosen on {len(data.val)} (val), "
                 f"reported on {len(data.test)} (test); seed {runtime.seed}",
                 {args.method: ours, "random init": random_init}, [args.method, "random init"])
    print("  one seed; `python -m ssl_examples bench --methods "
          f"{args.method}` runs three with intervals")


def recipe_settings(recipe, settings: list[str]) -> dict:
    """``["name=value", ...]`` -> overrides of ``recipe``'s fields, each cast to the field's type."""
    from .checks import parse_settings

    return parse_settings(recipe, settings, "this method's recipe")


def cmd_evaluate(args) -> None:
    import torch

    from .checks import check_runtime
    from .data import load_images
    from .evaluate import finetune, frozen_protocols
    from .nets import make_backbone
    from .train import load_checkpoint, pick_device

    state = load_checkpoint(args.checkpoint)
    meta = state["meta"]
    backbone = make_backbone(meta["backbone"], meta["in_channels"])
    weights = {k[len("backbone."):]: v for k, v in state["model"].items() if k.startswith("backbone.")}
    backbone.load_state_dict(weights)
    layers = chosen_layers(args, backbone)
    image_size = args.image_size or meta["image_size"]
    data = load_images(args.data or meta["data"], image_size, args.data_root, args.download,
                       args.num_images or state["recipe"]["num_images"])
    runtime = runtime_from(args)
    check_runtime(runtime)
    device = pick_device(runtime.device)
    title = f"{meta['method']} ({args.checkpoint}) on {data.name}, {len(data.test)} test images"
    if {"linear", "knn"} & set(args.protocol):
        torch.manual_seed(runtime.seed)
        print_probes(title, {meta["method"]: frozen_protocols(backbone, data, device, layers)}, [meta["method"]])
    for p in args.protocol:
        if p.startswith("finetune"):
            torch.manual_seed(runtime.seed)
            accuracy = finetune(backbone, data, int(p.split("-")[1]) / 100, runtime)
            print(f"  {p}: {100 * accuracy:.1f} % on the test split")


def cmd_bench(args) -> None:
    from .bench import run_bench
    from .checks import check_runtime

    runtime = runtime_from(args)
    check_runtime(runtime)
    bad = [f for f in args.finetune or () if f not in (1, 10, 100)]
    if bad:
        raise UserError(f"--finetune {bad[0]}: choose label percentages among 1, 10 and 100")
    run_bench(args.methods, args.out, runtime, seeds=args.seeds, tier=args.tier, finetune_fractions=args.finetune,
              resume=args.resume)


def cmd_speed(args) -> None:
    import shlex

    from .speed import default_workers, run_speed

    if args.epochs < 2:
        raise UserError("speed --epochs must be at least 2 (the first one is not timed)")
    if args.batch_size < 16 or args.batch_size % 8:
        raise UserError("speed --batch-size must be a multiple of 8, at least 16 (MoCo's 8 BatchNorm groups)")
    runtime = runtime_from(args)
    if args.workers is None:
        runtime = replace(runtime, workers=default_workers())
    run_speed(runtime, steps=args.steps, batch_size=args.batch_size, backbone=args.backbone,
              image_size=args.image_size, num_images=args.num_images, rounds=args.rounds,
              min_seconds=args.min_seconds, tables=tuple(args.tables), out=args.out, epochs=args.epochs,
              loop_methods=tuple(args.methods), command="python -m ssl_examples " + shlex.join(args.argv))


def cmd_figures(args) -> None:
    from .figures import make_figures

    make_figures(args.out, args.names)


def cmd_apply(args) -> None:
    from .applications.cli import cmd_apply as run_application

    run_application(args)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = make_parser().parse_args(argv)
        args.argv = argv
        {"list": cmd_list, "pretrain": cmd_pretrain, "evaluate": cmd_evaluate,
         "bench": cmd_bench, "speed": cmd_speed, "figures": cmd_figures, "apply": cmd_apply}[args.command](args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # pretrain leaves a checkpoint to continue from; bench has written every row it finished.
        hint = {"pretrain": ": the last finished epoch is in the checkpoint; continue with --resume",
                "bench": ": every finished row is in the results file; continue with --resume"}
        print("interrupted" + hint.get(argv[0] if argv else "", ""), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
