import torch

from ssl_examples.methods.rotation import RECIPE, RotationPrediction, build, rotate_batch
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after


def test_rotating_back_by_the_label_recovers_the_input():
    x = torch.rand(5, 3, 8, 8)
    x4, labels = rotate_batch(x)
    assert x4.shape == (20, 3, 8, 8)
    assert labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    for i in range(20):
        back = torch.rot90(x4[i], -int(labels[i]), dims=(1, 2))
        assert torch.equal(back, x[i % 5])
    # The four copies really differ (a non-square pattern is not rotation invariant).
    assert not torch.equal(x4[0], x4[5])


def test_label_one_is_a_counter_clockwise_quarter_turn():
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 0, 2] = 1  # top-right corner
    x4, _ = rotate_batch(x)
    assert x4[1, 0, 0, 0] == 1  # counter-clockwise: top-right goes to top-left


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = build(RECIPE, None)
    batch = tiny_data.train.__getitems__(list(range(32)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=15, lr=1e-3)
    assert after < 0.7 * before
