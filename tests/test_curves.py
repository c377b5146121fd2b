"""The kNN-during-training diagnostic: readings at the right steps, step 0 is the random init,
reading does not change the run, the stored file and the figure drawn from it."""

import json
from dataclasses import replace

import pytest
import torch

from ssl_examples import curves, data
from ssl_examples.methods import rotation
from ssl_examples.nets import make_backbone
from ssl_examples.train import Runtime, train


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(data.WORLD_EVAL, "train", 96)
    monkeypatch.setitem(data.WORLD_EVAL, "val", 48)
    monkeypatch.setitem(data.WORLD_EVAL, "test", 48)
    small = replace(rotation.RECIPE, image_size=16, num_images=64, epochs=2, batch_size=16)  # 8 steps
    monkeypatch.setattr(rotation, "RECIPE", small)
    return small


def test_readings_at_the_shares_of_the_run_and_step_0_is_the_random_init(tiny):
    curve, _ = curves.knn_curve(rotation, tiny, seed=3, fractions=(0.0, 0.5, 1.0))
    assert curve["steps"] == [0, 4, 8]
    assert list(curve["knn"]) == ["block1", "block2", "block3", "block4", "block5"]
    torch.manual_seed(3)
    d = data.load_for_method(rotation, tiny)
    torch.manual_seed(3)
    fresh = curves.knn_by_layer(make_backbone(tiny.backbone), d)
    assert {k: v[0] for k, v in curve["knn"].items()} == fresh
    assert any(v[0] != v[-1] for v in curve["knn"].values())  # training changed what kNN reads


@pytest.mark.parametrize("reading_draws", [False, True])
def test_reading_during_the_run_leaves_the_final_weights_unchanged(tiny, monkeypatch, reading_draws):
    if reading_draws:  # a reading that consumed random numbers must not shift the run's draws
        knn_by_layer = curves.knn_by_layer

        def drawing(backbone, d):
            torch.rand(10)
            return knn_by_layer(backbone, d)

        monkeypatch.setattr(curves, "knn_by_layer", drawing)
    _, read = curves.knn_curve(rotation, tiny, seed=5, fractions=(0.0, 0.25, 0.5, 1.0))
    torch.manual_seed(5)
    d = data.load_for_method(rotation, tiny)
    plain = rotation.build(tiny, d)
    train(plain, d.pretrain, tiny, Runtime(device="cpu", seed=5, progress=False))
    for a, b in zip(read.state_dict().values(), plain.state_dict().values()):
        assert torch.equal(a, b)


def test_a_model_s_own_step_hook_still_runs(tiny, monkeypatch):
    calls = []
    build = rotation.build

    def with_hook(recipe, d):
        model = build(recipe, d)
        model.on_step = calls.append
        return model

    monkeypatch.setattr(rotation, "build", with_hook)
    curves.knn_curve(rotation, tiny, seed=0, fractions=(0.0, 1.0))
    assert len(calls) == 8 and calls[-1] == 1.0


def test_the_command_stores_every_seed_and_the_figure_reads_it(tiny, tmp_path, monkeypatch):
    out = tmp_path / "curves.json"
    out.write_text(json.dumps({"methods": {"other": {"kept": True}}}))
    curves.main(["rotation", "--seeds", "0", "1", "--out", str(out)])
    stored = json.loads(out.read_text())["methods"]
    assert stored["other"] == {"kept": True}
    row = stored["rotation"]
    assert row["seeds"] == [0, 1] and row["steps"][0] == 0 and row["steps"][-1] == 8
    assert all(len(per_seed) == 2 and len(per_seed[0]) == len(row["steps"]) for per_seed in row["knn"].values())

    from ssl_examples.figures import results
    from ssl_examples.figures.results import best_layer_curve, knn_curve_figure
    steps, means, halves = best_layer_curve(row)
    best_at_0 = max(sum(v[i][0] for i in range(2)) / 2 for v in row["knn"].values())
    assert steps == row["steps"] and means[0] == pytest.approx(100 * best_at_0)
    del stored["other"]
    out.write_text(json.dumps({"methods": stored}))
    placeholders = []
    not_measured = results.not_measured
    monkeypatch.setattr(results, "not_measured", lambda *a: placeholders.append(a[-1]) or not_measured(*a))
    knn_curve_figure(tmp_path / "c.png", ("rotation",), curves=out)
    assert placeholders == [] and (tmp_path / "c.png").stat().st_size > 0  # drawn from the stored curves
    knn_curve_figure(tmp_path / "none.png", ("rotation",), curves=tmp_path / "missing.json")
    assert placeholders == ["python -m ssl_examples.curves rotation"]  # says how to make it


def test_an_unknown_method_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        curves.main(["nope", "--out", str(tmp_path / "c.json")])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert not (tmp_path / "c.json").exists()


def test_the_figure_draws_one_random_init_line_per_image_size(tmp_path, monkeypatch):
    """Methods read at different image sizes start from different random inits: each size gets
    its own line (an average of 32-px and 64-px step-0 readings would be neither)."""
    from ssl_examples.figures import results

    def row(size, start):
        return {"seeds": [0, 1], "steps": [0, 5, 10], "recipe": {"backbone": "convnet", "image_size": size},
                "knn": {"block5": [[start, 0.3, 0.4], [start, 0.3, 0.4]]}}
    out = tmp_path / "curves.json"
    out.write_text(json.dumps({"methods": {"rotation": row(32, 0.20), "jigsaw": row(64, 0.30),
                                           "context_prediction": row(32, 0.24)}}))
    figures = []
    monkeypatch.setattr(results, "save", lambda fig, path: figures.append(fig))
    results.knn_curve_figure(tmp_path / "c.png", ("rotation", "context_prediction", "jigsaw"), curves=out)
    lines = {line.get_label(): line.get_ydata()[0] for line in figures[0].axes[0].lines
             if line.get_label().startswith("random init")}
    assert lines == {"random init (step 0), 32 px": pytest.approx(22.0), "random init (step 0), 64 px": pytest.approx(30.0)}
