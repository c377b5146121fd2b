"""The applications (ssl_examples/applications/): their pieces on known inputs, a training step
of each model, the command line's errors, the stored results and the page hook."""

import importlib.util
import json
import math
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mkdocs.exceptions import PluginError

from ssl_examples.__main__ import main
from ssl_examples.applications import APPLICATIONS, REGISTRY
from ssl_examples.applications.common import RotationAuxClassifier, override, small_backbone
from ssl_examples.applications.fewshot import (BASE_CLASSES, NOVEL_CLASSES, Episodes, ProtoNet, episode_accuracies,
                                               prototype_logits, sample_episode)
from ssl_examples.applications.jigen import JigsawAuxClassifier, jigsaw_classes, shuffle_tiles_in_image
from ssl_examples.applications.ood import auroc, msp_score, object_free, rotation_score
from ssl_examples.applications.robustness import CORRUPTIONS, corrupt
from ssl_examples.applications.ssgan import (Discriminator, Generator, discriminator_loss, frechet_distance,
                                             generator_loss)
from ssl_examples.applications.tables import headline, markdown_table, text_table
from ssl_examples.data.world import (CLASSES, MAIN, STYLES, render, render_layers, render_style, scenes_for, styled_split,
                                     world_split)
from ssl_examples.errors import UserError
from tests.conftest import loss_before_and_after

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world_images():
    images, _, labels = world_split("val", 48)
    return images, labels


# ---- robustness: corruptions ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruptions_keep_shape_and_dtype_and_grow_with_severity(name, world_images):
    images, _ = world_images
    distances = []
    for severity in (1, 2, 3):
        out = corrupt(images, name, severity, seed=0)
        assert out.shape == images.shape and out.dtype == torch.uint8
        assert torch.equal(out, corrupt(images, name, severity, seed=0))  # deterministic
        distances.append((out.float() - images.float()).square().mean().sqrt().item())
    assert 0 < distances[0] < distances[1] < distances[2], distances


def test_a_severity_outside_1_to_3_is_refused(world_images):
    with pytest.raises(ValueError, match="severity"):
        corrupt(world_images[0][:2], "blur", 4)


# ---- out-of-distribution scores and AUROC -----------------------------------------------------

def test_msp_score_on_known_logits():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [10.0, 0.0, 0.0, 0.0]])
    score = msp_score(logits)
    assert score[0].item() == pytest.approx(-0.25)
    assert score[1] < score[0]  # the confident image looks more normal


def test_rotation_score_on_known_logits():
    # Uniform class probabilities (KL to uniform = 0) and uniform rotation guesses (CE = log 4).
    score = rotation_score(torch.zeros(2, 5), torch.zeros(4, 2, 4))
    assert torch.allclose(score, torch.full((2,), math.log(4)))
    # Rotation head right about every rotation (row r of the (4, B, 4) logits favours r), and
    # a confident classifier: a much lower (more normal) score.
    right = 20 * torch.eye(4)[:, None, :].expand(4, 2, 4)
    confident = torch.tensor([[9.0, 0, 0, 0, 0]] * 2)
    low = rotation_score(confident, right)
    kl = math.log(1 / 5) - torch.log_softmax(confident[0], 0).mean().item()  # KL(U || p) by hand
    assert low[0].item() == pytest.approx(-kl, abs=1e-4)
    wrong = right.roll(1, dims=0)  # the head answers r - 1 for rotation r: high rotation loss
    assert (rotation_score(confident, wrong) > low + 10).all()


def test_auroc_on_known_inputs():
    assert auroc(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.5, 0.9])) == 1.0
    assert auroc(torch.tensor([0.5, 0.9]), torch.tensor([0.1, 0.2, 0.3])) == 0.0
    assert auroc(torch.ones(4), torch.ones(3)) == 0.5  # all ties
    # normal 1, 2, 3; anomalous 2, 4: pairs won 0.5 + 1 + 3 = 4.5 of 6
    assert auroc(torch.tensor([1.0, 2, 3]), torch.tensor([2.0, 4])) == pytest.approx(4.5 / 6)


