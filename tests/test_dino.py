import re
from dataclasses import replace

import pytest
import torch
from lightly.loss import DINOLoss
from torch import nn

from ssl_examples.checks import check_recipe
from ssl_examples.ema import cosine_momentum
from ssl_examples.errors import UserError
from ssl_examples.methods import dino as dino_module  # the name dino is the tests' model maker
from ssl_examples.methods.dino import DINO, RECIPE, DINOHead, dino_loss, update_center
from ssl_examples.nets import make_backbone

from .gloo import (assert_gradients_equal, average_gradients, multi_crop_views, plain_average_batchnorm,
                   run_processes)


def outputs(n=8, k=6, views=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, k, generator=g) for _ in range(views)]


@pytest.mark.parametrize("num_local", [0, 3])
def test_loss_gradients_and_centre_equal_lightlys(num_local):
    student = outputs(views=2 + num_local)
    teacher = outputs(views=2, seed=1)
    center = 0.3 * torch.randn(1, 6, generator=torch.Generator().manual_seed(2))
    theirs_fn = DINOLoss(output_dim=6, teacher_temp=0.05, student_temp=0.1, center_momentum=0.9)
    theirs_fn.center.copy_(center.view(1, 1, 6))
    results = []
    for fn in (lambda t, s: dino_loss(t, s, center, 0.05, 0.1), lambda t, s: theirs_fn(t, s, teacher_temp=0.05)):
        s = [o.clone().requires_grad_() for o in student]
        loss = fn(teacher, s)
        loss.backward()
        results.append([loss.detach().reshape(())] + [o.grad for o in s])
    for o, t in zip(*results):
        assert torch.allclose(o, t, rtol=1e-6, atol=1e-6), (o - t).abs().max()
    update_center(center, teacher, 0.9)  # lightly updated its centre inside the call
    assert torch.allclose(center, theirs_fn.center.view(1, 6), rtol=1e-6, atol=1e-7)


def test_centering_and_sharpening_pull_the_teacher_opposite_ways():
    t = outputs(views=1, n=64, k=10)[0] + torch.linspace(0, 4, 10)  # one output dominates on average
    center = t.mean(0, keepdim=True)
    def entropy(p):
        return -(p * p.clamp_min(1e-30).log()).sum(1).mean().item()
    sharp = torch.softmax(t / 0.04, dim=1)
    centred = torch.softmax((t - center) / 1.0, dim=1)
    plain = torch.softmax(t / 1.0, dim=1)
    assert entropy(sharp) < entropy(plain)  # sharpening: towards one-hot
    assert plain.mean(0).argmax() == 9 and centred.mean(0).max() < plain.mean(0).max()  # centring: no winner


def dino(**changes):
    torch.manual_seed(0)
    kw = dict(out_dim=16, hidden_dim=16, bottleneck_dim=8, bn_in_head=False, momentum_base=0.9, student_temp=0.1,
              teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_fraction=0.5, center_momentum=0.9,
              freeze_last_layer=0.0, num_local=2, global_size=16, local_size=8, global_min_scale=0.4,
              local_min_scale=0.1, local_max_scale=0.4, strength=0.5)
    return DINO(make_backbone("convnet"), **{**kw, **changes})


def test_batchnorm_in_the_head_spreads_the_outputs_of_similar_images():
    """``bn_in_head`` (the official code's ``use_bn_in_head``): BatchNorm after each hidden layer.
    Inputs that differ little, as a young ConvNet's pooled features do, give nearly one output
    for every image without it (centring then leaves the teacher uniform), spread ones with it."""
    torch.manual_seed(0)
    x = 1.0 + 0.01 * torch.randn(64, 32)
    plain, normed = DINOHead(32, 64, 16, 128), DINOHead(32, 64, 16, 128, batch_norm=True)
    assert [type(m) for m in normed.mlp if type(m) is not nn.BatchNorm1d] == [type(m) for m in plain.mlp]
    assert sum(type(m) is nn.BatchNorm1d for m in normed.mlp) == 2
    def spread(head):
        return head(x).std(dim=0).mean()
    assert spread(normed) > 10 * spread(plain), (spread(normed), spread(plain))


def teacher_entropy_after(recipe, steps: int = 20) -> float:
    """The teacher's entropy (the training log's metric) after ``steps`` AdamW steps of
    ``recipe``'s model on batches of 64 world images."""
    from ssl_examples.data.world import world_split
    from ssl_examples.figures.collapse import spread_during_training

    images = world_split("train", 512, recipe.image_size)[0]
    torch.manual_seed(0)
    _, entropies = spread_during_training(dino_module.build(recipe, None), images, steps, batch_size=64,
                                          lr=recipe.lr, weight_decay=recipe.weight_decay, metric="teacher_entropy")
    return entropies[-1]


