"""Tests of the procedural image world (ssl_examples/data/world.py)."""

import dataclasses

import pytest
import torch

from ssl_examples.data import world
from ssl_examples.data.world import CLASSES, render_world, world_split

N_CLASSES = len(CLASSES)


@pytest.fixture(scope="module")
def batch():
    return render_world(960, 32, seed=7)


def test_classes():
    assert 10 <= N_CLASSES <= 12
    assert len(set(CLASSES)) == N_CLASSES


@pytest.mark.parametrize("size", [32, 48, 96])
def test_shapes_dtypes_ranges(size):
    images, masks, labels = render_world(30, size, seed=1)
    assert images.shape == (30, 3, size, size) and images.dtype == torch.uint8
    assert masks.shape == (30, size, size) and masks.dtype == torch.uint8
    assert labels.shape == (30,) and labels.dtype == torch.int64
    assert 0 <= labels.min() and labels.max() < N_CLASSES
    # a mask holds 0 and 1 + the image's label, nothing else
    assert ((masks == 0) | (masks == (labels + 1)[:, None, None].to(torch.uint8))).all()
    # images use the range; not saturated, not flat
    assert images.float().std() > 30 and 60 < images.float().mean() < 200


def test_main_object_is_visible_and_large(batch):
    _, masks, _ = batch
    area = (masks > 0).float().mean((1, 2))
    assert (area > 0.02).float().mean() > 0.97  # almost always clearly visible
    assert 0.1 < area.mean() < 0.4


def test_deterministic_and_independent_of_global_rng():
    torch.manual_seed(1)
    a = render_world(40, 32, seed=5)
    torch.manual_seed(2)
    torch.rand(100)
    b = render_world(40, 32, seed=5)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    prefix = render_world(25, 32, seed=5)  # the first n images do not depend on how many follow
    for x, y in zip(prefix, a):
        assert torch.equal(x, y[:25])


def test_different_seeds_differ():
    a, _, _ = render_world(40, 32, seed=0)
    b, _, _ = render_world(40, 32, seed=1)
    assert not (a == b).flatten(1).all(1).any()


def _rows(images):
    return {bytes(x.numpy().tobytes()) for x in images}


def test_splits_disjoint_deterministic_and_memoised():
    train = world_split("train", 1000, 16)
    val = world_split("val", 300, 16)
    test = world_split("test", 300, 16)
    assert world_split("train", 1000, 16) is train  # memoised
    rows = [_rows(x[0]) for x in (train, val, test)]
    assert len(rows[0]) == 1000 and len(rows[1]) == 300 and len(rows[2]) == 300  # no duplicates
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]
    assert not _rows(render_world(300, 16, seed=0)[0]) & (rows[0] | rows[1] | rows[2])
    world_split.cache_clear()
    again = world_split("val", 300, 16)
    assert again is not val and torch.equal(again[0], val[0]) and torch.equal(again[2], val[2])
    with pytest.raises(ValueError):
        world_split("validation", 10)


def test_every_class_balanced(batch):
    counts = torch.bincount(batch[2], minlength=N_CLASSES).float()
    expected = len(batch[2]) / N_CLASSES
    assert (counts > 0.8 * expected).all() and (counts < 1.2 * expected).all()


def test_mask_marks_where_the_main_object_changed_the_image():
    """Render the same scenes with and without the main object: the pixels it changes lie in its
    mask (up to the one-pixel anti-aliased rim), and nearly all mask pixels are changed."""
    scenes = world.scenes_for(150, seed=3)
    kind = scenes.kind.clone()
    kind[:, world.MAIN] = -1
    with_obj, ids = world.render(scenes, 32)
    without, _ = world.render(dataclasses.replace(scenes, kind=kind), 32)
    _, masks, labels = render_world(150, 32, seed=3)
    mask = masks > 0
    assert torch.equal(mask, ids == world.MAIN + 1)
    changed = (with_obj - without).abs().amax(1) > 1 / 255
    rim = torch.nn.functional.max_pool2d(mask[:, None].float(), 3, 1, 1)[:, 0] > 0
    # (a few pixels outside: sub-pixel parts such as thin legs, seen through half-covering occluders)
    assert (changed & ~rim).sum() < 0.01 * mask.sum()
    assert (changed & mask).sum() > 0.97 * mask.sum()
    assert changed.sum() < 1.5 * mask.sum()  # the rim is thin


def test_depth_order_decides_what_is_visible():
    scenes = world.scenes_for(100, seed=4)
    _, ids = world.render(scenes, 32)
    depth = scenes.depth.clone()
    depth[:, world.MAIN] = 100.0  # bring the main object to the front, over the occluders
    _, front = world.render(dataclasses.replace(scenes, depth=depth), 32)
    assert ((ids == world.MAIN + 1) <= (front == world.MAIN + 1)).all()
    assert (front == world.MAIN + 1).sum() > (ids == world.MAIN + 1).sum()


def _iou(a, b):
    return ((a & b).sum((-2, -1)).float() / (a | b).sum((-2, -1)).float())


def test_classes_have_a_canonical_orientation(batch):
    # Each class drawn upright and centred differs from its 180-degree rotation...
    scenes = world.scenes_for(N_CLASSES, seed=0)
    kind = torch.full_like(scenes.kind, -1)
    kind[:, world.MAIN] = torch.arange(N_CLASSES)
    zeros = torch.zeros_like(scenes.x)
    canonical = dataclasses.replace(scenes, kind=kind, x=zeros, y=zeros, angle=zeros, aspect=zeros + 1,
                                    flip=zeros.bool(), scale=zeros + 0.9)
    _, ids = world.render(canonical, 64)
    drawn = ids == world.MAIN + 1
    assert (drawn.sum((1, 2)) > 300).all()
    assert (_iou(drawn, drawn.flip(1, 2)) < 0.7).all()
    # ...and so does the mean mask of each class over random upright images, far beyond the
    # sampling noise (measured by the left-right mirror, under which the world is symmetric).
    _, masks, labels = batch
    up_down, left_right = [], []
    for k in range(N_CLASSES):
        mean = (masks[labels == k] > 0).float().mean(0)
        up_down.append((mean - mean.flip(0, 1)).abs().sum() / (2 * mean.sum()))
        left_right.append((mean - mean.flip(1)).abs().sum() / (2 * mean.sum()))
    assert torch.stack(up_down).mean() > 2 * torch.stack(left_right).mean()


def test_colour_alone_does_not_give_the_class_away(batch):
    """The mean colour of an object predicts its class poorly (15-nearest neighbours)."""
    images, masks, labels = batch
    obj = (masks > 0)[:, None].float()
    colour = (images.float() * obj).sum((2, 3)) / obj.sum((2, 3)).clamp(min=1)
    train, test = slice(0, 640), slice(640, None)
    nearest = torch.cdist(colour[test], colour[train]).topk(15, largest=False).indices
    votes = torch.nn.functional.one_hot(labels[train][nearest], N_CLASSES).sum(1)
    accuracy = (votes.argmax(1) == labels[test]).float().mean()
    assert accuracy < 0.4
    # several classes share the most common part colours
    assert accuracy > 1.2 / N_CLASSES  # but colour is not meaningless either


def test_sample_grid(tmp_path):
    path = tmp_path / "grid.png"
    world.sample_grid(path, size=32, rows=2, cols=3)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
