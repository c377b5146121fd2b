"""The results hook renders the benchmark JSON and refuses markers it cannot fill."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from mkdocs.exceptions import PluginError

import bench_tables  # docs/hooks/bench_tables.py (on pytest's pythonpath)

DOCS = Path(__file__).parents[1] / "docs"  # the committed pages and stored results

LAYERS = {"block4": {"linear": {"val": [0.5, 0.5, 0.5], "test": [0.6, 0.62, 0.64]},
                     "knn": {"val": [0.4, 0.4, 0.4], "test": [0.5, 0.5, 0.5]}},
          "block5": {"linear": {"val": [0.4, 0.4, 0.4], "test": [0.9, 0.9, 0.9]},
                     "knn": {"val": [0.45, 0.45, 0.45], "test": [0.3, 0.3, 0.3]}}}
RANDOM = {"layers": LAYERS, "best": {"linear": "block4", "knn": "block5"},
          "linear": [0.40, 0.42, 0.44], "knn": [0.30, 0.30, 0.30]}
RESULTS = {
    "updated": "2026-11-27 12:00 UTC",
    "machine": {"device": "cpu", "processor": "x86_64", "threads": 2, "torch": "2.14.1"},
    "methods": {"rotation": {"seeds": [0, 1, 2], "seconds": [60.0, 61.0, 62.0], "layers": LAYERS,
                             "best": {"linear": "block4", "knn": "block5"},
                             "linear": [0.60, 0.62, 0.64], "knn": [0.30, 0.31, 0.32], "baseline": "k",
                             "finetune": {"10": [0.7, 0.7, 0.7]}},
                "old_format": {"seconds": 3.0, "linear": 0.5, "knn": 0.4, "baseline": "k"}},
    "baselines": {"k": {"raw_pixels": {"linear": 0.2, "knn": 0.15}, "random_init": RANDOM,
                        "supervised": {**RANDOM, "linear": [0.93, 0.93, 0.93]}}},
}


@pytest.fixture
def config(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bench.json").write_text(json.dumps(RESULTS))
    return {"docs_dir": str(tmp_path)}


def page():
    return SimpleNamespace(file=SimpleNamespace(src_path="methods/x.md"))


def render(text, config):
    return bench_tables.on_page_markdown(text, page(), config, None)


def test_method_marker_becomes_its_row_with_intervals_and_paired_gains(config):
    out = render("before\n<!-- bench:method rotation -->\nafter", config)
    row = next(line for line in out.splitlines() if "Rotation" in line)
    # mean 62.0, sd 2.0 over 3 seeds: half width 4.303 * 2 / sqrt(3) = 4.97
    assert "62.0 ± 5.0" in row and "<small>block4</small>" in row
    # gains paired by seed: 0.20, 0.20, 0.20 -> +20.0 ± 0.0 (bold: the interval is above zero)
    assert "**+20.0 ± 0.0**" in row
    # kNN 0.30/0.31/0.32 against 0.30: +1.0 ± 2.5, not bold (the interval reaches zero)
    assert "+1.0 ± 2.5" in row and "**+1.0" not in row
    assert out.startswith("before\n") and out.endswith("\nafter") and "<!--" not in out


def test_layers_marker_shows_val_and_test_per_layer(config):
    out = render("<!-- bench:layers rotation -->", config)
    assert "| block4 (best) |" in out and "50.0 ± 0.0 / 62.0 ± 5.0" in out


def test_finetune_and_baselines_markers(config):
    assert "| 10 % | <span class=\"nowrap\">70.0 ± 0.0</span> |" in render("<!-- bench:finetune rotation -->", config)
    out = render("<!-- bench:baselines -->", config)
    assert "| k | 20.0 / 15.0 |" in out and "93.0 ± 0.0" in out


def test_unmeasured_and_old_format_rows_say_which_command_to_run(config):
    for name in ("jigsaw", "old_format"):
        out = render(f"<!-- bench:method {name} -->", config)
        assert "Not measured yet" in out and f"bench --methods {name}" in out


def test_bad_markers_fail_the_build(config):
    with pytest.raises(PluginError, match="needs a method name"):
        render("<!-- bench:method -->", config)
    with pytest.raises(PluginError, match="unknown marker"):
        render("<!-- bench:tabel -->", config)
    with pytest.raises(PluginError, match="unknown tier"):
        render("<!-- bench:table tpu -->", config)


def test_committed_results_cover_every_method():
    """Every registered method has a benchmark row in the current format (a new method must
    run its bench), with one value per seed for every layer and protocol."""
    from ssl_examples.methods import METHODS

    results = json.loads((DOCS / "results/bench.json").read_text())
    assert set(METHODS) <= set(results["methods"]), set(METHODS) - set(results["methods"])
    for name in METHODS:
        row = results["methods"][name]
        assert row["baseline"] in results["baselines"], name
        assert len(row["seeds"]) >= 3 and len(row["linear"]) == len(row["knn"]) == len(row["seeds"]), name
        assert results["baselines"][row["baseline"]]["seeds"] == row["seeds"], name
        for layer in row["layers"].values():
            for p in ("linear", "knn"):
                assert len(layer[p]["val"]) == len(layer[p]["test"]) == len(row["seeds"]), name


def test_field_marker(config):
    assert render("took <!-- bench:field rotation seconds --> s", config) == "took 61 s"
    with pytest.raises(PluginError, match="no `recipe.epochs` for rotation"):
        render("<!-- bench:field rotation recipe.epochs -->", config)
    with pytest.raises(PluginError, match="needs a key"):
        render("<!-- bench:field rotation -->", config)


def test_stored_table_marker(config, tmp_path):
    """A method's own evaluation (ssl_examples/tables.py) rendered with the commands that made it."""
    table = {"title": "8 held-out clips", "columns": ["mask propagation", "mean IoU"],
             "rows": [["copy", 0.171], ["ours", 0.352]], "highlight": 1,
             "commands": ["python -m a", "python -m b"], "recipe": {"epochs": 8, "image_size": 64},
             "machine": {"threads": 1, "torch": "2.14.1"}, "updated": "2026-11-28 12:00 UTC"}
    (tmp_path / "results" / "tracking.json").write_text(json.dumps(table))
    out = render("<!-- results:tracking -->", config)
    assert "| copy | 17.1 |" in out and "| **ours** | **35.2** |" in out
    assert "`python -m a` followed by `python -m b`" in out and "8 epochs" in out
    with pytest.raises(PluginError, match="does not exist"):
        render("<!-- results:nothing -->", config)


