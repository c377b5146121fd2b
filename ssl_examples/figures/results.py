"""Figures of the benchmark's results, drawn from ``docs/results/bench.json``.

One figure per family of methods: the linear probe's test accuracy at every stage of the
backbone, mean over seeds with its 95 % interval, beside random init of the same backbone
(per-layer probes, as Goyal et al., ICCV 2019, evaluate). A method whose pretext task
specialises its last layers peaks before the last stage.

And one figure from ``docs/results/knn-curves.json`` (``python -m ssl_examples.curves``): the
validation kNN accuracy during pre-training, which shows when a method overtakes the random
init it starts from.
"""

import json
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt

from ..methods import FAMILIES, REGISTRY
from ..stats import mean_interval
from .common import BASELINE_DASHES, baseline_name, save

BENCH = Path(__file__).resolve().parents[2] / "docs" / "results" / "bench.json"
CURVES = Path(__file__).resolve().parents[2] / "docs" / "results" / "knn-curves.json"
# Okabe and Ito's colours, told apart with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")


def _current_rows(results: dict) -> dict:
    return {n: r for n, r in results.get("methods", {}).items()
            if isinstance(r.get("linear"), list) and r.get("baseline") in results.get("baselines", {})}


def error_bar(half: float) -> float:
    """An interval's half width as an error bar: none (0) where one seed gave no interval (NaN)."""
    return half if half == half else 0.0


def not_measured(fig, ax, path: Path, command: str) -> None:
    """A figure whose results are not stored yet says which command makes them."""
    ax.text(0.5, 0.5, f"not measured yet:\n{command}", ha="center", va="center", fontsize=14,
            transform=ax.transAxes)
    ax.set_axis_off()
    save(fig, path)


def layers_figure(path: Path, family: str, bench: Path = BENCH) -> None:
    """Per-layer linear-probe test accuracy of one family's methods beside random init."""
    results = json.loads(bench.read_text()) if bench.exists() else {}
    rows = _current_rows(results)
    methods = [m for m in REGISTRY if m.family == family and m.name in rows]
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    if not methods:
        return not_measured(fig, ax, path, "python -m ssl_examples bench")
    markers = "osD^v<>"
    # One dash per baseline; with two or more in a family, each line names its own, so a
    # method is read against the right one (jigsaw's is the 64-px ConvNet's).
    keys = list(dict.fromkeys(rows[m.name]["baseline"] for m in methods))
    named = len(keys) > 1
    for i, m in enumerate(methods):
        r = rows[m.name]
        layers = list(r["layers"])
        xs = range(len(layers))
        stats = [mean_interval(r["layers"][layer]["linear"]["test"]) for layer in layers]
        ax.errorbar(xs, [100 * s[0] for s in stats], yerr=[100 * error_bar(s[1]) for s in stats],
                    marker=markers[i % len(markers)], capsize=3, lw=2,
                    label=m.title + (f" ({baseline_name(r['baseline'])})" if named else ""))
        ax.set_xticks(list(xs), layers, fontsize=13)
    for dash, key in zip(BASELINE_DASHES, keys):
        rnd = results["baselines"][key]["random_init"]
        layers = list(rnd["layers"])
        base = [mean_interval(rnd["layers"][layer]["linear"]["test"])[0] for layer in layers]
        ax.plot(range(len(layers)), [100 * b for b in base], color="k", ls=dash, lw=1.5,
                label="random init" + (f" ({baseline_name(key)})" if named else ""))
    ax.set_ylabel("linear probe, test top-1 (%)", fontsize=13)
    ax.set_xlabel("backbone stage", fontsize=13)
    ax.tick_params(labelsize=13)
    ax.set_title(FAMILIES[family], fontsize=15)
    ax.grid(alpha=0.3)
    # Below the axes: inside, the key hid curves wherever "best" put it.
    ax.legend(fontsize=11, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    save(fig, path)


def best_layer_curve(row: dict) -> tuple[list[int], list[float], list[float]]:
    """Steps, mean and interval half width over seeds of the kNN curve at each reading's best
    stage (the stage whose mean over seeds is highest at that reading)."""
    means, halves = [], []
    for i in range(len(row["steps"])):
        stats = [mean_interval([seed[i] for seed in per_seed]) for per_seed in row["knn"].values()]
        mean, half = max(stats, key=lambda s: s[0])
        means.append(100 * mean)
        halves.append(100 * error_bar(half))
    return row["steps"], means, halves


def knn_curve_figure(path: Path, methods: tuple[str, ...], curves: Path = CURVES) -> None:
    """Validation kNN during pre-training of ``methods`` (those stored), beside the random init
    they start from: one dashed line per backbone and image size (methods that share them
    share their step-0 reading; jigsaw, for one, reads 64-px images)."""
    stored = json.loads(curves.read_text())["methods"] if curves.exists() else {}
    rows = {name: stored[name] for name in methods if name in stored}
    fig, ax = plt.subplots(figsize=(9, 4.2))
    if not rows:
        return not_measured(fig, ax, path, f"python -m ssl_examples.curves {' '.join(methods)}")
    titles = {m.name: m.title for m in REGISTRY}
    start: dict[tuple, list[float]] = {}  # (backbone, image size) -> the step-0 readings
    for i, (name, row) in enumerate(rows.items()):
        steps, means, halves = best_layer_curve(row)
        ax.errorbar(steps, means, yerr=halves, marker="osD^v"[i % 5], color=OKABE_ITO[i % len(OKABE_ITO)],
                    capsize=3, lw=2, label=titles.get(name, name))
        start.setdefault((row["recipe"]["backbone"], row["recipe"]["image_size"]), []).append(means[0])
    for j, ((backbone, size), readings) in enumerate(start.items()):
        label = "random init (step 0)" if len(start) == 1 else f"random init (step 0), {size} px"
        ax.axhline(sum(readings) / len(readings), color="k", ls=BASELINE_DASHES[j % len(BASELINE_DASHES)], lw=1.5,
                   label=label)
    ax.set_xlabel("optimiser steps of pre-training", fontsize=13)
    ax.set_ylabel("kNN, validation top-1 (%)", fontsize=13)
    ax.tick_params(labelsize=13)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=11, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the curves, not on them
    save(fig, path)


def _one(family: str):
    def make(path: Path) -> None:
        layers_figure(path, family)
    make.__doc__ = f"Per-layer linear probe of the {FAMILIES[family]} methods beside random init."
    return make


RESULT_FIGURES = {f"results-layers-{family}.png": _one(family) for family in FAMILIES}
# kNN read during pre-training: joint-embedding methods with and without negatives; pretext
# tasks that meet both bars, only the linear one, and neither; the other instance methods.
RESULT_FIGURES["results-knn-curves.png"] = partial(knn_curve_figure, methods=("simclr", "vicreg", "byol", "barlow_twins"))
RESULT_FIGURES["results-knn-curves-pretext.png"] = partial(knn_curve_figure,
                                                           methods=("rotation", "context_prediction", "jigsaw"))
RESULT_FIGURES["results-knn-curves-instances.png"] = partial(knn_curve_figure, methods=("moco", "npid", "exemplar"))
