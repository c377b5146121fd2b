import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab

from ssl_examples.color import lab_to_rgb, rgb_to_lab
from ssl_examples.methods.colorization import (Colorization, ab_bins, annealed_mean, nearest_bin,
                                               rebalancing_weights, soft_encode)
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after


def test_lab_matches_scikit_image_and_round_trips():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    lab = rgb_to_lab(x)
    ref = torch.from_numpy(rgb2lab(x.permute(0, 2, 3, 1).numpy())).permute(0, 3, 1, 2)
    assert (lab - ref).abs().max() < 0.05  # skimage's white point differs in the 5th digit
    assert (lab_to_rgb(lab) - x).abs().max() < 1e-12  # float64 throughout: exact to rounding
    back = torch.from_numpy(lab2rgb(lab.permute(0, 2, 3, 1).numpy())).permute(0, 3, 1, 2)
    assert (back - x).abs().max() < 1e-3


def test_the_bins_are_the_in_gamut_grid():
    bins = ab_bins()
    assert 200 < len(bins) < 313 + 30  # the paper has 313 in-gamut bins of side 10
    assert (bins % 10 == 0).all()
    # Pure red, green and blue are in gamut, so their bins are in the set and near them.
    ab = rgb_to_lab(torch.eye(3).view(3, 3, 1, 1))[:, 1:]
    centres = bins[nearest_bin(ab, bins).flatten()]
    assert (centres - ab.flatten(1)).abs().max() <= 5 + 1e-4


def test_soft_encoding_sums_to_one_and_favours_the_true_bin():
    torch.manual_seed(0)
    bins = ab_bins()
    ab = bins[torch.randint(len(bins), (64,))].T.reshape(1, 2, 8, 8) + torch.rand(1, 2, 8, 8) * 4 - 2
    z = soft_encode(ab, bins)
    assert torch.allclose(z.sum(1), torch.ones(1, 8, 8))
    assert ((z > 0).sum(1) == 5).all()
    assert torch.equal(z.argmax(1), nearest_bin(ab, bins))
    assert (z.max(1).values > 0.3).all()


def test_rebalancing_weights_have_expectation_one_and_favour_rare_colours():
    bins = ab_bins()
    counts = torch.ones(len(bins))
    counts[0] = 1000
    w = rebalancing_weights(counts, bins)
    p = torch.exp(-torch.cdist(bins, bins).square() / 50) @ (counts / counts.sum())
    p = p / p.sum()
    assert torch.isclose((p * w).sum(), torch.tensor(1.0), atol=1e-5)
    assert w[0] < w[-1]


def test_annealed_mean_decodes_a_sharp_prediction_to_its_bin():
    bins = ab_bins()
    logits = torch.full((1, len(bins), 1, 1), -30.0)
    logits[0, 7] = 30.0
    assert torch.allclose(annealed_mean(logits, bins)[0, :, 0, 0], bins[7])


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = Colorization(make_backbone("convnet", in_channels=1), torch.ones(len(ab_bins())), min_scale=0.5)
    batch = tiny_data.train.__getitems__(list(range(16)))
    # Watch the KL part: the loss minus its floor, the targets' entropy.
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], measure=lambda m: m(batch)[1]["kl"])
    assert after < 0.7 * before


def test_build_rebalances_rare_colours_of_the_training_images():
    """``build`` gives rare colours larger weights than common ones (not all ones)."""
    from ssl_examples.data import ImageData, TensorImages
    from ssl_examples.methods.colorization import RECIPE, build

    g = torch.Generator().manual_seed(0)
    images = torch.zeros(40, 3, 16, 16, dtype=torch.uint8)
    images[:, 2] = 200  # mostly blue ...
    images[:4, :, :4, :4] = torch.tensor([220, 40, 40], dtype=torch.uint8).view(3, 1, 1)  # ... a little red
    images = images + torch.randint(0, 8, images.shape, generator=g, dtype=torch.uint8)
    data = TensorImages(images, torch.zeros(40, dtype=torch.long))
    model = build(RECIPE, ImageData("tiny", data, data, data, 1, 16, val=data))
    w, bins = model.class_weights, model.bins
    blue = nearest_bin(rgb_to_lab(torch.tensor([0.0, 0.0, 0.8]).view(1, 3, 1, 1))[:, 1:], bins).item()
    red = nearest_bin(rgb_to_lab(torch.tensor([0.86, 0.16, 0.16]).view(1, 3, 1, 1))[:, 1:], bins).item()
    assert w.std() > 0 and w[red] > 2 * w[blue]


def test_the_loss_is_weighted_by_the_rebalancing_weights(tiny_data):
    """The loss is linear in the per-bin weights: doubling them doubles it."""
    torch.manual_seed(0)
    weights = 0.5 + torch.rand(len(ab_bins()))
    model = Colorization(make_backbone("convnet", in_channels=1), weights.clone(), min_scale=0.5)
    batch = tiny_data.train.__getitems__(list(range(8)))

    def loss_with(w):
        model.class_weights.copy_(w)
        torch.manual_seed(1)
        return model(batch)[0].item()

    assert abs(loss_with(2 * weights) - 2 * loss_with(weights)) < 1e-4 * abs(loss_with(weights))
    other = weights.flip(0)
    assert abs(loss_with(other) - loss_with(weights)) > 1e-3 * abs(loss_with(weights))
