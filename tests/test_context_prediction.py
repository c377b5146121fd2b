import torch

from ssl_examples.methods.context_prediction import (NEIGHBOUR_CELLS, OFFSETS, ContextPrediction, cut_grid,
                                                      drop_colour)
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after


def test_each_label_names_where_the_neighbour_was_cut():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 32, 32)
    patches, corners = cut_grid(x, patch=8, gap=3, jitter=1)
    assert patches.shape == (6, 9, 3, 8, 8)
    for i in range(6):
        for k in range(9):  # every patch holds exactly the pixels at its corner
            r, c = corners[i, k].tolist()
            assert torch.equal(patches[i, k], x[i, :, r:r + 8, c:c + 8])
        centre = corners[i, 4]
        for label, cell in enumerate(NEIGHBOUR_CELLS):
            dr, dc = (corners[i, cell] - centre).tolist()
            # One cell (patch + gap = 11 px) away in the labelled direction, give or take the
            # jitter of both patches (1 px each).
            for d, o in ((dr, OFFSETS[label][0]), (dc, OFFSETS[label][1])):
                assert abs(d - 11 * o) <= 2

def test_labels_read_like_a_page():
    assert OFFSETS[0] == (-1, -1) and OFFSETS[1] == (-1, 0) and OFFSETS[3] == (0, -1)
    assert OFFSETS[4] == (0, 1) and OFFSETS[7] == (1, 1)


def test_jitter_moves_patches_and_the_grid_must_fit():
    torch.manual_seed(0)
    _, corners = cut_grid(torch.rand(64, 3, 32, 32), 8, 3, 1)
    assert len(corners[:, 4].unique(dim=0)) > 1
    try:
        cut_grid(torch.rand(1, 3, 20, 20), 8, 3, 1)
    except ValueError:
        pass
    else:
        raise AssertionError("a grid larger than the image must be refused")


def test_colour_dropping_keeps_one_channel():
    torch.manual_seed(0)
    p = torch.rand(200, 3, 4, 4)
    out = drop_colour(p, 1.0)
    for i in range(200):
        assert any(torch.equal(out[i, 0], p[i, c]) for c in range(3))
        assert torch.equal(out[i, 0], out[i, 1]) and torch.equal(out[i, 1], out[i, 2])
    assert torch.equal(drop_colour(p, 0.0), p)


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = ContextPrediction(make_backbone("convnet"))
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.7 * before
