import re
from dataclasses import replace

import pytest
import torch
from lightly.loss import SwaVLoss
from lightly.loss.swav_loss import sinkhorn as lightly_sinkhorn

from ssl_examples.checks import check_recipe
from ssl_examples.errors import UserError
from ssl_examples.methods import swav as swav_module  # the name swav is the tests' model maker
from ssl_examples.methods.swav import RECIPE, SwAV, sinkhorn, swapped_prediction_loss
from ssl_examples.nets import make_backbone

from .gloo import (assert_gradients_equal, multi_crop_views, one_of_two, one_process, plain_average_batchnorm,
                   run_processes)


def scores(n=12, k=5, views=4, seed=0):
    """Cosine-like scores in [-1, 1] of ``views`` views of n images against k prototypes."""
    g = torch.Generator().manual_seed(seed)
    return [torch.tanh(torch.randn(n, k, generator=g)) for _ in range(views)]


def test_sinkhorn_equals_lightlys_and_equipartitions_the_batch():
    s = scores(n=12, k=5)[0]
    q = sinkhorn(s, iterations=3, epsilon=0.05)
    assert torch.allclose(q, lightly_sinkhorn(s, iterations=3, epsilon=0.05), rtol=1e-6, atol=1e-6)
    assert torch.allclose(q.sum(1), torch.ones(12), atol=1e-5)  # each image: a distribution
    # 3 iterations already share the batch out far more evenly than a plain softmax would...
    softmax = torch.softmax(s / 0.05, dim=1)
    assert (q.sum(0) - 12 / 5).abs().sum() < 0.75 * (softmax.sum(0) - 12 / 5).abs().sum()
    # ...and many iterations reach the equipartition: 12 / 5 images a prototype.
    many = sinkhorn(s, iterations=200, epsilon=0.05)
    assert torch.allclose(many.sum(0), torch.full((5,), 12 / 5), atol=1e-3)


def loss_and_grads(fn, outputs):
    outputs = [o.clone().requires_grad_() for o in outputs]
    loss = fn(outputs)
    loss.backward()
    return [loss.detach().reshape(())] + [o.grad for o in outputs]


@pytest.mark.parametrize("num_local", [0, 2])
def test_loss_and_gradients_equal_lightlys(num_local):
    s = scores(views=2 + num_local)
    ours = loss_and_grads(lambda o: swapped_prediction_loss(o, 2, 0.1, 3, 0.05), s)
    theirs = loss_and_grads(lambda o: SwaVLoss(0.1, 3, 0.05)(o[:2], o[2:]), s)
    for o, t in zip(ours, theirs):
        assert torch.allclose(o, t, rtol=1e-6, atol=1e-6), (o - t).abs().max()


def swav(**changes):
    torch.manual_seed(0)
    kw = dict(proj_dim=8, hidden_dim=16, num_prototypes=6, temperature=0.1, sinkhorn_iterations=3, epsilon=0.05,
              freeze_prototypes=0.0, num_local=2, global_size=16, local_size=8, global_min_scale=0.3,
              local_min_scale=0.1, local_max_scale=0.3, strength=0.5)
    return SwAV(make_backbone("convnet"), **{**kw, **changes})


def test_prototypes_stay_unit_vectors_and_are_fixed_at_first(tiny_data):
    model = swav(freeze_prototypes=0.5)
    batch = tiny_data.train.__getitems__(list(range(16)))
    model(batch)[0].backward()
    assert model.prototypes.weight.grad.abs().max() == 0  # frozen: no change from the loss
    assert model.head[0].weight.grad.abs().max() > 0
    model.on_step(0.6)  # past the frozen part
    model.zero_grad()
    model(batch)[0].backward()
    assert model.prototypes.weight.grad.abs().max() > 0
    with torch.no_grad():
        model.prototypes.weight.mul_(3)
    model.on_step(0.7)
    assert torch.allclose(model.prototypes.weight.norm(dim=1), torch.ones(6))


def test_multi_crop_views_of_two_sizes_share_a_forward_per_size(tiny_data):
    model = swav()
    loss, metrics = model(tiny_data.train.__getitems__(list(range(16))))
    assert loss.ndim == 0 and torch.isfinite(loss) and 1 <= metrics["prototypes_used"] <= 6


def small_model():
    model = swav()
    # Running statistics from one batch (momentum None: their plain average), then evaluation
    # mode: an image's scores do not depend on which process holds the rest of the batch.
    plain_average_batchnorm(model)
    with torch.no_grad():
        model.scores(multi_crop_views(12))
    return model.eval()


def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(tmp_path):
    b = 6
    # multi_crop=True: SwAV takes its four views as one list.
    results = run_processes(one_of_two, (b, small_model, multi_crop_views, True), tmp_path)
    model, loss = one_process(small_model, multi_crop_views(2 * b), multi_crop=True)
    # Sinkhorn shares the *global* batch out: each process's codes are those of the big batch.
    assert abs(sum(r[0] for r in results) / 2 - loss) < 1e-4
    assert_gradients_equal(model.named_parameters(), results, atol=1e-5)
    # ...and not vacuous: Sinkhorn on each half alone gives other codes and another loss.
    halves = [model.loss_from_views([v[h] for v in multi_crop_views(2 * b)])[0].item()
              for h in (slice(0, b), slice(b, 2 * b))]
    assert abs(sum(halves) / 2 - loss) > 1e-3


def test_bad_recipe_values_are_one_line_errors_of_the_shared_checks():
    """Bad values fail in ``check_recipe``: the shared rules by name, then the module's ``check``."""
    check_recipe(RECIPE, swav_module)
    for bad, message in [(dict(temperature=-0.1), "temperature=-0.1: must be greater than 0"),
                         (dict(epsilon=0.0), "epsilon=0.0: must be greater than 0"),
                         (dict(local_size=40), "local-size=40: must not exceed the image size (32 px)"),
                         (dict(global_size=40), "global-size=40: must not exceed the image size (32 px)"),
                         (dict(global_min_scale=0.0), "global-min-scale=0.0: must be a fraction in (0, 1]"),
                         (dict(local_min_scale=0.5, local_max_scale=0.2),
                          "local-min-scale=0.5: must not exceed local-max-scale (0.2)"),
                         (dict(num_prototypes=1), "num-prototypes=1: must be at least 2"),
                         (dict(sinkhorn_iterations=0), "sinkhorn-iterations=0: must be a whole number of at least 1"),
                         (dict(num_local=-1), "num-local=-1: must be a whole number, 0 or more")]:
        with pytest.raises(UserError, match=re.escape(message)):
            check_recipe(replace(RECIPE, **bad), swav_module)


def test_a_bad_recipe_value_on_the_command_line_ends_in_one_line(tmp_path, capsys):
    from ssl_examples.__main__ import main

    code = main(["pretrain", "swav", "--set", "local_size=40", "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["error: local-size=40: must not exceed the image size (32 px)"]