def test_auroc_matches_counting_every_pair_with_ties():
    g = torch.Generator().manual_seed(0)
    normal = torch.randint(0, 10, (200,), generator=g).float()
    anomalous = torch.randint(3, 13, (150,), generator=g).float()
    above = (anomalous[:, None] > normal[None, :]).double().mean()
    tied = (anomalous[:, None] == normal[None, :]).double().mean()
    assert auroc(normal, anomalous) == pytest.approx((above + tied / 2).item(), abs=1e-12)


def test_object_free_backgrounds_have_no_object():
    scenes = scenes_for(6, seed=1, stream=3)
    images = object_free(6, "test")
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.uint8
    scenes.kind[:, MAIN] = -1
    scenes.kind[:, 3] = -1
    _, ids = render(scenes, 32)
    assert not ((ids == MAIN + 1) | (ids == 4)).any()


# ---- few-shot episodes ---------------------------------------------------------------------

def test_base_and_novel_classes_are_disjoint_and_cover_the_world():
    assert not set(BASE_CLASSES) & set(NOVEL_CLASSES)
    assert sorted(BASE_CLASSES + NOVEL_CLASSES) == list(range(len(CLASSES)))
    assert len(NOVEL_CLASSES) >= 5  # 5-way tests need five novel classes


def test_an_episode_counts_its_shots_and_queries(world_images):
    _, labels = world_images
    classes = labels.unique()[:6]
    idx, picked = sample_episode(labels, classes, way=3, shot=2, query=1, g=torch.Generator().manual_seed(0))
    assert idx.shape == (3, 3) and len(set(picked.tolist())) == 3 and set(picked.tolist()) <= set(classes.tolist())
    assert len(set(idx.flatten().tolist())) == 9  # no image twice
    for k in range(3):
        assert (labels[idx[k]] == picked[k]).all()
    with pytest.raises(ValueError, match="needs"):
        sample_episode(labels, classes, way=2, shot=40, query=40, g=torch.Generator())


def test_training_episodes_use_base_classes_only_support_first():
    images, _, labels = world_split("val", 200)
    base = torch.isin(labels, torch.tensor(BASE_CLASSES))
    episodes = Episodes(images[base], labels[base], BASE_CLASSES, way=4, shot=2, query=3, count=5, seed=1)
    item = episodes[0]
    assert len(episodes) == 5 and item["image"].shape == (4 * (2 + 3), 3, 32, 32)
    # the same draw by hand: support images class by class, then the queries class by class
    idx, picked = sample_episode(labels[base], BASE_CLASSES, 4, 2, 3, torch.Generator().manual_seed(1_000_003))
    assert set(picked.tolist()) <= set(BASE_CLASSES)
    assert torch.equal(item["image"][:8], images[base][idx[:, :2].flatten()])
    assert torch.equal(item["image"][8:], images[base][idx[:, 2:].flatten()])


def test_prototypes_classify_their_own_support():
    support = torch.tensor([[[0.0, 0.0], [0.0, 2.0]], [[5.0, 5.0], [7.0, 5.0]]])  # prototypes (0, 1), (6, 5)
    logits = prototype_logits(support, torch.tensor([[0.0, 1.0], [6.0, 5.0], [1.0, 1.0]]))
    assert logits.argmax(1).tolist() == [0, 1, 0]
    assert logits[0, 0].item() == pytest.approx(0.0) and logits[2, 0].item() == pytest.approx(-1.0)
    # 5-way test episodes on embeddings that separate the classes perfectly: every query right
    features = torch.arange(5).repeat_interleave(20)[:, None].float() * torch.ones(1, 3) * 10
    accs = episode_accuracies(features, torch.arange(5).repeat_interleave(20), tuple(range(5)), 1, 3, 7, seed=0)
    assert accs.shape == (7,) and (accs == 1).all()


