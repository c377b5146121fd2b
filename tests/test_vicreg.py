import re
from dataclasses import replace

import pytest
import torch
from lightly.loss import VICRegLoss

from ssl_examples.checks import check_recipe
from ssl_examples.errors import UserError
from ssl_examples.methods import vicreg
from ssl_examples.methods.vicreg import RECIPE, VICReg, covariance_term, variance_term, vicreg_loss
from ssl_examples.nets import make_backbone

from .gloo import assert_gradients_equal, one_of_two, one_process, plain_average_batchnorm, run_processes
from tests.conftest import loss_before_and_after


def embeddings(n=16, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g) * 0.7
    return a, a + 0.5 * torch.randn(n, d, generator=g)


def loss_and_grads(fn, a, b):
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    loss = fn(a, b)
    loss.backward()
    return loss.detach(), a.grad, b.grad


@pytest.mark.parametrize("coeffs", [(25.0, 25.0, 1.0), (1.0, 2.0, 3.0)])
def test_loss_and_gradients_equal_lightlys(coeffs):
    a, b = embeddings()
    ours = loss_and_grads(lambda x, y: vicreg_loss(x, y, *coeffs), a, b)
    theirs = loss_and_grads(VICRegLoss(*coeffs), a, b)
    for o, t in zip(ours, theirs):
        assert torch.allclose(o, t, rtol=1e-6, atol=1e-6), (o - t).abs().max()


def test_the_terms_read_collapse():
    constant = torch.ones(10, 4)
    assert abs(variance_term(constant).item() - (1 - 1e-2)) < 1e-6  # sqrt(0 + 1e-4) = 0.01
    assert covariance_term(constant).item() == 0
    g = torch.Generator().manual_seed(0)
    spread = torch.randn(4000, 4, generator=g) * 2  # std 2 > 1: the hinge is off
    assert variance_term(spread).item() == 0
    assert covariance_term(spread).item() < 0.05
    one_direction = torch.randn(4000, 1, generator=g).expand(-1, 4) * 2  # dimensional collapse
    assert variance_term(one_direction).item() == 0 and covariance_term(one_direction).item() > 30


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = VICReg(make_backbone("convnet"), proj_dim=32, hidden_dim=64, sim_coeff=25, std_coeff=25, cov_coeff=1,
                   strength=0.5, min_scale=0.2, view_size=16, solarize_p=0.2)
    batch = tiny_data.train.__getitems__(list(range(32)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.9 * before


def small_model():
    torch.manual_seed(0)
    # Evaluation mode: the network's BatchNorm uses running statistics, so an image's
    # embedding does not depend on which process holds the rest; what is compared is the loss.
    model = VICReg(make_backbone("convnet"), proj_dim=16, hidden_dim=32, sim_coeff=25, std_coeff=25, cov_coeff=1,
                   strength=0.5, min_scale=0.2, view_size=16, solarize_p=0.0)
    # Running statistics from one batch (momentum None: their plain average), so that the
    # evaluation-mode outputs vary between images about as much as in training.
    plain_average_batchnorm(model)
    with torch.no_grad():
        model.expander(model.backbone(torch.cat(views(12))))
    return model.eval()


def views(n):
    g = torch.Generator().manual_seed(3)
    colours = torch.rand(n, 3, 1, 1, generator=g)  # images that differ, views of one image alike
    return tuple((colours + 0.3 * torch.rand(n, 3, 16, 16, generator=g)).clamp(0, 1) for _ in range(2))


def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(tmp_path):
    b = 6
    results = run_processes(one_of_two, (b, small_model, views), tmp_path)
    model, loss = one_process(small_model, views(2 * b))
    # The invariance term is each process's own mean; DDP's mean of the two is the global one.
    assert abs(sum(r[0] for r in results) / 2 - loss) < 1e-4
    assert_gradients_equal(model.named_parameters(), results, atol=1e-5)
    # ...and not vacuous: each process's own batch of 6 gives another loss.
    assert abs(small_model().loss_from_views(*(v[:b] for v in views(2 * b)))[0].item() - loss) > 1e-3


def test_bad_recipe_values_are_one_line_errors_of_the_shared_checks():
    """Bad values fail in ``check_recipe``: the shared rules by name, then the module's ``check``."""
    check_recipe(RECIPE, vicreg)
    for bad, message in [(dict(std_coeff=-25.0), "std-coeff=-25.0: must be 0 or more"),
                         (dict(min_scale=1.5), "min-scale=1.5: must be a fraction in (0, 1]"),
                         (dict(proj_dim=1), "proj-dim=1: must be at least 2"),
                         (dict(view_size=48), "view-size=48: must not exceed the image size (32 px)")]:
        with pytest.raises(UserError, match=re.escape(message)):
            check_recipe(replace(RECIPE, **bad), vicreg)
