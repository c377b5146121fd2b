import math

import pytest
import torch

from ssl_examples.methods.simclr import RECIPE, SimCLR, nt_xent_loss
from ssl_examples.nets import make_backbone

from .gloo import assert_gradients_equal, one_of_two, one_process, run_processes
from tests.conftest import from_recipe, loss_before_and_after


def naive_nt_xent(z1, z2, t):
    """The SimCLR paper's loss, written as loops over the 2N views."""
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        twin = (i + n2 // 2) % n2
        denominator = sum(math.exp(float(z[i] @ z[j]) / t) for j in range(n2) if j != i)
        total += -math.log(math.exp(float(z[i] @ z[twin]) / t) / denominator)
    return total / n2


def test_nt_xent_equals_the_double_loop():
    g = torch.Generator().manual_seed(0)
    for t in (0.1, 0.5, 1.0):
        z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
        assert abs(nt_xent_loss(z1, z2, t).item() - naive_nt_xent(z1, z2, t)) < 1e-4


def test_identical_views_far_from_others_give_a_small_loss():
    z = torch.eye(8) * 5
    assert nt_xent_loss(z, z, 0.1).item() < 1e-3
    assert nt_xent_loss(z, z.roll(1, 0), 0.1).item() > 5  # twins swapped: large loss


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = from_recipe(SimCLR, RECIPE, make_backbone("convnet"))
    batch = tiny_data.train.__getitems__(list(range(32)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.9 * before


def small_model():
    torch.manual_seed(0)
    # Evaluation mode: BatchNorm uses its running statistics, so each view's embedding does
    # not depend on which process holds the others; what is compared is the gather + loss.
    return from_recipe(SimCLR, RECIPE, make_backbone("convnet"), temperature=0.5, hidden_dim=32, proj_dim=16).eval()


def views(n):
    g = torch.Generator().manual_seed(3)
    return torch.rand(n, 3, 16, 16, generator=g), torch.rand(n, 3, 16, 16, generator=g)


def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(tmp_path):
    b = 4
    results = run_processes(one_of_two, (b, small_model, views), tmp_path)
    model, loss = one_process(small_model, views(2 * b))
    # Each process averages over its own anchors; DDP's mean of the two is the global mean.
    assert abs(sum(r[0] for r in results) / 2 - loss) < 1e-5
    assert_gradients_equal(model.named_parameters(), results, atol=1e-6)
    assert any(p.grad.abs().sum() > 0 for p in model.backbone.parameters())


def test_set_overrides_a_recipe_field_with_its_type_and_rejects_unknown_ones():
    from ssl_examples.__main__ import recipe_settings
    from ssl_examples.errors import UserError
    from ssl_examples.methods.simclr import RECIPE

    assert recipe_settings(RECIPE, ["temperature=0.1", "hidden_dim=64"]) == {"temperature": 0.1, "hidden_dim": 64}
    with pytest.raises(UserError, match="no setting 'queue_size'"):
        recipe_settings(RECIPE, ["queue_size=5"])
    with pytest.raises(UserError, match="not a valid int"):
        recipe_settings(RECIPE, ["hidden_dim=lots"])