# ---- styles -----------------------------------------------------------------------------------

def test_styles_draw_the_same_scene_differently():
    scenes = scenes_for(4, seed=3)
    views = {s: render_style(scenes, 32, s) for s in STYLES}
    assert torch.equal(views["photo"], render(scenes, 32)[0])  # the default images are untouched
    for a in STYLES:
        assert views[a].shape == (4, 3, 32, 32)
        for b in STYLES:
            if a < b:
                assert (views[a] - views[b]).abs().mean() > 0.05, (a, b)
    # Same scene, same places: two pixels away from every object of the photo, the sketch is
    # blank paper (but for the odd stroke past a sharp polygon tip, where the polygon's distance
    # function is not exact); on the objects' outlines it has ink.
    _, ids = render(scenes, 32)
    _, coverage = render_layers(scenes, 32)
    drawn = (coverage.amax(1) > 0.01).float()[:, None]
    near = torch.nn.functional.max_pool2d(drawn, 5, stride=1, padding=2)[:, 0] > 0
    paper = torch.tensor((0.97, 0.96, 0.92)).view(1, 3, 1, 1)
    off_paper = (views["sketch"] - paper).abs().amax(1)
    assert (off_paper[~near] < 0.02).float().mean() > 0.99
    outline = (ids > 0) & (torch.nn.functional.max_pool2d((ids == 0).float()[:, None], 3, 1, 1)[:, 0] > 0)
    assert (off_paper[outline] > 0.1).float().mean() > 0.5
    with pytest.raises(ValueError, match="style"):
        render_style(scenes, 32, "oil")


def test_styled_split_photo_is_the_world_split():
    images, labels = styled_split("test", 20, 32, "photo")
    expected, _, expected_labels = world_split("test", 20)
    assert torch.equal(images, expected) and torch.equal(labels, expected_labels)
    cartoon, cartoon_labels = styled_split("test", 20, 30, "cartoon", start=10)
    assert cartoon.shape == (20, 3, 30, 30) and cartoon.dtype == torch.uint8
    assert torch.equal(cartoon_labels[:10], world_split("test", 30)[2][10:20])


# ---- the self-supervised labels -------------------------------------------------------------

def test_the_rotation_head_learns_the_rotation_labels():
    """The head's targets are rotate_batch's labels: a model trained only on them (classifier
    weight off by zero labels) gets rotation accuracy far above chance on upright-biased images."""
    torch.manual_seed(0)
    images = torch.zeros(32, 3, 16, 16, dtype=torch.uint8)
    images[:, :, :6] = 230  # bright at the top: the rotation is obvious
    batch = {"image": images, "label": torch.zeros(32, dtype=torch.long)}
    model = RotationAuxClassifier(small_backbone(8), 2, rotation_weight=1.0)
    loss_before_and_after(model, lambda m: m(batch)[0], steps=20, lr=3e-3)
    torch.manual_seed(1)
    assert model(batch)[1]["rot_acc"] > 0.9


def test_jigsaw_labels_name_the_permutation():
    perms = jigsaw_classes(30)
    assert perms.shape == (31, 9) and torch.equal(perms[0], torch.arange(9))  # class 0: in order
    assert len({tuple(p) for p in perms.tolist()}) == 31
    x = torch.arange(2 * 3 * 30 * 30, dtype=torch.float32).view(2, 3, 30, 30)
    torch.manual_seed(0)
    ordered, labels = shuffle_tiles_in_image(x, perms, ordered_fraction=1.0)
    assert torch.equal(ordered, x) and (labels == 0).all()
    shuffled, labels = shuffle_tiles_in_image(x, perms, ordered_fraction=0.0)
    assert (labels > 0).all() and not torch.equal(shuffled, x)
    for i in range(2):  # position k holds tile perms[label][k]
        tiles = x[i].unfold(1, 10, 10).unfold(2, 10, 10).permute(1, 2, 0, 3, 4).reshape(9, 3, 10, 10)
        got = shuffled[i].unfold(1, 10, 10).unfold(2, 10, 10).permute(1, 2, 0, 3, 4).reshape(9, 3, 10, 10)
        assert torch.equal(got, tiles[perms[labels[i]]])


