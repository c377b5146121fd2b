import torch

from ssl_examples.methods.context_prediction import (NEIGHBOUR_CELLS, OFFSETS, RECIPE, ContextPrediction, cut_grid,
                                                      drop_colour)
from ssl_examples.nets import make_backbone
from tests.conftest import from_recipe, loss_before_and_after


def test_each_label_names_where_the_neighbour_was_cut():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 32, 32)
    patches, corners = cut_grid(x, patch=7, gap=2, jitter=1)
    assert patches.shape == (6, 9, 3, 7, 7)
    for i in range(6):
        for k in range(9):  # every patch holds exactly the pixels at its corner
            r, c = corners[i, k].tolist()
            assert torch.equal(patches[i, k], x[i, :, r:r + 7, c:c + 7])
        centre = corners[i, 4]
        for label, cell in enumerate(NEIGHBOUR_CELLS):
            dr, dc = (corners[i, cell] - centre).tolist()
            # One cell (patch + gap = 9 px) away in the labelled direction, give or take the
            # jitter of both patches (1 px each).
            for d, o in ((dr, OFFSETS[label][0]), (dc, OFFSETS[label][1])):
                assert abs(d - 9 * o) <= 2


def test_labels_read_like_a_page():
    assert OFFSETS[0] == (-1, -1) and OFFSETS[1] == (-1, 0) and OFFSETS[3] == (0, -1)
    assert OFFSETS[4] == (0, 1) and OFFSETS[7] == (1, 1)


def test_the_grid_sits_at_a_random_place_in_each_image():
    """A neighbour's label must not also be its position in the image: where the top-left
    patch was cut varies over images by much more than the jitter."""
    torch.manual_seed(0)
    _, corners = cut_grid(torch.rand(256, 3, 32, 32), 7, 2, 1)  # the grid needs 27 of 32 px
    top_left = corners[:, 0]
    assert top_left.min() == 0 and top_left.max() >= 6  # origins 0..5, plus jitter 0..2
    assert len(top_left.unique(dim=0)) > 20
    # Every patch stays inside the image.
    assert corners.min() >= 0 and (corners + 7).max() <= 32


def test_a_grid_larger_than_the_image_is_refused():
    try:
        cut_grid(torch.rand(1, 3, 20, 20), 8, 3, 1)
    except ValueError:
        pass
    else:
        raise AssertionError("a grid larger than the image must be refused")


def test_colour_dropping_keeps_one_channel_and_replaces_the_others_by_faint_noise():
    torch.manual_seed(0)
    p = torch.rand(200, 3, 6, 6)
    out = drop_colour(p, 1.0)
    for i in range(200):
        kept = [c for c in range(3) if torch.equal(out[i, c], p[i, c])]
        assert len(kept) == 1
        others = [c for c in range(3) if c != kept[0]]
        noise = out[i, others]
        assert (noise - 0.5).abs().max() < 0.05 * p[i, kept[0]].std() + 1e-6  # about 1/100 of its spread
        assert noise.std() > 0  # noise, not a constant
    assert torch.equal(drop_colour(p, 0.0), p)


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = from_recipe(ContextPrediction, RECIPE, make_backbone("convnet"))
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.7 * before
