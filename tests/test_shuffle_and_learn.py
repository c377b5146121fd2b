import pytest
import torch

from ssl_examples.methods.shuffle_and_learn import RECIPE, ShuffleAndLearn, make_tuples, pick_frames
from ssl_examples.nets import make_backbone
from tests.conftest import from_recipe, loss_before_and_after




def numbered_video(batch=64, frames=16, size=8):
    """Frame t of every clip is filled with the value 10 t, so a frame tells its own index."""
    video = (10 * torch.arange(frames)).view(1, frames, 1, 1, 1).expand(batch, frames, 3, size, size)
    return video.to(torch.uint8).clone()


def read_tuples(video):
    """make_tuples on a numbered video, with each tuple's frame indices read back from the pixels."""
    frames, tuples, labels, indices = make_tuples(video)
    shown = frames[:, :, 0, 0, 0].long() // 10
    assert torch.equal(shown, indices)
    clip = torch.arange(len(tuples)) % len(frames)
    return shown[clip[:, None], tuples], labels


def test_positive_and_negative_labels_are_right():
    torch.manual_seed(0)
    shown, labels = read_tuples(numbered_video())
    first, middle, last = shown.unbind(1)
    lo, hi = torch.minimum(first, last), torch.maximum(first, last)
    between = (middle > lo) & (middle < hi)
    assert torch.equal(between.long(), labels)  # positive <=> the middle frame lies between the others
    assert (lo < hi).all()
    # Both orders and both negative variants occur.
    assert (first < last).any() and (first > last).any()
    neg = labels == 0
    assert (middle[neg] < lo[neg]).any() and (middle[neg] > hi[neg]).any()
    assert labels.float().mean() == 0.5


def test_each_window_gives_a_positive_and_a_negative_that_differ_in_the_middle_frame():
    torch.manual_seed(0)
    video = numbered_video()
    shown, labels = read_tuples(video)
    B = len(video)
    assert labels[:B].eq(1).all() and labels[B:].eq(0).all()
    ends = lambda t: torch.stack([t[:, [0, 2]].amin(1), t[:, [0, 2]].amax(1)], 1)
    assert torch.equal(ends(shown[:B]), ends(shown[B:]))  # the same b and d ...
    assert (shown[:B, 1] != shown[B:, 1]).all()  # ... around another middle frame
    # Each tuple's direction is drawn on its own: the pair is not always shown the same way.
    same_way = (shown[:B, 0] < shown[:B, 2]) == (shown[B:, 0] < shown[B:, 2])
    assert same_way.any() and not same_way.all()


def test_frames_come_from_the_window_with_motion():
    torch.manual_seed(0)
    video = torch.zeros(16, 8, 3, 4, 4, dtype=torch.uint8)
    video[:, 4:] = 200  # the only change happens between frames 3 and 4
    picked = pick_frames(video, 3, candidates=8)
    assert ((picked[:, 0] <= 3) & (picked[:, -1] >= 4)).float().mean() > 0.9


def test_a_training_step_lowers_the_loss():
    torch.manual_seed(0)
    video = torch.rand(8, 16, 3, 16, 16)
    video = (video.cumsum(1) / 16 * 255).to(torch.uint8)  # pixels that brighten over time
    model = from_recipe(ShuffleAndLearn, RECIPE, make_backbone("convnet"))
    before, after = loss_before_and_after(model, lambda m: m({"video": video, "index": torch.arange(8)})[0], steps=8, lr=1e-3)
    assert after < 0.7 * before


def test_frames_keep_their_distance():
    torch.manual_seed(0)
    picked = pick_frames(numbered_video(), 5, gap=3)
    assert (picked.diff(dim=1) >= 3).all() and picked.max() <= 15 and picked.min() >= 0
