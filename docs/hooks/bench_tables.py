"""MkDocs hook: pages show the benchmark's numbers, read from ``docs/results/bench*.json``.

A page writes a marker where a table belongs, and the build replaces it:

* ``<!-- bench:table -->``: every method with its gains over random init (the results page);
  ``<!-- bench:table gpu -->`` the same from ``bench-gpu.json``;
* ``<!-- bench:method NAME -->``: one method's row next to its baselines (method pages);
* ``<!-- bench:layers NAME -->``: one method's per-layer probes beside random init;
* ``<!-- bench:finetune NAME -->``: one method's fine-tuning accuracies per label fraction;
* ``<!-- bench:misses -->``: the methods that do not meet both bars, with the gains they do show;
* ``<!-- bench:baselines -->``: raw pixels, random init and supervised, per backbone;
* ``<!-- bench:machine -->`` (or ``machine gpu``): where and when the numbers were measured;
* ``<!-- bench:layer-figures -->``: the per-layer figure of every family (``figures/results.py``);
* ``<!-- bench:field NAME KEY -->``: one stored value of a method's row, inline (``seconds``,
  ``recipe.epochs``, ...; a list of seeds shows its mean);
* ``<!-- results:NAME -->``: the table a method's own evaluation stored in
  ``docs/results/NAME.json`` (``ssl_examples/tables.py``), with the commands that made it.

Every value is a mean over the stored seeds with its 95 % Student-t interval; gains are
computed seed by seed against the random-init baseline of the same backbone and seeds.
A method the JSON does not have yet is shown as a note that names the command to run
(``tests/test_bench_tables.py`` fails until every registered method has its row). A marker
of an unknown kind fails the build. The JSON is written by ``python -m ssl_examples bench``.
"""

import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

from ssl_examples.stats import BARS, format_interval, gain_interval, verdict

MARKER = re.compile(r"<!-- bench:([a-z-]+)(?: ([\w-]+))?(?: ([\w.]+))? -->")
RESULTS_MARKER = re.compile(r"<!-- results:([\w-]+) -->")
KINDS = ("table", "method", "layers", "finetune", "baselines", "machine", "layer-figures", "field", "misses")
FILES = {"cpu": "bench.json", "gpu": "bench-gpu.json"}


def load(config, tier: str = "cpu") -> dict:
    """The results of a tier, keeping only rows in the current (per-seed) format."""
    path = Path(config["docs_dir"]) / "results" / FILES[tier]
    if not path.exists():
        return {"methods": {}, "baselines": {}}
    results = json.loads(path.read_text())
    results["baselines"] = {k: b for k, b in results["baselines"].items()
                            if isinstance(b.get("random_init", {}).get("linear"), list)}
    results["methods"] = {n: r for n, r in results["methods"].items()
                          if isinstance(r.get("linear"), list) and r.get("baseline") in results["baselines"]}
    return results


def seeds(values) -> list:
    """Per-seed values; a bare number (a row from before the per-seed format) is one seed."""
    return values if isinstance(values, list) else [values]


def interval(values) -> str:
    return format_interval(seeds(values))


def gain(values, baseline, bar: float | None = None) -> str:
    mean, half = gain_interval(seeds(values), seeds(baseline))
    # A gain just below its bar would round up to it (2.98 -> "+3.0"): show it with two
    # decimals, so the number and the "bars met" verdict never seem to disagree.
    digits = 2 if bar is not None and mean < bar <= round(mean, 3) else 1
    text = f"{100 * mean:+.{digits}f}" if half != half else f"{100 * mean:+.{digits}f} ± {100 * half:.1f}"
    # A gain whose interval lies above zero is shown in bold: it survives a change of seed.
    return f"**{text}**" if half == half and mean - half > 0 else text


def nowrap(text: str) -> str:
    return f'<span class="nowrap">{text}</span>'


def not_measured(name: str, tier: str = "cpu") -> str:
    flag = "" if tier == "cpu" else " --tier gpu"
    return (f'!!! warning "Not measured yet"\n    Run `python -m ssl_examples bench{flag} --methods {name}` '
            f"to add this method's row to `docs/results/{FILES[tier]}`.")


def titles() -> dict[str, str]:
    from ssl_examples.methods import REGISTRY

    return {m.name: m.title for m in REGISTRY}