def test_stored_tables_exist_for_their_markers():
    """Every <!-- results:NAME --> on a page has its stored output committed."""
    import re

    for page_path in DOCS.rglob("*.md"):
        for name in re.findall(r"<!-- results:([\w-]+) -->", page_path.read_text()):
            assert (DOCS / "results" / f"{name}.json").is_file(), f"{page_path.name}: run the command that writes {name}.json"


def test_misses_marker_lists_methods_below_a_bar(config):
    # rotation: linear +20 on every seed (met), kNN +1.0 ± 2.5 (below the 3-point bar)
    out = render("<!-- bench:misses -->", config)
    assert "**Rotation** (bars met: linear only)" in out and "kNN +1.0 ± 2.5" in out
    row = next(line for line in render("<!-- bench:method rotation -->", config).splitlines() if "Rotation" in line)
    assert row.endswith("| linear only |")


def test_machine_line_says_how_many_threads_each_row_had(config, tmp_path):
    # Every row on the machine's thread count: one sentence for all.
    same = {**RESULTS, "methods": {"rotation": {**RESULTS["methods"]["rotation"], "threads": 2}}}
    (tmp_path / "results" / "bench.json").write_text(json.dumps(same))
    assert "Each method ran alone on 2 threads." in render("<!-- bench:machine -->", config)
    # Rows re-measured on other thread counts, or from a run that did not record it, are named.
    mixed = {**RESULTS, "methods": {"rotation": {**RESULTS["methods"]["rotation"], "threads": 2},
                                    "simclr": {**RESULTS["methods"]["rotation"], "threads": 1},
                                    "jigsaw": RESULTS["methods"]["rotation"]}}
    (tmp_path / "results" / "bench.json").write_text(json.dumps(mixed))
    out = render("<!-- bench:machine -->", config)
    assert "rotation on 2 threads; simclr on 1 thread; not recorded for the other 1 row (jigsaw)" in out
    assert "Each method ran alone" not in out


def test_machine_line_says_when_rows_were_made_and_whether_one_cpu_made_them(config, tmp_path):
    row = {**RESULTS["methods"]["rotation"], "threads": 2}
    one = {**RESULTS, "methods": {"rotation": {**row, "updated": "2026-11-29 01:00 UTC", "cpu_capability": "AVX512"},
                                  "simclr": {**row, "updated": "2026-11-30 02:00 UTC", "cpu_capability": "AVX512"}}}
    (tmp_path / "results" / "bench.json").write_text(json.dumps(one))
    out = render("<!-- bench:machine -->", config)
    assert "from 2026-11-29 01:00 UTC to 2026-11-30 02:00 UTC" in out and "more than one machine" not in out
    unknown = {**one, "methods": {**one["methods"], "jigsaw": {**row, "updated": "2026-11-28 09:00 UTC"}}}
    (tmp_path / "results" / "bench.json").write_text(json.dumps(unknown))
    out = render("<!-- bench:machine -->", config)
    assert "from 2026-11-28 09:00 UTC" in out and "1 of the 3 rows does not record" in out
    mixed = {**one, "methods": {**one["methods"], "jigsaw": {**row, "cpu_capability": "AVX2",
                                                             "updated": "2026-11-28 09:00 UTC"}}}
    (tmp_path / "results" / "bench.json").write_text(json.dumps(mixed))
    assert "kernels differ (AVX2, AVX512)" in render("<!-- bench:machine -->", config)


