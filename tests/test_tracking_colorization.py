from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from ssl_examples.checks import check_recipe
from ssl_examples.color import kmeans, lab_to_rgb, quantise, rgb_to_lab
from ssl_examples.data.video import make_clips
from ssl_examples.errors import UserError
from ssl_examples.methods import tracking_colorization
from ssl_examples.methods.tracking_colorization import (ColorizationTracker, attention, copy_labels,
                                                        fit_colour_clusters, mean_iou, object_labels,
                                                        reference_and_target, tracking_scores)
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after




def test_lab_round_trip_and_known_values():
    rgb = torch.rand(2, 3, 5, 5)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)
    white, red = rgb_to_lab(torch.tensor([1.0, 1, 1]).view(3, 1, 1)), rgb_to_lab(torch.tensor([1.0, 0, 0]).view(3, 1, 1))
    assert torch.allclose(white.flatten(), torch.tensor([100.0, 0, 0]), atol=0.05)
    assert torch.allclose(red.flatten(), torch.tensor([53.24, 80.09, 67.20]), atol=0.3)


def test_kmeans_finds_separated_clusters():
    torch.manual_seed(0)
    centres = torch.tensor([[-50.0, 0], [50, 0], [0, 60]])
    points = torch.cat([c + torch.randn(100, 2) for c in centres])
    found = kmeans(points, 3)
    assert torch.cdist(centres, found).min(1).values.max() < 1
    ab = centres.T.reshape(1, 2, 3, 1)
    assert sorted(quantise(ab, found).flatten().tolist()) == [0, 1, 2]


def test_kmeans_ends_at_a_lloyd_fixed_point():
    # After the last step every centre is the mean of the points nearest to it (the batched
    # update must agree with a per-cluster loop), and k-means++ starts on data points.
    torch.manual_seed(0)
    points = torch.randn(600, 8) * torch.rand(8) + 3 * torch.randint(0, 4, (600, 1)).float()
    found = kmeans(points, 12, iterations=60)
    assign = torch.cdist(points, found).argmin(1)
    for j in range(12):
        members = points[assign == j]
        if len(members):
            assert torch.allclose(found[j], members.mean(0), atol=1e-4), j
    assert kmeans(points, 5, iterations=0).unsqueeze(1).eq(points).all(-1).any(1).all()


def test_copying_with_one_hot_similarities_reproduces_the_reference_colours():
    torch.manual_seed(0)
    J, K = 10, 16
    reference = torch.eye(J)[None]  # pixel j's embedding is the j-th unit vector
    order = torch.randperm(J)
    target = reference[:, :, order]  # target pixel i is reference pixel order[i]
    colours = F.one_hot(torch.randint(K, (1, J)), K).float()
    # exp(-1 / 0.001) is exactly 0 in float32, so every target pixel copies exactly one reference pixel
    copied = copy_labels(attention(reference, target, temperature=0.001), colours)
    assert torch.equal(copied, colours[:, order])


def test_the_reference_frames_are_the_ones_just_before_the_target():
    torch.manual_seed(0)
    refs, tgt = reference_and_target(500, 8, 3)
    assert torch.equal(refs, torch.stack([tgt - 3, tgt - 2, tgt - 1], 1))
    assert refs.min() == 0 and tgt.max() == 7 and set(tgt.tolist()) == {3, 4, 5, 6, 7}


def test_a_training_step_lowers_the_loss():
    torch.manual_seed(0)
    clips = make_clips(4, frames=4, size=32)  # three reference frames and a target
    model = ColorizationTracker(make_backbone("convnet", 1), fit_colour_clusters(clips.video), dim=64, temperature=0.05,
                                references=3)
    before, after = loss_before_and_after(model, lambda m: m({"video": clips.video, "index": torch.arange(4)})[0], steps=8, lr=2e-3)
    assert after < 0.8 * before


def test_iou_and_the_copy_baseline():
    truth = torch.zeros(1, 3, 8, 8, dtype=torch.long)
    truth[0, :, 2:6, 2:6] = 1
    truth[0, 2, 2:6, 2:6] = 0
    truth[0, 2, 2:6, 4:8] = 1  # the object moves right by 2 pixels in the last frame
    copied = truth[:, :1].expand_as(truth)
    assert abs(mean_iou(copied, truth, 2) - (1 + 8 / 24) / 2) < 1e-6
    assert mean_iou(truth, truth, 2) == 1.0


def test_tracking_scores_run_on_clips():
    clips = make_clips(2, frames=3, size=32)
    labels, K = object_labels(clips.instances, clips.kinds)
    assert K == 3 and (labels[:, 0] == 1).any()
    model = ColorizationTracker(make_backbone("convnet", 1), torch.zeros(16, 2), dim=64, temperature=0.05,
                                references=3)
    scores = tracking_scores(model, clips)
    assert 0 <= scores["propagated"] <= 1 and 0 <= scores["copy_first"] <= 1


def test_a_clip_needs_more_frames_than_references():
    recipe = tracking_colorization.RECIPE
    check_recipe(replace(recipe, frames=4, references=3), tracking_colorization)
    with pytest.raises(UserError, match=r"^references=8: a clip of 8 frames"):
        check_recipe(replace(recipe, frames=8, references=8), tracking_colorization)