# ---- seeds ----------------------------------------------------------------------------------

def test_a_seed_fixes_the_model_whatever_ran_before():
    """A seed run alone trains the same network as in a longer run (so ``--seeds 1`` reproduces
    seed 1 of a stored table, and both variants of a seed start from the same weights)."""
    from dataclasses import replace

    from ssl_examples.applications.robustness import DEFAULTS, train_classifier

    tiny = replace(DEFAULTS, num_train=64, batch_size=32)
    first = train_classifier(tiny, 0.0, seed=3, device="cpu")
    torch.rand(1000)  # anything else drawing random numbers in between
    again = train_classifier(tiny, 0.0, seed=3, device="cpu")
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


# ---- a training step of every model lowers its loss -----------------------------------------

@pytest.fixture(scope="module")
def small_batch():
    images, _, labels = world_split("train", 32, 16)  # 16 px: the networks take any size, tests stay fast
    return {"image": images, "label": labels}


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_rotation_aux_classifier_training_lowers_its_loss(small_batch, weight):
    torch.manual_seed(0)
    model = RotationAuxClassifier(small_backbone(), len(CLASSES), weight)
    before, after = loss_before_and_after(model, lambda m: m(small_batch)[0], steps=10, lr=3e-3)
    assert after < 0.8 * before


def test_jigen_training_lowers_its_loss():
    images, labels = styled_split("train", 32, 15, "cartoon")
    torch.manual_seed(0)
    model = JigsawAuxClassifier(small_backbone(), len(CLASSES), jigsaw_weight=0.7)
    batch = {"image": images, "label": labels}
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=3e-3)
    assert after < 0.8 * before


def test_protonet_with_rotation_training_lowers_its_loss():
    images, _, labels = world_split("train", 200, 16)
    base = torch.isin(labels, torch.tensor(BASE_CLASSES))
    episodes = Episodes(images[base], labels[base], BASE_CLASSES, way=3, shot=2, query=2, count=1)
    batch = {"image": episodes[0]["image"][None]}
    torch.manual_seed(0)
    model = ProtoNet(small_backbone(), 3, 2, 2, rotation_weight=0.5)
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=3e-3)
    assert after < 0.8 * before


def test_gan_steps_lower_each_players_loss():
    torch.manual_seed(0)
    G, D = Generator(z_dim=16, width=8), Discriminator(width=8)
    real = world_split("train", 16)[0].float() / 127.5 - 1  # the GAN's 32 px images
    fake = G(torch.randn(16, 16)).detach()
    before, after = loss_before_and_after(D, lambda d: discriminator_loss(d, real, fake, beta=1.0), steps=10, lr=2e-3)
    assert after < 0.8 * before
    z = torch.randn(16, 16)
    G.eval()  # fixed BatchNorm statistics, so the loss is a function of the weights only
    before, after = loss_before_and_after(G, lambda g: generator_loss(D, g(z), alpha=0.2), steps=10, lr=2e-3)
    assert after < before


# ---- Fréchet distance ------------------------------------------------------------------------

def test_frechet_distance_on_known_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    assert frechet_distance(a, a + shift) == pytest.approx(5.0, abs=1e-8)  # |Δμ|², same covariance
    # N(0, I) against N(0, 4 I) in 3 dimensions: Tr(I + 4I - 2·2I) = 3
    b = 2 * torch.randn(4000, 3, generator=g, dtype=torch.float64)
    assert frechet_distance(a, b) == pytest.approx(3.0, abs=0.3)


def test_frechet_distance_matches_scipy_sqrtm():
    from scipy.linalg import sqrtm

    g = torch.Generator().manual_seed(1)
    a = torch.randn(300, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 5, generator=g, dtype=torch.float64)
    b = torch.randn(300, 5, generator=g, dtype=torch.float64) + 0.5
    ca, cb = torch.cov(a.T).numpy(), torch.cov(b.T).numpy()
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + (ca + cb - 2 * sqrtm(ca @ cb).real).trace()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


