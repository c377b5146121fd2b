"""MkDocs hook: pages show the benchmark's numbers, read from ``docs/results/bench.json``.

A page writes a marker where a table belongs, and the build replaces it:

* ``<!-- bench:table -->``: every method with its baselines (the results page);
* ``<!-- bench:method NAME -->``: one method's row next to its baselines (method pages);
* ``<!-- bench:baselines -->``: the data world's calibration (raw pixels, random init, supervised).

A method the JSON does not have yet is shown as a note that names the command to run
(``tests/test_bench_tables.py`` fails until every method has its row). A marker of an
unknown kind fails the build. The JSON is written by ``python -m ssl_examples bench``.
"""

import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!-- bench:(table|method|baselines)(?: ([\w-]+))? -->")


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def load(config) -> dict:
    path = Path(config["docs_dir"]) / "results" / "bench.json"
    if not path.exists():
        return {"methods": {}, "baselines": {}}, path
    return json.loads(path.read_text()), path


def not_measured(name: str) -> str:
    return (f'!!! warning "Not measured yet"\n    Run `python -m ssl_examples bench --methods {name}` '
            f"to add this method's row to `docs/results/bench.json`.")


def method_rows(results: dict, names: list[str]) -> str:
    lines = ["| method | pre-training (s) | images/s | linear probe | kNN | random init: linear / kNN | supervised: linear |",
             "|---|--:|--:|--:|--:|--:|--:|"]
    for name in names:
        r = results["methods"][name]
        b = results["baselines"][r["baseline"]]
        lines.append(f"| `{name}` | {r['seconds']:.0f} | {r['images_per_s']:.0f} | **{pct(r['linear'])}** | **{pct(r['knn'])}** "
                     f"| {pct(b['random_init']['linear'])} / {pct(b['random_init']['knn'])} | {pct(b['supervised']['linear'])} |")
    m = results["machine"]
    lines.append("")
    lines.append(f"Top-1 accuracy (%) on the embedded world's test split. Measured {results['updated']} "
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


def on_page_markdown(markdown, page, config, files):
    if "<!-- bench:" not in markdown:
        return markdown
    results, path = load(config)

    def replace(match):
        kind, name = match.groups()
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