def method_rows(results: dict, names: list[str]) -> str:
    title = titles()
    lines = ["| method | s / seed | linear probe | gain | kNN | gain | random init: linear / kNN | supervised: linear "
             "| bars met |", "|---|--:|--:|--:|--:|--:|--:|--:|:-:|"]
    for name in names:
        r = results["methods"][name]
        b = results["baselines"][r["baseline"]]
        rnd, sup = b["random_init"], b["supervised"]
        seconds = sum(r["seconds"]) / len(r["seconds"])
        lines.append(
            f"| {nowrap(title.get(name, name))} | {seconds:.0f} "
            f"| {nowrap(interval(r['linear']))} <small>{r['best']['linear']}</small> | {nowrap(gain(r['linear'], rnd['linear'], BARS['linear']))} "
            f"| {nowrap(interval(r['knn']))} <small>{r['best']['knn']}</small> | {nowrap(gain(r['knn'], rnd['knn'], BARS['knn']))} "
            f"| {nowrap(interval(rnd['linear']) + ' / ' + interval(rnd['knn']))} | {nowrap(interval(sup['linear']))} "
            f"| {verdict(r, rnd)} |")
    seeds = sorted({len(results["methods"][n]["seeds"]) for n in names})
    lines += ["", f"Top-1 accuracy (%) on the test split: mean over {'/'.join(map(str, seeds))} seeds "
              "± the 95 % interval (Student t). Each protocol is read at the layer (in small type) "
              "with the best mean accuracy on the validation split; random init is read at its "
              "own best layer. Gains are paired by seed; bold ones have their whole interval above zero. "
              f"*Bars met*: which of the course's bars the method reaches (a gain of at least "
              f"{100 * BARS['linear']:.0f} points on the linear probe, {100 * BARS['knn']:.0f} on kNN, "
              "each with its interval above zero)."]
    return "\n".join(lines)


def misses(results: dict) -> str:
    """A list of the methods below a bar, so the text around it never goes stale."""
    title = titles()
    items = []
    for name in [n for n in title if n in results["methods"]]:
        r = results["methods"][name]
        rnd = results["baselines"][r["baseline"]]["random_init"]
        met = verdict(r, rnd)
        if met != "both":
            items.append(f"- **{title[name]}** (bars met: {met}): linear {gain(r['linear'], rnd['linear'], BARS['linear'])}, "
                         f"kNN {gain(r['knn'], rnd['knn'], BARS['knn'])} points over random init")
    return "\n".join(items) if items else "Every measured method meets both bars."


