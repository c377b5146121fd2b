"""Figures of the benchmark's results, drawn from ``docs/results/bench.json``.

One figure per family of methods: the linear probe's test accuracy at every stage of the
backbone, mean over seeds with its 95 % interval, beside random init of the same backbone
(per-layer probes, as Goyal et al., ICCV 2019, evaluate). A method whose pretext task
specialises its last layers peaks before the last stage.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt

from ..methods import FAMILIES, REGISTRY
from ..stats import mean_interval
from .common import save

BENCH = Path(__file__).resolve().parents[2] / "docs" / "results" / "bench.json"


def _current_rows(results: dict) -> dict:
    return {n: r for n, r in results.get("methods", {}).items()
            if isinstance(r.get("linear"), list) and r.get("baseline") in results.get("baselines", {})}


def layers_figure(path: Path, family: str, bench: Path = BENCH) -> None:
    """Per-layer linear-probe test accuracy of one family's methods beside random init."""
    results = json.loads(bench.read_text()) if bench.exists() else {}
    rows = _current_rows(results)
    methods = [m for m in REGISTRY if m.family == family and m.name in rows]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    if not methods:
        ax.text(0.5, 0.5, "not measured yet:\npython -m ssl_examples bench", ha="center", va="center",
                fontsize=14, transform=ax.transAxes)
        ax.set_axis_off()
        save(fig, path)
        return
    markers = "osD^v<>"
    drawn_baselines = set()
    for i, m in enumerate(methods):
        r = rows[m.name]
        layers = list(r["layers"])
        xs = range(len(layers))
        stats = [mean_interval(r["layers"][layer]["linear"]["test"]) for layer in layers]
        ax.errorbar(xs, [100 * s[0] for s in stats], yerr=[100 * (s[1] if s[1] == s[1] else 0) for s in stats],
                    marker=markers[i % len(markers)], capsize=3, lw=2, label=m.title)
        key = r["baseline"]
        if key not in drawn_baselines:
            rnd = results["baselines"][key]["random_init"]
            base = [mean_interval(rnd["layers"][layer]["linear"]["test"])[0] for layer in layers]
            ax.plot(xs, [100 * b for b in base], "k--", lw=1.5,
                    label="random init" + ("" if not drawn_baselines else f" ({key})"))
            drawn_baselines.add(key)
        ax.set_xticks(list(xs), layers, fontsize=13)
    ax.set_ylabel("linear probe, test top-1 (%)", fontsize=13)
    ax.set_xlabel("backbone stage", fontsize=13)
    ax.tick_params(labelsize=13)
    ax.set_title(FAMILIES[family], fontsize=15)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=11, loc="best")
    save(fig, path)


def _one(family: str):
    def make(path: Path) -> None:
        layers_figure(path, family)
    make.__doc__ = f"Per-layer linear probe of the {FAMILIES[family]} methods beside random init."
    return make


RESULT_FIGURES = {f"results-layers-{family}.png": _one(family) for family in FAMILIES}
