import re
from dataclasses import replace

import pytest
import torch
from lightly.loss import BarlowTwinsLoss

from ssl_examples.checks import check_recipe
from ssl_examples.errors import UserError
from ssl_examples.methods import barlow_twins
from ssl_examples.methods.barlow_twins import RECIPE, BarlowTwins, barlow_twins_loss
from ssl_examples.nets import make_backbone

from .gloo import assert_gradients_equal, one_of_two, one_process, run_processes
from tests.conftest import loss_before_and_after


def embeddings(n=16, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g)
    return a, a + 0.5 * torch.randn(n, d, generator=g)  # correlated views


def loss_and_grads(fn, a, b):
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    loss = fn(a, b)
    loss.backward()
    return loss.detach(), a.grad, b.grad


@pytest.mark.parametrize("lambd", [5e-3, 0.1, 1.0])
def test_loss_and_gradients_equal_lightlys(lambd):
    a, b = embeddings()
    ours = loss_and_grads(lambda x, y: barlow_twins_loss(x, y, lambd), a, b)
    theirs = loss_and_grads(BarlowTwinsLoss(lambda_param=lambd), a, b)
    for o, t in zip(ours, theirs):
        assert torch.allclose(o, t, rtol=1e-6, atol=1e-6), (o - t).abs().max()


def test_identical_decorrelated_views_give_zero_and_a_constant_gives_d():
    # Columns of a Hadamard matrix: mean 0, variance 1, uncorrelated; C is the identity.
    h = torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])[:, 1:]
    assert barlow_twins_loss(h, h, 1.0).item() < 1e-4
    constant = torch.ones(8, 5)  # collapse: nothing correlates, every diagonal term costs 1
    assert abs(barlow_twins_loss(constant, constant, 1.0).item() - 5) < 1e-4


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = BarlowTwins(make_backbone("convnet"), proj_dim=32, hidden_dim=64, lambd=1 / 32, strength=0.5,
                        min_scale=0.2, view_size=16, solarize_p=0.2)
    batch = tiny_data.train.__getitems__(list(range(32)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.9 * before


def small_model():
    torch.manual_seed(0)
    # Evaluation mode: BatchNorm in the network uses running statistics, so an image's
    # embedding does not depend on which process holds the rest; what is compared is the loss.
    return BarlowTwins(make_backbone("convnet"), proj_dim=16, hidden_dim=32, lambd=0.05, strength=0.5,
                       min_scale=0.2, view_size=16, solarize_p=0.0).eval()


def views(n):
    g = torch.Generator().manual_seed(3)
    return torch.rand(n, 3, 16, 16, generator=g), torch.rand(n, 3, 16, 16, generator=g)


def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(tmp_path):
    b = 6
    results = run_processes(one_of_two, (b, small_model, views), tmp_path)
    model, loss = one_process(small_model, views(2 * b))
    # Both processes computed the global batch's cross-correlation: the same loss.
    assert abs(results[0][0] - loss) < 1e-4 and abs(results[1][0] - loss) < 1e-4
    # atol 1e-5: the projector's last bias has a zero gradient up to rounding (standardising removes it).
    assert_gradients_equal(model.named_parameters(), results, atol=1e-5)
    # ...and not vacuous: each process's own batch of 6 gives another loss.
    assert abs(small_model().loss_from_views(*(v[:b] for v in views(2 * b)))[0].item() - loss) > 1e-3


def test_bad_recipe_values_are_one_line_errors_of_the_shared_checks():
    """Bad values fail in ``check_recipe``: the shared rules by name, then the module's ``check``."""
    check_recipe(RECIPE, barlow_twins)
    for bad, message in [(dict(lambd=-1.0), "lambd=-1.0: must be 0 or more"),
                         (dict(min_scale=0.0), "min-scale=0.0: must be a fraction in (0, 1]"),
                         (dict(hidden_dim=0), "hidden-dim=0: must be a whole number of at least 1"),
                         (dict(view_size=48), "view-size=48: must not exceed the image size (32 px)")]:
        with pytest.raises(UserError, match=re.escape(message)):
            check_recipe(replace(RECIPE, **bad), barlow_twins)
