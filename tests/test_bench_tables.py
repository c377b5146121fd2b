"""The results hook renders the benchmark JSON and refuses markers it cannot fill."""

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from mkdocs.exceptions import PluginError

spec = importlib.util.spec_from_file_location("bench_tables", Path(__file__).parents[1] / "docs/hooks/bench_tables.py")
bench_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_tables)

RESULTS = {
    "updated": "2026-11-27 12:00 UTC",
    "machine": {"device": "cpu", "threads": 2, "torch": "2.14.1"},
    "methods": {"rotation": {"seconds": 61.0, "images_per_s": 520.0, "linear": 0.612, "knn": 0.5, "baseline": "k"}},
    "baselines": {"k": {"raw_pixels": {"linear": 0.2, "knn": 0.15}, "random_init": {"linear": 0.4, "knn": 0.3},
                        "supervised": {"linear": 0.93, "knn": 0.9}}},
}


@pytest.fixture
def config(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bench.json").write_text(json.dumps(RESULTS))
    return {"docs_dir": str(tmp_path)}


def page():
    return SimpleNamespace(file=SimpleNamespace(src_path="methods/x.md"))


def test_method_marker_becomes_its_row_with_baselines(config):
    out = bench_tables.on_page_markdown("before\n<!-- bench:method rotation -->\nafter", page(), config, None)
    assert ('| <span class="nowrap">Rotation</span> | 61 | 520 | **61.2** | **50.0** | 40.0 / 30.0 '
            '| +21.2 / +20.0 | 93.0 |') in out
    assert out.startswith("before\n") and out.endswith("\nafter") and "<!--" not in out


def test_baselines_marker(config):
    out = bench_tables.on_page_markdown("<!-- bench:baselines -->", page(), config, None)
    assert "| k | 20.0 / 15.0 | 40.0 / 30.0 | 93.0 / 90.0 |" in out


def test_unmeasured_method_says_which_command_to_run(config):
    out = bench_tables.on_page_markdown("<!-- bench:method jigsaw -->", page(), config, None)
    assert "Not measured yet" in out and "bench --methods jigsaw" in out


def test_method_marker_without_a_name_fails_the_build(config):
    with pytest.raises(PluginError, match="needs a method name"):
        bench_tables.on_page_markdown("<!-- bench:method -->", page(), config, None)


def test_committed_results_cover_every_method():
    """Every method in the package has a benchmark row (a new method must run its bench)."""
    from ssl_examples.methods import METHODS

    results = json.loads((Path(__file__).parents[1] / "docs/results/bench.json").read_text())
    assert set(METHODS) <= set(results["methods"]), set(METHODS) - set(results["methods"])
    for name, row in results["methods"].items():
        assert row["baseline"] in results["baselines"], name


def test_seed_records_read_as_their_mean(config, tmp_path):
    """A row stored over several seeds (the benchmark's growing format) renders its mean."""
    results = json.loads(json.dumps(RESULTS))
    results["methods"]["rotation"]["linear"] = {"values": [0.60, 0.62, 0.616]}
    results["baselines"]["k"]["random_init"]["linear"] = {"mean": 0.4}
    (tmp_path / "results" / "bench.json").write_text(json.dumps(results))
    out = bench_tables.on_page_markdown("<!-- bench:method rotation -->", page(), config, None)
    assert "**61.2**" in out and "+21.2 / +20.0" in out


def test_field_marker(config):
    out = bench_tables.on_page_markdown("took <!-- bench:field rotation seconds --> s", page(), config, None)
    assert out == "took 61 s"
    with pytest.raises(PluginError, match="no `recipe.epochs` for rotation"):
        bench_tables.on_page_markdown("<!-- bench:field rotation recipe.epochs -->", page(), config, None)


def test_stored_table_marker(config, tmp_path):
    table = {"title": "8 held-out clips", "columns": ["mask propagation", "mean IoU"],
             "rows": [["copy", 0.171], ["ours", 0.352]], "highlight": 1,
             "commands": ["python -m a", "python -m b"], "recipe": {"epochs": 8, "image_size": 64},
             "machine": {"threads": 1, "torch": "2.14.1"}, "updated": "2026-11-28 12:00 UTC"}
    (tmp_path / "results" / "tracking.json").write_text(json.dumps(table))
    out = bench_tables.on_page_markdown("<!-- results:tracking -->", page(), config, None)
    assert "| copy | 17.1 |" in out and "| **ours** | **35.2** |" in out
    assert "`python -m a` followed by `python -m b`" in out and "8 epochs" in out
    with pytest.raises(PluginError, match="does not exist"):
        bench_tables.on_page_markdown("<!-- results:nothing -->", page(), config, None)


def test_stored_tables_exist_for_their_markers():
    """Every <!-- results:NAME --> on a page has its stored output committed."""
    import re

    docs = Path(__file__).parents[1] / "docs"
    for page_path in docs.rglob("*.md"):
        for name in re.findall(r"<!-- results:([\w-]+) -->", page_path.read_text()):
            assert (docs / "results" / f"{name}.json").is_file(), f"{page_path.name}: run the command that writes {name}.json"
