"""Each batched augmentation against its torchvision counterpart, and per-image randomness."""

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from ssl_examples import augment as A


def images(n=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)


def per_image(fn, x, params):
    return torch.stack([fn(x[i], p) for i, p in enumerate(params)])


@pytest.mark.parametrize("ours, theirs, params", [
    (A.adjust_brightness, TF.adjust_brightness, [0.3, 0.8, 1.0, 1.2, 1.6, 0.0]),
    (A.adjust_contrast, TF.adjust_contrast, [0.3, 0.8, 1.0, 1.2, 1.6, 0.0]),
    (A.adjust_saturation, TF.adjust_saturation, [0.3, 0.8, 1.0, 1.2, 1.6, 0.0]),
    (A.adjust_hue, TF.adjust_hue, [-0.5, -0.1, 0.0, 0.05, 0.25, 0.5]),
])
def test_colour_ops_match_torchvision_with_one_factor_per_image(ours, theirs, params):
    x = images()
    x[0, :, :4, :4] = 0.5  # grey pixels: hue undefined, saturation zero
    expected = per_image(theirs, x, params)
    assert torch.allclose(ours(x, torch.tensor(params)), expected, atol=1e-5)


def test_grayscale_and_solarize_match_torchvision():
    x = images()
    assert torch.allclose(A.grayscale(x), TF.rgb_to_grayscale(x), atol=1e-6)
    assert torch.equal(A.solarize(x, 0.5), TF.solarize(x, 0.5))


def test_hsv_round_trip_is_the_identity():
    x = images(size=32)
    assert torch.allclose(A.hsv_to_rgb(A.rgb_to_hsv(x)), x, atol=1e-6)


def test_gaussian_blur_matches_torchvision_with_one_sigma_per_image():
    x = images(size=20)
    sigmas = [0.1, 0.5, 1.0, 1.5, 2.0, 3.0]
    expected = torch.stack([TF.gaussian_blur(x[i], [5, 5], [s, s]) for i, s in enumerate(sigmas)])
    assert torch.allclose(A.gaussian_blur(x, torch.tensor(sigmas), 5), expected, atol=1e-5)


