import re
from dataclasses import replace

import pytest
import torch
from lightly.loss import NegativeCosineSimilarity

from ssl_examples.checks import check_recipe
from ssl_examples.data import TensorImages
from ssl_examples.ema import cosine_momentum
from ssl_examples.errors import UserError
from ssl_examples.figures.collapse import byol_pair, spread_during_training
from ssl_examples.methods import byol
from ssl_examples.methods.byol import BYOL, RECIPE, normalized_mse
from ssl_examples.nets import make_backbone
from ssl_examples.train import Recipe, Runtime, train

from tests.conftest import loss_before_and_after


def test_loss_is_the_papers_normalised_mse_and_lightlys_cosine_up_to_its_constants():
    g = torch.Generator().manual_seed(0)
    q, z = torch.randn(10, 6, generator=g), torch.randn(10, 6, generator=g)
    paper = ((q / q.norm(dim=1, keepdim=True) - z / z.norm(dim=1, keepdim=True)) ** 2).sum(1).mean()
    assert torch.allclose(normalized_mse(q, z), paper, atol=1e-6)
    # BYOL's loss is 2 - 2 cos; lightly's NegativeCosineSimilarity is -cos: ours = 2 + 2 * theirs,
    # and so are the gradients (times 2). A constant that legitimately differs.
    grads = []
    for fn in (normalized_mse, NegativeCosineSimilarity()):
        qq = q.clone().requires_grad_()
        loss = fn(qq, z)
        loss.backward()
        grads.append((loss.detach(), qq.grad))
    assert torch.allclose(grads[0][0], 2 + 2 * grads[1][0], atol=1e-6)
    assert torch.allclose(grads[0][1], 2 * grads[1][1], atol=1e-6)


def test_the_target_follows_the_online_network_on_the_cosine_schedule():
    torch.manual_seed(0)
    model = BYOL(make_backbone("convnet"), tau_base=0.9, proj_dim=8, hidden_dim=16, predictor=True, strength=0.5,
                 min_scale=0.2, view_size=16, solarize_p=0.2)
    with torch.no_grad():
        for p in model.projector.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.target_projector.parameters()]
    model.on_step(0.25)
    tau = cosine_momentum(0.9, 0.25)
    assert 0.9 < tau < 1
    for b, t, o in zip(before, model.target_projector.parameters(), model.projector.parameters()):
        assert torch.allclose(t, tau * b + (1 - tau) * o, atol=1e-6)
    frozen = [p.clone() for p in model.target_projector.parameters()]
    model.on_step(1.0)  # tau = 1 at the end: the target stops moving
    assert all(torch.equal(a, b) for a, b in zip(frozen, model.target_projector.parameters()))
    assert not any(p.requires_grad for p in model.target_backbone.parameters())


def test_the_training_loop_updates_the_target_every_step(tmp_path):
    g = torch.Generator().manual_seed(0)
    data = TensorImages(torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8, generator=g),
                        torch.zeros(32, dtype=torch.long))
    torch.manual_seed(0)
    model = BYOL(make_backbone("convnet"), tau_base=0.5, proj_dim=8, hidden_dim=16, predictor=True, strength=0.5,
                 min_scale=0.2, view_size=16, solarize_p=0.2)
    start = model.target_backbone.features[0][0].weight.clone()
    train(model, data, Recipe(epochs=1, batch_size=8, lr=1e-3, warmup_epochs=0), Runtime(device="cpu", progress=False))
    moved = model.target_backbone.features[0][0].weight
    assert not torch.equal(moved, start)
    assert not torch.equal(moved, model.backbone.features[0][0].weight)  # an average, not a copy


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = BYOL(make_backbone("convnet"), tau_base=0.99, proj_dim=32, hidden_dim=64, predictor=True, strength=0.5,
                 min_scale=0.2, view_size=16, solarize_p=0.2)
    batch = tiny_data.train.__getitems__(list(range(32)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.9 * before


def test_without_its_predictor_byol_collapses_on_the_world_and_with_it_does_not():
    """The spread of the L2-normalised outputs (per-dimension std, times sqrt(d)): about 1
    when they cover the sphere, 0 when every image gets the same vector."""
    from ssl_examples.data.world import world_split

    images = world_split("train", 1024, 16)[0]
    d, steps = 64, 150
    final = {}
    for predictor in (True, False):
        losses, spreads = spread_during_training(byol_pair(predictor, proj_dim=d), images, steps)
        final[predictor] = sum(spreads[-10:]) / 10 * d ** 0.5
    assert final[False] < 0.25, final  # collapsed: the outputs shrink to one direction
    assert final[True] > 0.5, final  # the predictor keeps them spread, near 1/sqrt(d) per dimension


def test_bad_recipe_values_are_one_line_errors_of_the_shared_checks():
    """Bad values fail in ``check_recipe``: the shared rules by name, then the module's ``check``."""
    check_recipe(RECIPE, byol)
    for bad, message in [(dict(tau_base=1.5), "tau-base=1.5: must be a probability between 0 and 1"),
                         (dict(min_scale=-0.1), "min-scale=-0.1: must be a fraction in (0, 1]"),
                         (dict(proj_dim=0), "proj-dim=0: must be a whole number of at least 1"),
                         (dict(view_size=48), "view-size=48: must not exceed the image size (32 px)")]:
        with pytest.raises(UserError, match=re.escape(message)):
            check_recipe(replace(RECIPE, **bad), byol)