def test_pages_that_show_fine_tuning_have_it_made_by_the_plain_bench():
    """A page's ``bench:finetune NAME`` table renders the row's fine-tuning numbers: the method
    must ask for them (``BENCH_FINETUNE``), or a plain ``bench`` would store a row without them."""
    from ssl_examples.methods import METHODS

    shown = {m.group(2) for page in DOCS.rglob("*.md") for m in bench_tables.MARKER.finditer(page.read_text())
             if m.group(1) == "finetune"}
    assert shown, "no page shows fine-tuning numbers any more: drop this test"
    for name in shown:
        assert getattr(METHODS[name], "BENCH_FINETUNE", ()), name


def stale_fields(method: str, stored_recipe: dict) -> dict:
    """The fields where a stored recipe differs from the method's ``RECIPE``: {field: (stored, current)}."""
    from dataclasses import asdict

    from ssl_examples.methods import METHODS

    current = asdict(METHODS[method].RECIPE)
    return {k: (v, current.get(k)) for k, v in stored_recipe.items() if current.get(k) != v}


def test_committed_rows_were_measured_with_the_current_recipes():
    """A recipe changed without re-running its bench row would put another recipe's numbers
    on its page: the stored recipe must be the module's ``RECIPE``, value for value."""
    from ssl_examples.methods import METHODS

    results = json.loads((DOCS / "results/bench.json").read_text())
    stale = {name: stale_fields(name, results["methods"][name]["recipe"]) for name in METHODS}
    assert not any(stale.values()), {n: d for n, d in stale.items() if d}


def test_committed_rows_name_the_command_that_made_them():
    """A page shows each row's command: it must ask for what the row holds (its tier, seeds and
    fine-tuning), so that running it makes the row again."""
    for path in sorted((DOCS / "results").glob("bench*.json")):
        for name, row in json.loads(path.read_text())["methods"].items():
            words = row["command"].split()
            assert words[:4] == ["python", "-m", "ssl_examples", "bench"] and words[-2:] == ["--methods", name]
            assert ("--tier" in words) == (row["tier"] == "gpu"), (path.name, name)
            assert ("--seeds" in words) == (row["seeds"] != [0, 1, 2]), (path.name, name)
            fractions = words[words.index("--finetune") + 1:words.index("--methods")] if "--finetune" in words else []
            assert fractions == list(row.get("finetune", {})), (path.name, name, row["command"])


def test_a_gain_just_below_its_bar_is_not_rounded_up_to_it():
    # kNN gains 0.0255, 0.0325, 0.0315 over the baseline: mean 0.02983, below the 3-point bar,
    # which one decimal would print as "+3.0" beside a verdict of "not met".
    assert bench_tables.gain([0.3255, 0.3325, 0.3315], [0.3, 0.3, 0.3], 0.03).startswith("**+2.98 ±")
    assert bench_tables.gain([0.3255, 0.3325, 0.3315], [0.3, 0.3, 0.3]).startswith("**+3.0 ±")
    assert bench_tables.gain([0.34, 0.34, 0.34], [0.3, 0.3, 0.3], 0.03) == "**+4.0 ± 0.0**"


def test_stored_method_tables_were_made_with_the_current_recipe():
    """A method's own evaluation table (``<!-- results:NAME -->``) stores the recipe it ran with:
    a recipe changed without re-running the commands the table names would show old numbers."""
    from ssl_examples.methods import METHODS

    tables = [p for p in (DOCS / "results").glob("*.json") if p.stem in METHODS]
    assert tables, "the methods' own tables are stored beside bench.json"
    for path in tables:
        table = json.loads(path.read_text())
        stale = stale_fields(path.stem, table["recipe"])
        assert not stale, f"{path.name} (stored, current): {stale}; re-run: {' && '.join(table['commands'])}"


def test_stored_knn_curves_were_made_with_the_current_recipe():
    """The kNN-during-training curves (``docs/results/knn-curves.json``) explain the bench's rows:
    a curve of an older recipe would explain a run the bench no longer makes."""
    curves = json.loads((DOCS / "results/knn-curves.json").read_text())["methods"]
    assert curves
    stale = {name: stale_fields(name, row["recipe"]) for name, row in curves.items()}
    assert not any(stale.values()), {f"{n} (re-run: {curves[n]['command']})": d for n, d in stale.items() if d}
