import re
from dataclasses import replace

import pytest
import torch
from lightly.loss import NegativeCosineSimilarity

from ssl_examples.checks import check_recipe
from ssl_examples.errors import UserError
from ssl_examples.methods import simsiam
from ssl_examples.methods.simsiam import RECIPE, SimSiam, negative_cosine, output_spread
from ssl_examples.nets import make_backbone

from tests.conftest import loss_before_and_after


def test_negative_cosine_and_its_gradients_equal_lightlys():
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(12, 7, generator=g), torch.randn(12, 7, generator=g)
    results = []
    for fn in (negative_cosine, NegativeCosineSimilarity()):
        pp, zz = p.clone().requires_grad_(), z.clone().requires_grad_()
        loss = fn(pp, zz)
        loss.backward()
        results.append((loss.detach(), pp.grad, zz.grad))
    for o, t in zip(*results):
        assert torch.allclose(o, t, rtol=1e-6, atol=1e-6), (o - t).abs().max()
    assert negative_cosine(p, 3 * p).item() == pytest.approx(-1.0)  # the minimum


def test_output_spread_reads_collapse():
    d = 64
    g = torch.Generator().manual_seed(0)
    spread = torch.randn(5000, d, generator=g)  # directions uniform on the sphere
    assert output_spread(spread).item() * d ** 0.5 == pytest.approx(1.0, abs=0.02)
    collapsed = torch.randn(1, d, generator=g).expand(5000, d) + 1e-3 * spread
    assert output_spread(collapsed).item() * d ** 0.5 < 0.01


def small(stop_gradient):
    torch.manual_seed(0)
    return SimSiam(make_backbone("convnet"), proj_dim=16, hidden_dim=32, pred_dim=4, stop_gradient=stop_gradient,
                   strength=0.5, min_scale=0.2, view_size=16, fix_pred_lr=False)


def test_the_stop_gradient_cuts_the_target_branch():
    torch.manual_seed(1)
    v1, v2 = torch.rand(8, 3, 16, 16), torch.rand(8, 3, 16, 16)
    grads = {}
    for sg in (True, False):
        model = small(sg)
        loss, _ = model.loss_from_views(v1, v2)
        loss.backward()
        grads[sg] = model.projector[0].weight.grad.clone()
    # The projector gets gradients either way (through the predictor's side), but not the same:
    # with the stop-gradient, the target side contributes nothing.
    assert grads[True].abs().sum() > 0 and not torch.allclose(grads[True], grads[False])
    model = small(True)
    z1, z2 = model.projector(model.backbone(torch.cat([v1, v2]))).chunk(2)
    manual = 0.5 * negative_cosine(model.predictor(z1), z2.detach()) + 0.5 * negative_cosine(model.predictor(z2),
                                                                                             z1.detach())
    manual.backward()
    assert torch.allclose(model.projector[0].weight.grad, grads[True], atol=1e-7)


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = SimSiam(make_backbone("convnet"), proj_dim=32, hidden_dim=64, pred_dim=8, stop_gradient=True,
                    strength=0.5, min_scale=0.2, view_size=16, fix_pred_lr=False)
    batch = tiny_data.train.__getitems__(list(range(32)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < before - 0.05  # the loss is a cosine in [-1, 1]; it starts near 0


@pytest.mark.parametrize("fix_pred_lr", [True, False])
def test_fix_pred_lr_gives_the_predictor_and_only_it_a_constant_rate(fix_pred_lr):
    """The paper's option: h's learning rate is not decayed. The training loop keeps groups
    marked ``constant_lr`` at the base rate (tested in test_train)."""
    from ssl_examples.train import make_optimizer

    model = simsiam.build(replace(RECIPE, fix_pred_lr=fix_pred_lr), None)
    groups = make_optimizer(model, RECIPE).param_groups
    constant = {id(p) for g in groups if g.get("constant_lr") for p in g["params"]}
    expected = {id(p) for p in model.predictor.parameters()} if fix_pred_lr else set()
    assert constant == expected
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_bad_recipe_values_are_one_line_errors_of_the_shared_checks():
    """Bad values fail in ``check_recipe``: the shared rules by name, then the module's ``check``."""
    check_recipe(RECIPE, simsiam)
    for bad, message in [(dict(pred_dim=0), "pred-dim=0: must be a whole number of at least 1"),
                         (dict(min_scale=2.0), "min-scale=2.0: must be a fraction in (0, 1]"),
                         (dict(view_size=48), "view-size=48: must not exceed the image size (32 px)")]:
        with pytest.raises(UserError, match=re.escape(message)):
            check_recipe(replace(RECIPE, **bad), simsiam)