# ---- command line ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragment", [
    (["apply", "robustnes"], "unknown application 'robustnes'; choose one of robustness, ood"),
    (["apply", "robustness", "--severities", "0"], "severity 0 does not exist; use 1, 2 or 3"),
    (["apply", "robustness", "--severities", "2", "5"], "severity 5 does not exist"),
    (["apply", "fewshot", "--shots", "0"], "0 shots per class is not possible; use 1 to 20"),
    (["apply", "fewshot", "--shots", "1", "50"], "50 shots per class is not possible"),
    (["apply", "fewshot", "--shots", "five"], "invalid int value: 'five'"),
    (["apply", "ood", "--shots", "5"], "--shots is a setting of the fewshot application"),
    (["apply", "ood", "--severities", "1"], "--severities is a setting of the robustness application"),
    (["apply", "ood", "--set", "colour=red"], "no setting 'colour'"),
    (["apply", "ood", "--set", "epochs=many"], "'many' is not a valid int"),
    (["apply", "ssgan", "--select"], "nothing to select"),
    (["apply", "jigen", "--seeds", "1", "1"], "each seed once"),
])
def test_bad_application_arguments(argv, fragment, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and fragment in err[0], err[0]


def test_a_variation_is_not_stored_over_the_defaults(tmp_path, capsys, monkeypatch):
    from ssl_examples.applications import cli

    monkeypatch.setattr(cli, "REPO", tmp_path)  # where the default results file would go
    code = main(["apply", "ood", "--seeds", "0", "--set", "num_train=64", "--set", "num_eval=16",
                 "--set", "batch_size=32"])
    out = capsys.readouterr().out
    assert code == 0 and "not stored" in out and "AUROC" in out
    assert not (tmp_path / "docs").exists()
    code = main(["apply", "ood", "--seeds", "0", "--set", "num_train=64", "--set", "num_eval=16",
                 "--set", "batch_size=32", "--out", str(tmp_path / "ood.json")])
    stored = json.loads((tmp_path / "ood.json").read_text())["test"]
    assert code == 0 and stored["config"]["num_train"] == 64 and stored["seeds"] == [0]
    assert "--set num_train=64" in stored["command"]


def test_list_names_every_application(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for a in REGISTRY:
        assert f"  {a.name} " in out


def test_override_casts_each_field():
    config = override(APPLICATIONS["robustness"].DEFAULTS, ["epochs=3", "lr=0.01", "severities=1,3"])
    assert config.epochs == 3 and config.lr == 0.01 and config.severities == (1, 3)
    with pytest.raises(UserError):
        override(config, ["epochs"])


# ---- stored results, pages, figures, navigation ------------------------------------------------

@pytest.mark.parametrize("app", REGISTRY, ids=lambda a: a.name)
def test_every_application_has_its_module_page_figure_results_and_nav(app):
    from ssl_examples.figures import FIGURES

    module = APPLICATIONS[app.name]
    assert module.__doc__ and callable(module.run) and callable(module.select)
    assert (REPO / "docs" / app.page).is_file()
    assert app.figure in FIGURES
    assert f"applications/{app.name}.md" in (REPO / "mkdocs.yml").read_text()
    stored = json.loads((REPO / app.results).read_text())
    assert "test" in stored, f"run: python -m ssl_examples apply {app.name}"
    test = stored["test"]
    assert test["command"].startswith(f"python -m ssl_examples apply {app.name}") and len(test["seeds"]) >= 3
    # The test run used the stored defaults, and the defaults are what validation chose.
    defaults = {f.name: getattr(module.DEFAULTS, f.name) for f in fields(module.DEFAULTS)}
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in test["config"].items()} == defaults
    for key, value in stored.get("selection", {}).get("chosen", {}).items():
        assert defaults[key] == value, f"{app.name}: {key} is {defaults[key]}, validation chose {value}"
    assert " ± " in headline(app, test)  # the slides' number exists in the stored tables


TABLE = {"id": "t", "title": "A title.", "row_header": "rows", "columns": ["plain", "ssl"], "unit": "%",
         "scale": 100, "digits": 1, "gain": True,
         "rows": [{"label": "clean", "cells": [[0.5, 0.6, 0.7], [0.6, 0.7, 0.8]]},
                  {"label": "episodes", "cells": [{"mean": 0.3, "half": 0.01}, {"mean": 0.4, "half": 0.02}]}]}


def test_tables_show_mean_interval_and_paired_gain():
    md = markdown_table(TABLE)
    # mean 60.0, half width t(2) · s / √3 = 4.303 · 10 / √3 = 24.8; the paired gain is exactly +10
    assert "| clean | 60.0 ± 24.8 | 70.0 ± 24.8 | +10.0 ± 0.0 |" in md
    assert "| episodes | 30.0 ± 1.0 | 40.0 ± 2.0 | – |" in md
    assert md.endswith("*A title.*")
    assert "gain: ssl" in text_table(TABLE).splitlines()[1]


def test_headline_sentence():
    app = SimpleNamespace(headline=("t", "clean", 1))
    assert headline(app, {"tables": [TABLE]}) == (
        "clean: 70.0 ± 24.8 % with ssl against 60.0 ± 24.8 % with plain (paired gain +10.0 ± 0.0 points; "
        "mean ± 95 % interval over 3 seeds)")


def load_hook():
    spec = importlib.util.spec_from_file_location("applications_hook", REPO / "docs/hooks/applications.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def test_hook_renders_stored_tables_and_refuses_bad_markers(tmp_path):
    hook = load_hook()
    (tmp_path / "results" / "applications").mkdir(parents=True)
    part = {"command": "python -m ssl_examples apply ood", "updated": "2026-11-28 12:00 UTC", "cpu_seconds": 99.0,
            "wall_seconds": 250.0, "threads": 1, "machine": {"torch": "2.14.1", "processor": "x86_64"},
            "tables": [TABLE]}
    (tmp_path / "results" / "applications" / "ood.json").write_text(json.dumps({"test": part}))
    config = {"docs_dir": str(tmp_path)}
    page = SimpleNamespace(file=SimpleNamespace(src_path="applications/ood.md"))
    out = hook.on_page_markdown("a\n<!-- application:tables ood -->\nb", page, config, None)
    assert "| clean | 60.0 ± 24.8 |" in out and "99 s of CPU time with 1 thread" in out and "<!--" not in out
    assert "| clean |" in hook.on_page_markdown("<!-- application:table ood t -->", page, config, None)
    with pytest.raises(PluginError, match="no table 'auroc'"):  # the registry's headline is not in this fake
        hook.on_page_markdown("<!-- application:headline ood -->", page, config, None)
    assert "Not run yet" in hook.on_page_markdown("<!-- application:selection ood -->", page, config, None)
    assert "python -m ssl_examples apply jigen" in hook.on_page_markdown("<!-- application:tables jigen -->",
                                                                         page, config, None)
    for bad, message in [("<!-- application:table ood nope -->", "has no table"),
                         ("<!-- application:tables nope -->", "needs an application name"),
                         ("x\n<!-- application:chart ood -->", "applications/ood.md:2: unknown marker")]:
        with pytest.raises(PluginError, match=message):
            hook.on_page_markdown(bad, page, config, None)


def test_hook_leaves_markers_in_code_spans_alone():
    """A page that writes about a marker (contributing.md) shows it as code."""
    hook = load_hook()
    page = SimpleNamespace(file=SimpleNamespace(src_path="contributing.md"))
    text = "shows them with `<!-- application:tables NAME -->` and more"
    assert hook.on_page_markdown(text, page, {"docs_dir": "."}, None) == text
