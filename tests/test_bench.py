"""The benchmark's code path, on the CPU with tiny sizes: seeds, per-layer records, the
layer chosen on validation, baselines over the same seeds, the GPU tier's recipes."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ssl_examples import bench, data
from ssl_examples.errors import UserError
from ssl_examples.methods import rotation
from ssl_examples.train import Recipe, Runtime


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(data.WORLD_EVAL, "train", 96)
    monkeypatch.setitem(data.WORLD_EVAL, "val", 48)
    monkeypatch.setitem(data.WORLD_EVAL, "test", 48)
    small = replace(rotation.RECIPE, image_size=16, num_images=64, epochs=1, batch_size=32)
    monkeypatch.setattr(rotation, "RECIPE", small)
    monkeypatch.setattr(rotation, "GPU_RECIPE", replace(small, epochs=2))
    monkeypatch.setattr(bench, "SUPERVISED", {t: Recipe(num_images=96, epochs=1, batch_size=32) for t in bench.TIERS})


@pytest.mark.parametrize("tier", ["cpu", "gpu"])
def test_a_bench_row_stores_every_seed_per_layer_beside_its_baselines(tiny, tmp_path, tier, capsys):
    out = tmp_path / "bench.json"
    bench.run_bench(["rotation"], out, Runtime(device="cpu"), seeds=[0, 1], tier=tier)
    results = json.loads(out.read_text())
    row = results["methods"]["rotation"]
    assert row["tier"] == tier and row["seeds"] == [0, 1] and row["recipe"]["epochs"] == (1 if tier == "cpu" else 2)
    tier_flag = " --tier gpu" if tier == "gpu" else ""
    assert row["command"] == f"python -m ssl_examples bench{tier_flag} --seeds 0 1 --methods rotation"
    assert row["cpu_capability"] == torch.backends.cpu.get_cpu_capability()  # the machine's kernels
    assert list(row["layers"]) == ["block1", "block2", "block3", "block4", "block5"]
    for p in ("linear", "knn"):
        best = row["best"][p]
        mean_val = {n: sum(r[p]["val"]) for n, r in row["layers"].items()}
        assert mean_val[best] == max(mean_val.values())  # chosen on validation ...
        assert row[p] == row["layers"][best][p]["test"]  # ... reported on test
        assert len(row[p]) == 2
    base = results["baselines"][row["baseline"]]
    assert row["baseline"] == "convnet-16px-3ch" and base["seeds"] == [0, 1]
    assert len(base["random_init"]["linear"]) == len(base["supervised"]["linear"]) == 2
    assert "rotation" in capsys.readouterr().out  # the table with intervals and gains was printed


def test_seeds_tiers_and_methods_are_checked_before_any_work(tmp_path):
    with pytest.raises(UserError, match="at least one seed"):
        bench.run_bench(["rotation"], tmp_path / "b.json", Runtime(device="cpu"), seeds=[])
    with pytest.raises(UserError, match="unknown tier"):
        bench.run_bench(["rotation"], tmp_path / "b.json", Runtime(device="cpu"), tier="tpu")
    with pytest.raises(UserError, match="unknown method"):
        bench.run_bench(["nope"], tmp_path / "b.json", Runtime(device="cpu"))
    assert not (tmp_path / "b.json").exists()


def test_without_seeds_the_cli_and_run_bench_take_the_three_default_ones(tmp_path, monkeypatch):
    from ssl_examples.__main__ import make_parser

    assert make_parser().parse_args(["bench"]).seeds is None  # so run_bench's SEEDS is the one default

    class Stop(Exception):
        pass

    def record(name, seeds, *args):
        raise Stop(seeds)

    monkeypatch.setattr(bench, "bench_method", record)
    with pytest.raises(Stop) as stopped:
        bench.run_bench(["rotation"], tmp_path / "b.json", Runtime(device="cpu"))
    assert stopped.value.args[0] == [0, 1, 2] == list(bench.SEEDS)


def test_a_recipe_that_cannot_train_fails_before_any_work(tmp_path, monkeypatch):
    from ssl_examples.methods import swav

    def no_work(*args, **kwargs):
        raise AssertionError("data loaded before the recipes were checked")

    monkeypatch.setattr(bench, "load_for_method", no_work)
    monkeypatch.setattr(swav, "GPU_RECIPE", replace(swav.GPU_RECIPE, local_size=40))
    with pytest.raises(UserError, match=r"local-size=40: must not exceed the image size \(32 px\)"):
        bench.run_bench(["rotation", "swav"], tmp_path / "b.json", Runtime(device="cpu"), tier="gpu")
    assert not (tmp_path / "b.json").exists()


def test_every_method_has_a_gpu_recipe_on_its_backbone():
    """The GPU tier trains a ResNet-18, or the small ViT for the ViT methods."""
    from ssl_examples.checks import check_recipe
    from ssl_examples.methods import BY_NAME, METHODS

    for name, module in METHODS.items():
        check_recipe(module.GPU_RECIPE, module)
        wanted = "vit-tiny-half" if BY_NAME[name].family == "vit" else "resnet18-cifar"
        assert module.GPU_RECIPE.backbone == wanted, name
        assert type(module.GPU_RECIPE) is type(module.RECIPE), name


def test_a_row_names_the_command_that_makes_it_again(tiny, tmp_path, capsys):
    """Fine-tuning and the seeds are part of a row, so its command must ask for them (MAE's and
    MoCo v3's rows are fine-tuned; a GPU session may afford one seed)."""
    out = tmp_path / "bench.json"
    bench.run_bench(["rotation"], out, Runtime(device="cpu"), seeds=[0], finetune_fractions=[1, 10])
    row = json.loads(out.read_text())["methods"]["rotation"]
    assert row["command"] == "python -m ssl_examples bench --seeds 0 --finetune 1 10 --methods rotation"
    assert set(row["finetune"]) == {"1", "10"} and len(row["finetune"]["10"]) == 1
    assert "rotation" in (out := capsys.readouterr().out) and "nan" not in out  # one seed: no interval


def test_a_method_can_ask_the_plain_bench_to_fine_tune_it(tiny, tmp_path, monkeypatch):
    """``BENCH_FINETUNE`` in a method's module: the plain command fine-tunes that method (so one
    ``bench`` makes every stored number); ``--finetune`` overrides it, and alone turns it off."""
    monkeypatch.setattr(rotation, "BENCH_FINETUNE", (10,), raising=False)
    out = tmp_path / "bench.json"
    bench.run_bench(["rotation"], out, Runtime(device="cpu"), seeds=[0])
    row = json.loads(out.read_text())["methods"]["rotation"]
    assert set(row["finetune"]) == {"10"} and row["command"].endswith("--finetune 10 --methods rotation")
    bench.run_bench(["rotation"], out, Runtime(device="cpu"), seeds=[0], finetune_fractions=[])
    row = json.loads(out.read_text())["methods"]["rotation"]
    assert "finetune" not in row and "--finetune" not in row["command"]


def test_a_run_stopped_in_its_second_row_keeps_the_first_and_resume_runs_the_rest(tiny, tmp_path, monkeypatch):
    """A whole bench takes hours: every finished row (and its baselines) is on disk before the
    next one starts, merged with the rows already there, so a stopped run loses only its last row;
    ``--resume`` then runs only the rows that are not there as this call would make them."""
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"methods": {"older": {"seeds": [7]}}, "baselines": {}}))
    real = bench.bench_method

    def second_fails(name, *args):
        if name == "jigsaw":
            raise KeyboardInterrupt
        return real(name, *args)

    monkeypatch.setattr(bench, "bench_method", second_fails)
    with pytest.raises(KeyboardInterrupt):
        bench.run_bench(["rotation", "jigsaw"], out, Runtime(device="cpu"), seeds=[0])
    results = json.loads(out.read_text())
    assert set(results["methods"]) == {"older", "rotation"}
    assert results["methods"]["rotation"]["baseline"] in results["baselines"]
    assert not list(tmp_path.glob("*.tmp"))  # written atomically

    # --resume runs only what is missing: the same call again starts with jigsaw ...
    started = []

    def record(name, *args):
        started.append(name)
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "bench_method", record)
    for kwargs in ({"seeds": [0]}, {"seeds": [0, 1]}, {"seeds": [0], "finetune_fractions": [10]}):
        with pytest.raises(KeyboardInterrupt):
            bench.run_bench(["rotation", "jigsaw"], out, Runtime(device="cpu"), resume=True, **kwargs)
    # ... but not if the stored row was made with other seeds or other fine-tuning,
    assert started == ["jigsaw", "rotation", "rotation"]
    # or with another recipe.
    monkeypatch.setattr(rotation, "RECIPE", replace(rotation.RECIPE, epochs=2))
    with pytest.raises(KeyboardInterrupt):
        bench.run_bench(["rotation"], out, Runtime(device="cpu"), seeds=[0], resume=True)
    assert started[-1] == "rotation" and len(started) == 4


def test_the_gpu_tier_script_keeps_going_past_a_failed_method_and_stops_at_its_budget(tmp_path):
    """benchmarks/gpu_tier.sh (one call of a lent GPU): a method that fails does not stop the
    loop, and a method that the budget no longer covers is not started. Seconds, on the CPU."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_tier.sh"
    env = {**os.environ, "TINY": "1", "PY": sys.executable, "OUT": str(tmp_path), "BUDGET": "31",
           "METHODS": "no_such_method rotation"}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    assert "unknown method 'no_such_method'" in done.stdout  # bench's one-line error, then on to the next
    assert lines[-3:] == ["rows written: none", "failed or cut off: no_such_method",
                          "not started (budget): rotation"], done.stdout
    assert (tmp_path / "gpu_tier.log").read_text().strip().splitlines()[-1] == lines[-1]
