import pytest
import itertools

import torch

from ssl_examples.methods.order_prediction import (ORDERS, RECIPE, OrderPrediction, jitter_and_split, order_classes,
                                                   order_label, shuffle_frames)
from ssl_examples.nets import make_backbone
from tests.conftest import from_recipe, loss_before_and_after




def test_twelve_classes_and_reversal_shares_a_class():
    assert len(order_classes()) == 12
    labels = {p: order_label(p) for p in itertools.permutations(range(4))}
    assert sorted(set(labels.values())) == list(range(12))
    for p, label in labels.items():
        assert labels[p[::-1]] == label
    assert sum(1 for v in labels.values() if v == 0) == 2  # each class: one order and its reverse


def test_labels_match_the_permutation_applied():
    torch.manual_seed(0)
    video = (10 * torch.arange(16)).view(1, 16, 1, 1, 1).expand(200, 16, 3, 4, 4).to(torch.uint8).clone()
    frames, labels, shown = shuffle_frames(video)
    read = frames[:, :, 0, 0, 0].long() // 10
    assert torch.equal(read, shown)
    for row, label in zip(read.tolist(), labels.tolist()):
        perm = tuple(sorted(row).index(v) for v in row)  # the order of the shown frames
        assert order_label(perm) == label
        assert tuple(ORDERS[label].tolist()) in (perm, perm[::-1])
    assert len(set(labels.tolist())) == 12


def test_jitter_and_channel_split():
    torch.manual_seed(0)
    x = torch.rand(4, 4, 3, 16, 16)
    out = jitter_and_split(x, 0.1)
    assert out.shape == x.shape
    assert torch.equal(out[:, :, 0], out[:, :, 1]) and torch.equal(out[:, :, 1], out[:, :, 2])
    # Each frame got its own crop: the four frames of a constant-over-time tuple differ.
    same = x[:, :1].expand_as(x)
    jittered = jitter_and_split(torch.cat([same[..., :1, :, :]] * 3, 2), 0.1)
    assert (jittered[:, 0] - jittered[:, 1]).abs().mean() > 1e-3


def test_without_channel_split_frames_keep_their_colour_and_their_jitter():
    torch.manual_seed(0)
    x = torch.rand(4, 4, 3, 16, 16)
    out = jitter_and_split(x, 0.1, split=False)
    assert out.shape == x.shape
    assert not torch.equal(out[:, :, 0], out[:, :, 1])  # three different channels
    same = x[:, :1].expand_as(x)
    jittered = jitter_and_split(same, 0.1, split=False)
    assert (jittered[:, 0] - jittered[:, 1]).abs().mean() > 1e-3


def test_a_training_step_lowers_the_loss():
    torch.manual_seed(0)
    video = (torch.rand(8, 16, 3, 16, 16).cumsum(1) / 16 * 255).to(torch.uint8)
    model = from_recipe(OrderPrediction, RECIPE, make_backbone("convnet"))
    before, after = loss_before_and_after(model, lambda m: m({"video": video, "index": torch.arange(8)})[0], steps=8, lr=1e-3)
    assert after < 0.7 * before
