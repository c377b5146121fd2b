"""Figures are drawn by our code: the deck's are checked for legibility when they are saved."""

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from ssl_examples.figures import FIGURES, QUESTIONS
from ssl_examples.figures.common import MIN_LABEL_PX, deck_style, save_deck, smallest_text_px


def test_small_text_is_refused(tmp_path):
    with deck_style():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.set_title("readable")
        ax.text(0.5, 0.5, "too small for a projector", fontsize=7)
        assert smallest_text_px(fig) < MIN_LABEL_PX
        with pytest.raises(ValueError, match="under the 14 px"):
            save_deck(fig, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_too_wide_is_refused(tmp_path):
    with deck_style():
        fig, _ = plt.subplots(figsize=(12, 3))
        with pytest.raises(ValueError, match="wider than a slide"):
            save_deck(fig, tmp_path / "x.png")


def test_text_past_the_edge_is_refused(tmp_path):
    """A key written beside the axes must stay on the figure (the few-label chart's once ran off it)."""
    with deck_style():
        fig, ax = plt.subplots(figsize=(4, 3))
        fig.text(0.5, 0.5, "on the figure")
        fig.text(0.9, 0.5, "a name that runs past the right edge")
        with pytest.raises(ValueError, match="past the figure's edge: 'a name that runs"):
            save_deck(fig, tmp_path / "x.png", tight=False)
    assert not (tmp_path / "x.png").exists()


def test_a_single_label_fraction_is_not_a_curve():
    from ssl_examples.figures.evaluation import _few_label

    assert _few_label({"finetune": {"10": [0.2, 0.3]}}) is None  # MAE's and MoCo v3's rows: a point
    assert _few_label({"finetune": {"1": [0.2], "10": [0.4]}}) == {1.0: 0.2, 10.0: 0.4}


def test_question_and_answer_pair(tmp_path):
    """One method's pair: two PNGs of the same size, each recording its smallest label."""
    paths = [tmp_path / f"lecture-rotation-{part}.png" for part in "qa"]
    for path in paths:
        FIGURES[path.name](path)
    sizes = []
    for path in paths:
        with Image.open(path) as im:
            assert float(im.info["Min-label-px"]) >= MIN_LABEL_PX
            sizes.append(im.size)
    assert sizes[0] == sizes[1] and sizes[0][0] * 2 < 1100, "a pair sits side by side on one slide"


def test_every_method_has_a_question():
    for name in QUESTIONS:
        assert f"lecture-{name}-q.png" in FIGURES and f"lecture-{name}-a.png" in FIGURES


def _bench(tmp_path, per_seed: bool):
    """A small bench.json in the old (one number) or the current (per seed, per layer) format."""
    import json

    def acc(x):
        return [x - 0.01, x, x + 0.01] if per_seed else x

    def layers(a, b):
        return {"block1": {"linear": {"val": acc(a), "test": acc(a)}},
                "block2": {"linear": {"val": acc(b), "test": acc(b)}}} if per_seed else None

    rows = {name: {"baseline": "k", "linear": acc(lin), "knn": acc(lin - 0.1), "seconds": acc(30.0)}
            for name, lin in (("rotation", 0.45), ("simclr", 0.4), ("npid", 0.3))}
    if per_seed:
        for name, row in rows.items():
            row["layers"] = layers(0.3, value_of(row["linear"]))
            row["finetune"] = {"1": acc(0.3), "10": acc(0.5), "100": acc(0.7)}
    base = {"linear": acc(0.25), "knn": acc(0.2)}
    if per_seed:
        base["layers"] = layers(0.25, 0.25)
    results = {"methods": rows, "baselines": {"k": {"random_init": base, "supervised": {"linear": acc(0.8),
                                                                                        "knn": acc(0.8)}}}}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(results))
    return path


def value_of(x):
    return sum(x) / len(x) if isinstance(x, list) else x


@pytest.mark.parametrize("per_seed", [False, True], ids=["one-number", "per-seed"])
def test_benchmark_charts_read_both_formats(tmp_path, per_seed):
    from ssl_examples.figures.evaluation import few_label_figure, gain_figure, gains, layers_figure, load_bench

    bench = _bench(tmp_path, per_seed)
    assert gains(load_bench(bench), "linear")["rotation"] == pytest.approx(20.0)
    for draw in (gain_figure, layers_figure, few_label_figure):
        out = tmp_path / f"{draw.__name__}.png"
        draw(out, bench=bench)
        with Image.open(out) as im:
            assert float(im.info["Min-label-px"]) >= MIN_LABEL_PX


def test_figures_are_drawn_on_one_thread_and_the_count_is_restored(tmp_path, monkeypatch):
    """Figures that train a network must not spin two OpenMP threads on a busy 2-core machine."""
    import torch

    import ssl_examples.figures as figures

    seen = []
    monkeypatch.setitem(figures.FIGURES, "probe.png", lambda path: seen.append(torch.get_num_threads()))
    torch.set_num_threads(2)
    figures.make_figures(tmp_path, ["probe.png"])
    assert seen == [1]
    assert torch.get_num_threads() == 2


def test_the_per_stage_chart_tells_its_baselines_apart(tmp_path, monkeypatch):
    """Each random init its own dash and name, and a method on another baseline than most names
    it: three identical grey lines once left the reader to guess which one jigsaw's was."""
    import json

    from ssl_examples.figures import evaluation

    def layers(a):
        return {f"block{i}": {"linear": {"val": [a + i / 100] * 3, "test": [a + i / 100] * 3}} for i in (1, 2, 3)}

    rows = {name: {"baseline": key, "layers": layers(a), "linear": [a] * 3, "knn": [a] * 3}
            for name, key, a in (("rotation", "convnet-32px-3ch", 0.5), ("simclr", "convnet-32px-3ch", 0.4),
                                 ("jigsaw", "convnet-64px-3ch", 0.45))}
    base = {k: {"random_init": {"layers": layers(0.3), "linear": [0.3] * 3, "knn": [0.2] * 3}}
            for k in ("convnet-32px-3ch", "convnet-64px-3ch")}
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"methods": rows, "baselines": base}))
    drawn = {}
    monkeypatch.setattr(evaluation, "save_deck", lambda fig, path, **kw: drawn.update(fig=fig))
    evaluation.layers_figure(tmp_path / "x.png", bench)
    lines = {line.get_label(): line for line in drawn["fig"].axes[0].get_lines()}
    dashes = {lines[f"random init, ConvNet, {s} px"].get_linestyle() for s in (32, 64)}
    assert len(dashes) == 2  # two baselines, two dashes
    assert "Jigsaw puzzles (ConvNet, 64 px)" in lines and "Rotation" in lines  # the odd one names its own
    colours = [line.get_color() for name, line in lines.items() if not name.startswith("random")]
    assert len(set(colours)) == len(colours) == 3 and "tab:gray" not in colours  # grey is the baselines'
    plt.close(drawn["fig"])