def test_the_recipes_teacher_gives_targets_where_the_papers_head_goes_uniform():
    """The regime the training log showed at the earlier recipe: with the paper's head (no
    BatchNorm) and its temperature warm-up, the teacher's entropy climbs to within a few
    hundredths of log K in a few steps (a uniform target, nothing to learn); the recipe's
    teacher stays well below it."""
    log_k = torch.log(torch.tensor(float(RECIPE.out_dim))).item()
    papers = replace(RECIPE, bn_in_head=False, warmup_teacher_temp=0.04, teacher_temp=0.07)
    assert teacher_entropy_after(papers) > 0.97 * log_k
    assert teacher_entropy_after(RECIPE) < 0.85 * log_k


def test_teacher_temperature_warms_up_then_stays():
    model = dino()
    temps = []
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        model.on_step(p)
        temps.append(model.teacher_temp())
    assert temps == pytest.approx([0.04, 0.055, 0.07, 0.07, 0.07])


def test_teacher_follows_the_student_on_the_cosine_schedule(tiny_data):
    model = dino()
    with torch.no_grad():
        for p in model.head.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.teacher_head.parameters()]
    model.on_step(0.3)
    m = cosine_momentum(0.9, 0.3)
    for b, t, s in zip(before, model.teacher_head.parameters(), model.head.parameters()):
        assert torch.allclose(t, m * b + (1 - m) * s, atol=1e-6)
    assert not any(p.requires_grad for p in model.teacher_backbone.parameters())


def test_a_training_step_moves_the_centre_and_freezes_the_last_layer_at_first(tiny_data):
    model = dino(freeze_last_layer=0.5)
    loss, metrics = model(tiny_data.train.__getitems__(list(range(16))))
    loss.backward()
    assert model.center.abs().sum() > 0  # updated from the teacher's outputs
    assert model.head.last.weight.grad.abs().max() == 0 and model.head.mlp[0].weight.grad.abs().max() > 0
    assert 0 < metrics["teacher_entropy"] <= torch.log(torch.tensor(16.0)) + 1e-5


def small_model():
    model = dino()
    # Running statistics from one batch, then evaluation mode: an image's outputs do not
    # depend on which process holds the rest of the batch.
    plain_average_batchnorm(model)
    with torch.no_grad():
        model.student(multi_crop_views(12))
        model.teacher_backbone(torch.cat(multi_crop_views(12)[:2]))
    with torch.no_grad():
        model.center.copy_(torch.linspace(-1, 1, 16))  # a non-zero centre from "earlier steps"
    return model.eval()


def one_of_two(rank, world, per_process):
    model = small_model()
    model.training = True  # update the centre as in training (BatchNorm stays in evaluation mode)
    mine = slice(rank * per_process, (rank + 1) * per_process)
    loss, _ = model.loss_from_views([v[mine] for v in multi_crop_views(per_process * world)])
    loss.backward()
    average_gradients(model)
    return loss.item(), [p.grad for p in model.parameters() if p.requires_grad], model.center


def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(tmp_path):
    b = 6
    results = run_processes(one_of_two, (b,), tmp_path)
    model = small_model()
    model.training = True
    loss, _ = model.loss_from_views(multi_crop_views(2 * b))
    loss.backward()
    assert abs(sum(r[0] for r in results) / 2 - loss.item()) < 1e-5
    # Only the student learns: the teacher's parameters have no gradients to compare.
    learned = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert_gradients_equal(learned, results, atol=1e-6)
    # The centre is all-reduced: both processes hold the global batch's update.
    assert torch.allclose(results[0][2], model.center, atol=1e-6) and torch.equal(results[0][2], results[1][2])
    one_half = small_model()
    one_half.training = True
    one_half.loss_from_views([v[:b] for v in multi_crop_views(2 * b)])
    assert (one_half.center - model.center).abs().max() > 1e-4  # not vacuous


def test_bad_recipe_values_are_one_line_errors_of_the_shared_checks():
    """Bad values fail in ``check_recipe``: the shared rules by name, then the module's ``check``."""
    check_recipe(RECIPE, dino_module)
    for bad, message in [(dict(teacher_temp=-0.04), "teacher-temp=-0.04: must be greater than 0"),
                         (dict(warmup_teacher_temp=0.0), "warmup-teacher-temp=0.0: must be greater than 0"),
                         (dict(center_momentum=1.5), "center-momentum=1.5: must be a probability between 0 and 1"),
                         (dict(local_size=48), "local-size=48: must not exceed the image size (32 px)"),
                         (dict(global_size=40), "global-size=40: must not exceed the image size (32 px)"),
                         (dict(local_min_scale=0.5, local_max_scale=0.2),
                          "local-min-scale=0.5: must not exceed local-max-scale (0.2)"),
                         (dict(out_dim=1), "out-dim=1: must be at least 2")]:
        with pytest.raises(UserError, match=re.escape(message)):
            check_recipe(replace(RECIPE, **bad), dino_module)
