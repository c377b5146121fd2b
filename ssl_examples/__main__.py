"""Command line: ``python -m ssl_examples {list, pretrain, evaluate, bench, figures, apply}``.

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
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=4, help="DataLoader workers for image folders")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--sync-bn", action="store_true",
                   help="under torchrun on GPUs: BatchNorm statistics over all processes (SyncBatchNorm)")


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

    p = sub.add_parser("evaluate", help="evaluate a checkpoint's backbone")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--protocol", nargs="+", default=["linear", "knn"],
                   choices=["linear", "knn", "finetune-1", "finetune-10", "finetune-100"])
    add_data_args(p)
    add_runtime_args(p)

    p = sub.add_parser("bench", help="pre-train every method on a fixed budget and compare")
    p.add_argument("--methods", nargs="+", default=None, help="only these methods (default: all)")
    p.add_argument("--out", type=Path, default=Path("docs/results/bench.json"))
    p.add_argument("--speed", action="store_true",
                   help="instead: training throughput of SimCLR and MoCo (ResNet-18), ours vs lightly")
    p.add_argument("--steps", type=int, default=3, help="--speed: timed steps per measurement")
    p.add_argument("--speed-batch", type=int, default=64, help="--speed: batch size")
    p.add_argument("--speed-backbone", default="resnet18-cifar", help="--speed: backbone")
    add_runtime_args(p)

    p = sub.add_parser("figures", help="regenerate the figures of the decks and pages")
    p.add_argument("names", nargs="*", help="only these figures (default: all)")
    p.add_argument("--out", type=Path, default=Path("docs/figures"))

    from .applications.cli import add_parser as add_apply_parser  # torch-free: `apply NAME`
    add_apply_parser(sub)
    return parser


def runtime_from(args):
    from .train import Runtime

    return Runtime(device=args.device, precision=args.precision, channels_last=args.channels_last,
                   compile=args.compile, seed=args.seed, workers=args.workers, progress=not args.no_progress,
                   sync_bn=args.sync_bn)


def get_method(name: str):
    from .methods import METHODS

    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def cmd_list(args) -> None:
    from .data import DATASETS
    from .methods import METHODS
    from .nets import BACKBONES

    print("methods:")
    for name, module in METHODS.items():
        print(f"  {name:24s} {module.__doc__.strip().splitlines()[0]}")
    print("datasets: " + ", ".join(DATASETS))
    print("backbones: " + ", ".join(BACKBONES))
    from .applications.cli import list_applications
    list_applications()


def print_table(title: str, columns: list[str], rows: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print(f"  {'protocol':14s}" + "".join(f"{c:>14s}" for c in columns))
    for name, values in rows.items():
        print(f"  {name:14s}" + "".join(f"{100 * v:13.1f}%" for v in values))


def cmd_pretrain(args) -> None:
    import torch

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
        args.set.append(f"temperature={args.temperature}")
    overrides.update(recipe_settings(method.RECIPE, args.set))
    recipe: Recipe = replace(method.RECIPE, **overrides)
    runtime = runtime_from(args)
    device = pick_device(runtime.device)  # a bad --device fails before any work
    run_dir = args.out or Path("runs") / args.method
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.exists() and not args.resume:
        raise UserError(f"{checkpoint} exists: pass --resume to continue that run, or --out DIR for a new one")
    data_name = args.data or "world"
    data = load_for_method(method, data_name, recipe.image_size, recipe.num_images, args.data_root, args.download)
    torch.manual_seed(runtime.seed)
    model = method.build(recipe, data)
    run_dir.mkdir(parents=True, exist_ok=True)
    rank0 = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 talks and evaluates
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
    ours = frozen_protocols(model.backbone, data, device)
    torch.manual_seed(runtime.seed)
    random_init = frozen_protocols(make_backbone(recipe.backbone, model.backbone.in_channels), data, device)
    print_table(f"top-1 on the {data_name} test split ({len(data.test)} images)",
                [args.method, "random init"],
                {"linear probe": [ours["linear"], random_init["linear"]],
                 "kNN (k=200)": [ours["knn"], random_init["knn"]]})


def recipe_settings(recipe, settings: list[str]) -> dict:
    """``["name=value", ...]`` -> overrides of ``recipe``'s fields, each cast to the field's type."""
    from dataclasses import fields

    known = {f.name: type(getattr(recipe, f.name)) for f in fields(recipe)}
    out = {}
    for item in settings:
        name, _, value = item.partition("=")
        if name not in known or not value:
            raise UserError(f"--set {item}: this method's recipe has no field {name!r}; it has {', '.join(known)}")
        cast = known[name]
        try:
            out[name] = value.lower() in ("1", "true", "yes") if cast is bool else cast(value)
        except ValueError:
            raise UserError(f"--set {item}: {value!r} is not a valid {cast.__name__}") from None
    return out


def cmd_evaluate(args) -> None:
    import torch

    from .data import load_images
    from .evaluate import finetune, frozen_protocols
    from .nets import make_backbone
    from .train import Recipe, load_checkpoint, pick_device

    state = load_checkpoint(args.checkpoint)
    meta = state["meta"]
    backbone = make_backbone(meta["backbone"], meta["in_channels"])
    weights = {k[len("backbone."):]: v for k, v in state["model"].items() if k.startswith("backbone.")}
    backbone.load_state_dict(weights)
    image_size = args.image_size or meta["image_size"]
    data = load_images(args.data or meta["data"], image_size, args.data_root, args.download,
                       args.num_images or state["recipe"]["num_images"])
    runtime = runtime_from(args)
    device = pick_device(runtime.device)
    results = {}
    if {"linear", "knn"} & set(args.protocol):
        results.update(frozen_protocols(backbone, data, device))
    for p in args.protocol:
        if p.startswith("finetune"):
            fraction = int(p.split("-")[1]) / 100
            recipe = Recipe.from_dict({**state["recipe"], "epochs": 10, "lr": 1e-3})
            torch.manual_seed(runtime.seed)
            results[p] = finetune(backbone, data, fraction, recipe, runtime)
    print_table(f"{meta['method']} ({args.checkpoint}) on {data.name}, {len(data.test)} test images",
                ["top-1"], {p: [results[p]] for p in args.protocol})


def cmd_bench(args) -> None:
    if args.speed:
        from .speed import run_speed

        run_speed(runtime_from(args), steps=args.steps, batch_size=args.speed_batch, backbone=args.speed_backbone)
        return
    from .bench import run_bench

    run_bench(args.methods, args.out, runtime_from(args))


def cmd_figures(args) -> None:
    from .figures import make_figures

    make_figures(args.out, args.names)


def cmd_apply(args) -> None:
    from .applications.cli import cmd_apply as run_application

    run_application(args)


def main(argv=None) -> int:
    try:
        args = make_parser().parse_args(argv)
        {"list": cmd_list, "pretrain": cmd_pretrain, "evaluate": cmd_evaluate,
         "bench": cmd_bench, "figures": cmd_figures, "apply": cmd_apply}[args.command](args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last finished epoch is in the checkpoint; continue with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
