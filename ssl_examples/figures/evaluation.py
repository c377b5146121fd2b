"""Charts of the benchmark (``docs/results/bench.json``): gains over random init, per-layer
probes and few-label curves, drawn from whatever the JSON holds.

A value in the JSON is either a number or a record of several seeds; ``value`` reads both
(``{"mean": m}``, ``{"values": [...]}`` or a list), so the charts keep working while the
benchmark's format grows. A chart whose data the JSON does not have yet draws the closest
thing it does have (the final-layer linear and kNN columns) and says so in its title.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .common import BASELINE_DASHES, BLUE, GREEN, GREY, ORANGE, baseline_name, deck_style, save_deck

BENCH = Path(__file__).resolve().parents[2] / "docs" / "results" / "bench.json"

def load_bench(bench: Path = BENCH) -> dict:
    return json.loads(Path(bench).read_text()) if Path(bench).exists() else {"methods": {}, "baselines": {}}

def value(x) -> float:
    """A stored accuracy: a number, a list of seeds, or a record with ``mean`` or ``values``."""
    if isinstance(x, dict):
        return float(x["mean"]) if "mean" in x else float(np.mean(x["values"]))
    if isinstance(x, (list, tuple)):
        return float(np.mean(x))
    return float(x)

def title(name: str) -> str:
    """How the registry calls a method (``context_prediction`` -> ``Context prediction``)."""
    from ..methods import BY_NAME

    return BY_NAME[name].title if name in BY_NAME else name

def gains(results: dict, protocol: str) -> dict[str, float]:
    """Each row's accuracy minus the random-init accuracy of its own baseline, in points."""
    out = {}
    for name, row in results.get("methods", {}).items():
        base = results["baselines"][row["baseline"]]["random_init"]
        out[name] = 100 * (value(row[protocol]) - value(base[protocol]))
    return out

def _empty(ax, text):
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", color=GREY, transform=ax.transAxes)

def gain_figure(path: Path, bench: Path = BENCH) -> None:
    """Per method, linear-probe and kNN gain over the random-init backbone of the same size,
    channels and image count (rows differ in those, so raw accuracies would mislead)."""
    results = load_bench(bench)
    linear, knn = gains(results, "linear"), gains(results, "knn")
    names = sorted(linear, key=linear.get, reverse=True)  # best first
    with deck_style():
        # Methods along x (labels turned), so the height stays one slide's whatever the count.
        fig, ax = plt.subplots(figsize=(10.8, 4.1))
        if not names:
            _empty(ax, "bench.json has no rows yet: python -m ssl_examples bench")
        else:
            x = np.arange(len(names))
            ax.bar(x - 0.2, [linear[n] for n in names], width=0.4, color=BLUE, label="linear probe")
            ax.bar(x + 0.2, [knn[n] for n in names], width=0.4, color=ORANGE, label="kNN")
            ax.axhline(0, color="#1d1d1f", lw=1)
            ax.set_xticks(x, [title(n) for n in names], rotation=50, ha="right", rotation_mode="anchor")
            ax.set_xlim(-0.7, len(names) - 0.3)
            ax.set_ylabel("gain (points)")
            ax.set_title("gain over the same backbone at random init (top-1 accuracy)")
            ax.legend(loc="upper right", frameon=False)
        save_deck(fig, path)


def _layers(row) -> dict[str, float] | None:
    """``{layer: linear test accuracy}`` of a row, if the benchmark stored per-layer probes
    (``{layer: {"linear": {"val": [...], "test": [...]}}}``, or a plain number per layer)."""
    layers = row.get("layers")
    if not layers:
        return None
    out = {}
    for name, v in layers.items():
        v = v["linear"] if isinstance(v, dict) and "linear" in v else v
        out[name] = value(v["test"] if isinstance(v, dict) and "test" in v else v)
    return out


# Line colours for methods: matplotlib's ten without its grey, which the baselines use.
LINE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
                "tab:olive", "tab:cyan")


