"""The results hook renders the benchmark JSON and refuses markers it cannot fill."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from mkdocs.exceptions import PluginError

import bench_tables  # docs/hooks/bench_tables.py (on pytest's pythonpath)


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
    assert "| `rotation` | 61 | 520 | **61.2** | **50.0** | 40.0 / 30.0 | 93.0 |" in out
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