def test_resized_crop_matches_torchvision_when_enlarging():
    """A pixel-aligned box resampled to a larger size: torchvision crops, then resizes."""
    size, out = 24, 32
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    x = torch.stack([xx, yy, (xx * yy) ** 0.5])[None]  # a smooth image
    top, left, h, w = 3, 5, 12, 16
    expected = TF.resized_crop(x[0], top, left, h, w, [out, out], antialias=False)
    box = torch.tensor([[(2 * left + w) / size - 1, (2 * top + h) / size - 1, w / size, h / size]])
    ours = A.crop_resize(x, box, size=out)[0]
    # Inside, both sample the same points bilinearly; on the crop's rim torchvision clamps to
    # the crop while we may read the neighbouring pixel, a fraction of one pixel's change.
    assert torch.allclose(ours[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-5)
    assert torch.allclose(ours, expected, atol=0.03)
    flipped = A.crop_resize(x, box, flip=torch.tensor([True]), size=out)[0]
    assert torch.allclose(flipped[:, 1:-1, 1:-1], TF.horizontal_flip(expected)[:, 1:-1, 1:-1], atol=1e-5)


def test_random_ops_draw_different_parameters_for_every_image():
    x = images(1, 16).expand(64, -1, -1, -1).contiguous()  # 64 copies of one image
    torch.manual_seed(0)
    for op in (lambda v: A.color_jitter(v, p=1.0), lambda v: A.random_gaussian_blur(v, p=1.0, kernel_size=5),
               A.simclr_view):
        y = op(x)
        distinct = {tuple(y[i].flatten()[:50].tolist()) for i in range(len(y))}
        assert len(distinct) > 60
    grey = A.random_grayscale(x, p=0.5)
    is_grey = (grey[:, 0] == grey[:, 1]).all(dim=(1, 2))
    assert 10 < int(is_grey.sum()) < 54


def test_probability_zero_is_the_identity_and_ranges_stay_in_unit_interval():
    x = images()
    assert torch.equal(A.color_jitter(x, p=0.0), x)
    assert torch.equal(A.random_grayscale(x, p=0.0), x)
    assert torch.equal(A.random_gaussian_blur(x, p=0.0), x)
    y = A.simclr_view(x, strength=1.0, blur_p=1.0, solarize_p=0.5)
    assert y.min() >= 0 and y.max() <= 1 and y.shape == x.shape


def test_same_seed_same_views():
    x = images()
    torch.manual_seed(5)
    a = A.simclr_view(x, blur_p=0.5)
    torch.manual_seed(5)
    assert torch.equal(a, A.simclr_view(x, blur_p=0.5))


def test_simclr_view_follows_its_greyscale_probability():
    from ssl_examples.augment import simclr_view

    torch.manual_seed(0)
    x = torch.rand(64, 3, 16, 16)

    def grey_fraction(p):
        v = simclr_view(x, strength=0.0, grey_p=p)  # no colour jitter: only greyscale makes R = G = B
        return (v[:, 0] == v[:, 1]).flatten(1).all(1).float().mean().item()

    assert grey_fraction(1.0) == 1.0
    assert grey_fraction(0.0) == 0.0
    assert 0.3 < grey_fraction(0.5) < 0.7


def test_jitter_in_order_is_the_four_changes_applied_one_after_the_other():
    """For every one of the 24 orders, the composed jitter equals brightness, contrast,
    saturation and hue (each tested against torchvision above) applied in that order."""
    import itertools

    import ssl_examples.augment as A

    g = torch.Generator().manual_seed(0)
    orders = torch.tensor(list(itertools.permutations(range(4))))  # (24, 4)
    x = 0.3 + 0.4 * torch.rand(24, 3, 6, 6, generator=g)  # mid-range: mild changes never clip
    factors = torch.stack([0.85 + 0.3 * torch.rand(24, generator=g) for _ in range(3)]
                          + [0.2 * torch.rand(24, generator=g) - 0.1], 1)
    composed = A.jitter_in_order(x, factors, orders)
    ops = (A.adjust_brightness, A.adjust_contrast, A.adjust_saturation, A.adjust_hue)
    for i in range(24):
        y = x[i:i + 1]
        for k in orders[i].tolist():
            y = ops[k](y, factors[i, k])
        assert torch.allclose(composed[i], y[0], atol=1e-5), orders[i]


def test_colour_jitter_draws_an_order_per_image(monkeypatch):
    import ssl_examples.augment as A

    seen = []
    real = A.jitter_in_order

    def spy(x, factors, order, rotate_hue=True):
        seen.append(order.clone())
        return real(x, factors, order, rotate_hue)
    monkeypatch.setattr(A, "jitter_in_order", spy)
    torch.manual_seed(0)
    A.color_jitter(torch.rand(64, 3, 8, 8), 0.4, 0.4, 0.4, 0.1, p=1.0)
    (order,) = seen
    assert (order.sort(1).values == torch.arange(4)).all()  # each row a permutation
    assert len({tuple(row) for row in order.tolist()}) > 10  # many of the 24 orders among 64 images


def coordinates(n=4, size=32):
    """Images whose red channel is the x coordinate and green the y coordinate, in [0, 1]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return torch.stack([xx, yy, torch.zeros_like(xx)])[None].expand(n, -1, -1, -1).contiguous()


def test_multi_crop_gives_global_then_local_views_of_their_sizes_and_areas():
    torch.manual_seed(0)
    x = coordinates(n=64)
    views = A.multi_crop(x, num_global=2, num_local=3, local_size=12, global_scale=(0.5, 1.0),
                         local_scale=(0.05, 0.2), strength=0.0, grey_p=0.0)
    assert [v.shape for v in views] == [(64, 3, 32, 32)] * 2 + [(64, 3, 12, 12)] * 3
    # Area covered, read from the coordinates the crop spans (flips reverse x, not its span).
    def area(v):
        span_x = v[:, 0].amax(dim=(1, 2)) - v[:, 0].amin(dim=(1, 2))
        span_y = v[:, 1].amax(dim=(1, 2)) - v[:, 1].amin(dim=(1, 2))
        return span_x * span_y
    for v in views[:2]:
        assert area(v).min() > 0.4 and area(v).max() <= 1.0
    for v in views[2:]:
        assert area(v).max() < 0.25
    # Each view of each image has its own crop: no two local views of an image are the same.
    assert not torch.allclose(views[2], views[3]) and not torch.allclose(views[2][0], views[2][1])


def test_multi_crop_draws_colours_per_view_and_repeats_with_the_seed():
    x = images(n=8, size=16)
    torch.manual_seed(5)
    a = A.multi_crop(x, num_global=2, num_local=2, local_size=8)
    torch.manual_seed(5)
    b = A.multi_crop(x, num_global=2, num_local=2, local_size=8)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert all(((v >= 0) & (v <= 1)).all() for v in a)
    assert len(A.multi_crop(x, num_global=2, num_local=0)) == 2


def test_asymmetric_views_solarise_the_second_view_only():
    x = torch.rand(6, 3, 16, 16)
    torch.manual_seed(0)
    first, second = A.asymmetric_views(x, None, (0.5, 1.0), 0.5, solarize_p=1.0)
    torch.manual_seed(0)
    plain = A.simclr_view(x, scale=(0.5, 1.0), strength=0.5)
    solarised = A.simclr_view(x, scale=(0.5, 1.0), strength=0.5, solarize_p=1.0)
    assert torch.equal(first, plain) and torch.equal(second, solarised)
    torch.manual_seed(0)
    first_off, second_off = A.asymmetric_views(x, None, (0.5, 1.0), 0.5, solarize_p=0.0)
    assert torch.equal(first_off, first) and not torch.equal(second_off, second)  # only the second changes