def layers_figure(path: Path, bench: Path = BENCH) -> None:
    """Linear-probe accuracy at each stage of the backbone for the best method of each family
    (the highest accuracy at any stage), beside random init. Until the benchmark stores per-layer
    probes: every method's final layer, between random init and supervised training."""
    from ..methods import BY_NAME

    results = load_bench(bench)
    methods = results.get("methods", {})
    per_layer = {n: _layers(r) for n, r in methods.items() if _layers(r)}
    best = {}  # family -> its method with the highest accuracy at any layer
    for name, acc in per_layer.items():
        family = BY_NAME[name].family if name in BY_NAME else name
        if family not in best or max(acc.values()) > max(per_layer[best[family]].values()):
            best[family] = name
    with deck_style():
        fig, ax = plt.subplots(figsize=(9.6, 3.6))
        if per_layer:
            # Each baseline its own grey dash; a method not on the most common one names its own,
            # so a reader can tell which dashed line a curve is to be read against.
            keys = [methods[n]["baseline"] for n in best.values()]
            common = max(set(keys), key=keys.count)
            for colour, name in zip(LINE_COLOURS, best.values()):
                acc, key = per_layer[name], methods[name]["baseline"]
                label = title(name) if key == common else f"{title(name)} ({baseline_name(key)})"
                ax.plot(list(acc), [100 * a for a in acc.values()], marker="o", lw=2, color=colour, label=label)
            for dash, key in zip(BASELINE_DASHES, sorted(set(keys), key=lambda k: (k != common, k))):
                base = _layers(results["baselines"][key]["random_init"])
                if base:
                    ax.plot(list(base), [100 * a for a in base.values()], color=GREY, ls=dash, lw=2,
                            label=f"random init, {baseline_name(key)}")
            ax.set_xlabel("backbone stage (input side to output side)")
            ax.set_ylabel("linear probe, top-1 (%)")
            ax.legend(fontsize=11, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        elif methods:
            names = sorted(methods, key=lambda n: value(methods[n]["linear"]))
            for i, n in enumerate(names):
                base = results["baselines"][methods[n]["baseline"]]
                lo, mid, hi = (100 * value(base["random_init"]["linear"]), 100 * value(methods[n]["linear"]),
                               100 * value(base["supervised"]["linear"]))
                ax.plot([lo, hi], [i, i], color="#d5d5da", lw=6, solid_capstyle="round", zorder=1)
                ax.scatter([lo], [i], color=GREY, s=60, zorder=2, label="random init" if i == 0 else None)
                ax.scatter([hi], [i], color=GREEN, s=60, zorder=2, label="supervised" if i == 0 else None)
                ax.scatter([mid], [i], color=BLUE, s=90, zorder=3, label="self-supervised" if i == 0 else None)
            ax.set_yticks(range(len(names)), [title(n) for n in names])
            ax.set_xlabel("linear probe on the last layer, top-1 (%)")
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
        else:
            _empty(ax, "bench.json has no rows yet: python -m ssl_examples bench")
        save_deck(fig, path)


def _few_label(row) -> dict[float, float] | None:
    """``{percent of labels: accuracy}`` of a row, if the benchmark stored fine-tuning with at
    least two label fractions (``"finetune": {"1": [...], "10": [...], "100": [...]}``, keys in
    percent): one fraction alone (MAE's and MoCo v3's 10 %) is a point, not a curve."""
    curve = row.get("finetune")
    if not isinstance(curve, dict) or len(curve) < 2:
        return None
    return {float(k): value(v) for k, v in curve.items()}


def few_label_figure(path: Path, bench: Path = BENCH) -> None:
    """Accuracy against the fraction of labels used to fine-tune, per method, beside random init.
    Until the benchmark stores fine-tuning with two fractions or more: each method's gain over
    random init with a linear probe (all labels) against its gain with kNN, numbered, with a key."""
    results = load_bench(bench)
    methods = results.get("methods", {})
    curves = {n: _few_label(r) for n, r in methods.items() if _few_label(r)}
    with deck_style():
        fig, ax = plt.subplots(figsize=(9.6, 3.6))
        if curves:
            for name, c in curves.items():
                xs = sorted(c)
                ax.plot(xs, [100 * c[x] for x in xs], marker="o", lw=2, label=title(name))
            for key in sorted({methods[n]["baseline"] for n in curves}):
                base = _few_label(results["baselines"][key]["random_init"])
                if base:
                    xs = sorted(base)
                    ax.plot(xs, [100 * base[x] for x in xs], color=GREY, ls="--", lw=2,
                            label=f"random init ({key})")
            ax.set_xscale("log")
            ticks = sorted({x for c in curves.values() for x in c})
            ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
            ax.set_xlabel("labels used for fine-tuning (%)")
            ax.set_ylabel("top-1 (%)")
            ax.legend(ncol=2, fontsize=11, frameon=False)
        elif methods:
            linear, knn = gains(results, "linear"), gains(results, "knn")
            names = sorted(linear, key=linear.get, reverse=True)
            ax.set_position([0.09, 0.15, 0.43, 0.8])
            rows = -(-len(names) // 2)  # the key: two columns beside the axes, every name on the figure
            for k, n in enumerate(names, 1):
                ax.scatter([linear[n]], [knn[n]], s=330, color=BLUE, zorder=2)
                ax.text(linear[n], knn[n], str(k), ha="center", va="center", color="white", fontsize=11,
                        weight="bold", zorder=3)
                column, row = divmod(k - 1, rows)
                fig.text(0.55 + 0.23 * column, 0.95 - 0.87 * (row + 0.5) / rows, f"{k}  {title(n)}",
                         fontsize=11, va="center")
            ax.axhline(0, color=GREY, lw=1)
            ax.axvline(0, color=GREY, lw=1)
            ax.set_xlabel("linear-probe gain over random init (points)")
            ax.set_ylabel("kNN gain (points)")
            save_deck(fig, path, tight=False)
            return
        else:
            _empty(ax, "bench.json has no rows yet: python -m ssl_examples bench")
        save_deck(fig, path)
