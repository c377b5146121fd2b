"""MkDocs hook: pages show the benchmark's numbers, read from ``docs/results/bench.json``.

A page writes a marker where a table belongs, and the build replaces it:

* ``<!-- bench:table -->``: every method with its baselines (the results page);
* ``<!-- bench:method NAME -->``: one method's row next to its baselines (method pages);
* ``<!-- bench:baselines -->``: the data world's calibration (raw pixels, random init, supervised);
* ``<!-- bench:field NAME KEY -->``: one stored value of a method's row, inline (``seconds``,
  ``images_per_s``, ``recipe.epochs``, ...);
* ``<!-- results:NAME -->``: the table a method's own evaluation stored in
  ``docs/results/NAME.json`` (``ssl_examples/tables.py``), with the commands that made it.

Every method row shows its **gain** over the random-init baseline of the same backbone,
image size and data (rows differ in those, so raw accuracies are not comparable across rows).
A stored accuracy may be a number or a record of several seeds (``value`` reads both).

A method the JSON does not have yet is shown as a note that names the command to run
(``tests/test_bench_tables.py`` fails until every method has its row). A marker of an
unknown kind fails the build. The JSON is written by ``python -m ssl_examples bench``.
"""

import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!-- bench:(table|method|baselines|field)(?: ([\w-]+))?(?: ([\w.]+))? -->")
RESULTS_MARKER = re.compile(r"<!-- results:([\w-]+) -->")


def value(x) -> float:
    """A stored accuracy: a number, a list of seeds, or a record with ``mean`` or ``values``."""
    if isinstance(x, dict):
        return float(x["mean"]) if "mean" in x else sum(x["values"]) / len(x["values"])
    if isinstance(x, (list, tuple)):
        return sum(x) / len(x)
    return float(x)


def pct(x) -> str:
    return f"{100 * value(x):.1f}"


def gain(x, base) -> str:
    return f"{100 * (value(x) - value(base)):+.1f}"


def method_title(name: str) -> str:
    """The registry's name for a method, kept on one line in tables."""
    try:
        from ssl_examples.methods import BY_NAME
        title = BY_NAME[name].title
    except (ImportError, KeyError):
        title = name
    return f'<span class="nowrap">{title}</span>'


def load(config) -> dict:
    path = Path(config["docs_dir"]) / "results" / "bench.json"
    if not path.exists():
        return {"methods": {}, "baselines": {}}, path
    return json.loads(path.read_text()), path


def not_measured(name: str) -> str:
    return (f'!!! warning "Not measured yet"\n    Run `python -m ssl_examples bench --methods {name}` '
            f"to add this method's row to `docs/results/bench.json`.")


def method_rows(results: dict, names: list[str]) -> str:
    lines = ["| method | pre-training (s) | images/s | linear probe | kNN | random init: linear / kNN "
             "| gain: linear / kNN | supervised: linear |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for name in names:
        r = results["methods"][name]
        b = results["baselines"][r["baseline"]]
        rand = b["random_init"]
        lines.append(f"| {method_title(name)} | {r['seconds']:.0f} | {r['images_per_s']:.0f} | **{pct(r['linear'])}** "
                     f"| **{pct(r['knn'])}** | {pct(rand['linear'])} / {pct(rand['knn'])} "
                     f"| {gain(r['linear'], rand['linear'])} / {gain(r['knn'], rand['knn'])} "
                     f"| {pct(b['supervised']['linear'])} |")
    m = results["machine"]
    lines.append("")
    lines.append(f"Top-1 accuracy (%) on the embedded world's test split; the gain is in points over the same "
                 f"backbone at random init. Measured {results['updated']} "
                 f"on {m['device']} ({m['threads']} threads, torch {m['torch']}) with "
                 f"`python -m ssl_examples bench`.")
    return "\n".join(lines)


def baseline_rows(results: dict) -> str:
    lines = ["| backbone, image size, training images | raw pixels: linear / kNN | random init: linear / kNN | supervised: linear / kNN |",
             "|---|--:|--:|--:|"]
    for key, b in sorted(results["baselines"].items()):
        lines.append(f"| {key} | {pct(b['raw_pixels']['linear'])} / {pct(b['raw_pixels']['knn'])} "
                     f"| {pct(b['random_init']['linear'])} / {pct(b['random_init']['knn'])} "
                     f"| {pct(b['supervised']['linear'])} / {pct(b['supervised']['knn'])} |")
    return "\n".join(lines)


def field(results: dict, name: str, key: str, where: str) -> str:
    """One stored value of a method's row, e.g. ``seconds`` or ``recipe.epochs``."""
    x = results["methods"][name]
    for part in key.split("."):
        if not isinstance(x, dict) or part not in x:
            raise PluginError(f"{where}: bench.json has no `{key}` for {name}")
        x = x[part]
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
        cells = [row[0]] + [pct(v) for v in row[1:]]
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
    where = page.file.src_path
    if "<!-- results:" in markdown:
        docs = Path(config["docs_dir"])
        markdown = RESULTS_MARKER.sub(lambda m: stored_table(docs, m.group(1), where), markdown)
    if "<!-- bench:" not in markdown:
        return markdown
    results, path = load(config)

    def replace(match):
        kind, name, key = match.groups()
        if kind == "field":
            if not (name and key):
                raise PluginError(f"{where}: <!-- bench:field NAME KEY --> needs a method and a key")
            if name not in results["methods"]:
                return "(not measured yet)"
            return field(results, name, key, where)
        if kind == "table":
            return method_rows(results, list(results["methods"])) if results["methods"] else not_measured("NAME")
        if kind == "baselines":
            return baseline_rows(results)
        if not name:
            raise PluginError(f"{page.file.src_path}: <!-- bench:method --> needs a method name")
        if name not in results["methods"]:
            return not_measured(name)
        return method_rows(results, [name])

    return MARKER.sub(replace, markdown)