def layer_rows(results: dict, name: str) -> str:
    r = results["methods"][name]
    rnd = results["baselines"][r["baseline"]]["random_init"]
    lines = [f"| layer | {name}: linear (val / test) | kNN (val / test) | random init: linear (val / test) | kNN (val / test) |",
             "|---|--:|--:|--:|--:|"]
    for layer in r["layers"]:
        cells = []
        for row in (r, rnd):
            for p in ("linear", "knn"):
                v = row["layers"].get(layer, {}).get(p)
                cells.append(nowrap(f"{interval(v['val'])} / {interval(v['test'])}") if v else "")
        mark = " (best)" if layer in r["best"].values() else ""
        lines.append(f"| {layer}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def finetune_rows(results: dict, name: str) -> str:
    r = results["methods"][name]
    if "finetune" not in r:
        return (f'!!! warning "Not measured yet"\n    Run `python -m ssl_examples bench --methods {name} '
                f'--finetune 1 10 100` to add fine-tuning to this row.')
    lines = ["| labels | fine-tuned top-1 (test) |", "|--:|--:|"]
    for fraction, values in sorted(r["finetune"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {fraction} % | {nowrap(interval(values))} |")
    return "\n".join(lines)


def baseline_rows(results: dict) -> str:
    if not results["baselines"]:
        return not_measured("NAME")
    lines = ["| backbone, image size, channels | raw pixels: linear / kNN | random init: linear / kNN | supervised: linear / kNN |",
             "|---|--:|--:|--:|"]
    for key, b in sorted(results["baselines"].items()):
        px = b["raw_pixels"]
        lines.append(f"| {key} | {100 * px['linear']:.1f} / {100 * px['knn']:.1f} "
                     f"| {nowrap(interval(b['random_init']['linear']) + ' / ' + interval(b['random_init']['knn']))} "
                     f"| {nowrap(interval(b['supervised']['linear']) + ' / ' + interval(b['supervised']['knn']))} |")
    return "\n".join(lines)


def provenance(rows: dict) -> str:
    """When the rows were made, and whether they can be told to come from one kind of CPU: a
    seed's numbers repeat exactly on one machine, not across CPUs whose kernels round differently."""
    dates = sorted(r["updated"] for r in rows.values() if r.get("updated"))
    if not dates or dates[0] == dates[-1]:
        return ""
    text = f" Rows were made one method at a time, from {dates[0]} to {dates[-1]} (each row keeps its date)."
    kinds = {r.get("cpu_capability") for r in rows.values()}
    unknown = sum(not r.get("cpu_capability") for r in rows.values())
    if unknown:
        text += (f" A seed's numbers repeat exactly on one machine, but a CPU whose kernels round differently"
                 f" gives other numbers for the same seed, and {unknown} of the {len(rows)} rows"
                 f" {'does' if unknown == 1 else 'do'} not record their CPU's kernels, so the rows may"
                 f" come from more than one machine.")
    elif len(kinds) > 1:
        text += f" Their CPUs' kernels differ ({', '.join(sorted(kinds))}), so a seed's numbers may too."
    return text


def machine(results: dict, tier: str) -> str:
    if "machine" not in results or not results["methods"]:   # none in the current format
        return not_measured("NAME", tier)
    m = results["machine"]
    flag = "" if tier == "cpu" else " --tier gpu"
    line = (f"Measured {results['updated']} on {m['device']} ({m['processor']}, torch {m['torch']}) "
            f"with `python -m ssl_examples bench{flag}`.")
    # Rows are re-measured one method at a time, so they may differ in threads: say so, since
    # the s/seed column depends on it.
    by_threads: dict = {}
    for name, row in results["methods"].items():
        by_threads.setdefault(row.get("threads"), []).append(name)
    line += provenance(results["methods"])
    if set(by_threads) == {m["threads"]}:
        return line + f" Each method ran alone on {m['threads']} thread{'s' * (m['threads'] != 1)}."
    parts = []
    for threads, names in sorted(by_threads.items(), key=lambda kv: (kv[0] is None, -(kv[0] or 0))):
        if threads is None:
            n = len(names)
            parts.append(f"not recorded for the other {n} row{'s' * (n != 1)} ({', '.join(sorted(names))})")
        else:
            parts.append(f"{', '.join(sorted(names))} on {threads} thread{'s' * (threads != 1)}")
    return line + " Threads per method: " + "; ".join(parts) + "."


def layer_figures(page) -> str:
    """One image per family, with an alt text that says what it shows."""
    from ssl_examples.methods import FAMILIES

    prefix = "../" * page.file.src_path.count("/")
    return "\n\n".join(f"![Per-layer linear-probe test accuracy of the {title} methods beside random "
                        f"init, one line per method]({prefix}figures/results-layers-{family}.png)"
                        for family, title in FAMILIES.items())


def field(results: dict, name: str, key: str, where: str) -> str:
    """One stored value of a method's row, e.g. ``seconds`` or ``recipe.epochs``."""
    x = results["methods"][name]
    for part in key.split("."):
        if not isinstance(x, dict) or part not in x:
            raise PluginError(f"{where}: bench.json has no `{key}` for {name}")
        x = x[part]
    if isinstance(x, list):
        x = sum(x) / len(x)
    if isinstance(x, float):
        return f"{x:.0f}" if abs(x) >= 10 else f"{x:.2g}"
    return str(x)


def stored_table(docs: Path, name: str, where: str) -> str:
    """A method's own evaluation table (``docs/results/NAME.json``) with the commands that made it."""
    path = docs / "results" / f"{name}.json"
    if not path.exists():
        raise PluginError(f"{where}: <!-- results:{name} --> but {path} does not exist")
    t = json.loads(path.read_text())
    lines = ["| " + " | ".join(t["columns"]) + " |", "|---|" + "--:|" * (len(t["columns"]) - 1)]
    for i, row in enumerate(t["rows"]):
        cells = [row[0]] + [interval(v) for v in row[1:]]
        if i == t.get("highlight"):
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    r = t["recipe"]
    commands = " followed by ".join(f"`{c}`" for c in t["commands"])
    lines += ["", f"*{t['title']}: accuracy or IoU in %. Measured {t['updated']} ({t['machine']['threads']} "
                  f"threads, torch {t['machine']['torch']}) with {commands}: {r['epochs']} epochs of "
                  f"pre-training at {r['image_size']} px, one seed.*"]
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    if "<!-- results:" in markdown:
        docs = Path(config["docs_dir"])
        markdown = RESULTS_MARKER.sub(lambda m: stored_table(docs, m.group(1), page.file.src_path), markdown)
    if "<!-- bench:" not in markdown:
        return markdown

    def replace(match):
        kind, arg, key = match.groups()
        if kind not in KINDS:
            raise PluginError(f"{page.file.src_path}: unknown marker <!-- bench:{kind} -->; use one of {', '.join(KINDS)}")
        if kind == "layer-figures":
            return layer_figures(page)
        if kind == "misses":
            return misses(load(config))
        if kind in ("table", "machine", "baselines"):
            tier = arg or "cpu"
            if tier not in FILES:
                raise PluginError(f"{page.file.src_path}: <!-- bench:{kind} {tier} -->: unknown tier")
            results = load(config, tier)
            if kind == "machine":
                return machine(results, tier)
            if kind == "baselines":
                return baseline_rows(results)
            names = [n for n in titles() if n in results["methods"]] + \
                    [n for n in results["methods"] if n not in titles()]
            return method_rows(results, names) if names else not_measured("NAME", tier)
        if not arg:
            raise PluginError(f"{page.file.src_path}: <!-- bench:{kind} --> needs a method name")
        results = load(config)
        if arg not in results["methods"]:
            return "(not measured yet)" if kind == "field" else not_measured(arg)
        if kind == "field":
            if not key:
                raise PluginError(f"{page.file.src_path}: <!-- bench:field NAME KEY --> needs a key")
            return field(results, arg, key, page.file.src_path)
        return {"method": lambda: method_rows(results, [arg]), "layers": lambda: layer_rows(results, arg),
                "finetune": lambda: finetune_rows(results, arg)}[kind]()

    return MARKER.sub(replace, markdown)
