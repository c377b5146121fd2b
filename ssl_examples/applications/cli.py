"""``python -m ssl_examples apply NAME``: run one application, print its tables, store them.

By default the test numbers are produced (both variants, three seeds) and stored under the
``"test"`` key of ``docs/results/applications/NAME.json``; ``--select`` instead runs the
validation experiment that chose the application's hyper-parameters and stores it under
``"selection"``. Each key keeps the command that made it.
"""

from dataclasses import asdict
from pathlib import Path

from ..errors import UserError
from . import APPLICATIONS, BY_NAME
from .common import REPO, SEEDS, override, save_results
from .tables import text_table

MAX_SHOTS = 20


def add_parser(sub) -> None:
    p = sub.add_parser("apply", help="run an application: self-supervision beside a main task")
    p.add_argument("name", help=f"one of: {', '.join(BY_NAME)}")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="seeds (default: 0 1 2)")
    p.add_argument("--select", action="store_true",
                   help="instead: the validation runs that choose the hyper-parameters")
    p.add_argument("--severities", type=int, nargs="+", default=None, help="robustness: severities, from 1, 2, 3")
    p.add_argument("--shots", type=int, nargs="+", default=None,
                   help=f"fewshot: labelled examples per class in the test episodes (1 to {MAX_SHOTS})")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="any other setting of the application's Config, e.g. --set epochs=8 (repeatable)")
    p.add_argument("--out", type=Path, default=None,
                   help="results file (default: docs/results/applications/NAME.json, for the default settings only)")
    p.add_argument("--no-save", action="store_true", help="print the tables only")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    p.add_argument("--verbose", action="store_true", help="print every training epoch")


def config_for(args):
    """The application's module and its Config with the command line's changes, validated."""
    if args.name not in BY_NAME:
        raise UserError(f"unknown application {args.name!r}; choose one of {', '.join(BY_NAME)}")
    module = APPLICATIONS[args.name]
    settings = list(args.set)
    if args.severities is not None:
        if args.name != "robustness":
            raise UserError("--severities is a setting of the robustness application")
        bad = [s for s in args.severities if s not in module.SEVERITIES]
        if bad:
            raise UserError(f"--severities: severity {bad[0]} does not exist; use 1, 2 or 3")
        settings.append("severities=" + ",".join(map(str, args.severities)))
    if args.shots is not None:
        if args.name != "fewshot":
            raise UserError("--shots is a setting of the fewshot application")
        bad = [s for s in args.shots if not 1 <= s <= MAX_SHOTS]
        if bad:
            raise UserError(f"--shots: {bad[0]} shots per class is not possible; use 1 to {MAX_SHOTS}")
        settings.append("shots=" + ",".join(map(str, args.shots)))
    if len(set(args.seeds)) != len(args.seeds):
        raise UserError("--seeds: each seed once")
    config = override(module.DEFAULTS, settings)
    check = getattr(module, "check_config", None)
    if check:
        check(config)
    return module, config


def command_line(args) -> str:
    parts = ["python -m ssl_examples apply", args.name]
    if args.select:
        parts.append("--select")
    if list(args.seeds) != list(SEEDS):
        parts += ["--seeds", *map(str, args.seeds)]
    if args.severities:
        parts += ["--severities", *map(str, args.severities)]
    if args.shots:
        parts += ["--shots", *map(str, args.shots)]
    parts += [f"--set {s}" for s in args.set]
    return " ".join(parts)


def cmd_apply(args) -> None:
    from ..train import pick_device

    module, config = config_for(args)
    device = str(pick_device(args.device))  # a bad --device fails before any work
    what = "choosing hyper-parameters on the validation split" if args.select else "test run"
    print(f"{args.name}: {what}, seeds {' '.join(map(str, args.seeds))}, device {device}", flush=True)
    fn = module.select if args.select else module.run
    result = fn(config, args.seeds, device, args.verbose)
    for table in result["tables"]:
        print("\n" + text_table(table))
    print(f"\n{result['cpu_seconds']:.0f} s of CPU time ({result['threads']} threads), "
          f"{result['wall_seconds']:.0f} s wall", flush=True)
    if args.no_save:
        return
    if args.out is None and (config != module.DEFAULTS or list(args.seeds) != list(SEEDS)):
        # The pages show the defaults' results; a variation is kept only where asked for.
        print("not stored: the settings differ from the defaults the page reports; "
              "pass --out FILE to keep these results")
        return
    out = Path(args.out or REPO / BY_NAME[args.name].results)
    payload = {"command": command_line(args), "seeds": list(args.seeds), "config": asdict(config),
               **{k: v for k, v in result.items() if k not in ("per_seed", "samples")}}
    if result.get("samples"):  # pictures the application made (e.g. a GAN's samples), stored beside
        payload["samples"] = save_samples(out, result["samples"])
    save_results(out, "selection" if args.select else "test", payload)
    print(f"stored in {out}")


def save_samples(out: Path, samples: dict) -> dict[str, str]:
    """Write each uint8 picture ``(3, H, W)`` as ``<results name>-<key>.png`` beside the results."""
    from PIL import Image

    names = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    for key, picture in samples.items():
        path = out.with_name(f"{out.stem}-{key}.png")
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(path, optimize=True)
        names[key] = path.name
    return names


def list_applications() -> None:
    print("applications (python -m ssl_examples apply NAME):")
    for a in BY_NAME.values():
        print(f"  {a.name:24s} {a.summary}")

