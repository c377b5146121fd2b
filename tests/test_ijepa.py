from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from ssl_examples.checks import check_recipe
from ssl_examples.errors import UserError
from ssl_examples.methods import ijepa
from ssl_examples.methods.ijepa import IJEPA, context_and_targets, random_blocks
from ssl_examples.nets import ViT
from tests.conftest import loss_before_and_after

MASKS = dict(num_targets=4, target_scale=(0.15, 0.2), target_aspect=(0.75, 1.5), context_scale=(0.85, 1.0))


def small_ijepa(base_momentum=0.9):
    torch.manual_seed(0)
    return IJEPA(ViT(3, patch_size=4, width=16, depth=2, heads=2), predictor_width=8, predictor_depth=1,
                 predictor_heads=2, base_momentum=base_momentum, min_scale=0.3, num_targets=4, target_min_scale=0.15,
                 target_max_scale=0.2, target_min_aspect=0.75, target_max_aspect=1.5, context_min_scale=0.85,
                 context_max_scale=1.0)


def test_random_blocks_are_rectangles_of_the_asked_size():
    torch.manual_seed(0)
    blocks = random_blocks(50, (8, 8), 3, 4)
    for mask in blocks.view(50, 8, 8):
        rows, cols = mask.nonzero().unbind(1)
        assert mask.sum() == 12 and rows.max() - rows.min() == 2 and cols.max() - cols.min() == 3
    assert len({tuple(m.nonzero().flatten().tolist()) for m in blocks}) > 10  # places vary


def test_target_blocks_never_leak_into_the_context():
    torch.manual_seed(0)
    for _ in range(20):
        context, targets = context_and_targets(32, (8, 8), **MASKS)
        b, t, m = targets.shape
        assert t == 4 and 6 <= m <= 16  # 15-20 % of 64 patches, rounded to a rectangle
        for i in range(b):
            c = context[i].tolist()
            assert len(c) >= 4 and c == sorted(set(c))  # distinct, in reading order
            assert not set(c) & set(targets[i].flatten().tolist())


def test_the_context_encoder_sees_only_the_context():
    """Changing every pixel outside the context patches leaves the context encoding unchanged."""
    model = small_ijepa().eval()
    torch.manual_seed(1)
    x = torch.rand(2, 3, 32, 32)
    context, targets = context_and_targets(2, (8, 8), **MASKS)
    other = torch.rand(2, 3, 32, 32)
    for b in range(2):
        for i in context[b].tolist():
            r, c = divmod(i, 8)
            other[b, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4] = x[b, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4]
    with torch.no_grad():
        a, b_ = model.backbone.forward_tokens(x, context), model.backbone.forward_tokens(other, context)
        assert torch.allclose(a, b_, atol=1e-6)
        # the targets, which do change, come from the target encoder on the whole image
        assert not torch.allclose(model.loss_on(x, context, targets), model.loss_on(other, context, targets))


def test_the_loss_is_the_l2_distance_to_the_target_encoders_features():
    model = small_ijepa().eval()
    torch.manual_seed(2)
    x = torch.rand(2, 3, 32, 32)
    context, targets = context_and_targets(2, (8, 8), **MASKS)
    with torch.no_grad():
        h = model.target_backbone.forward_tokens(x)[:, 1:]
        h = (h - h.mean(-1, keepdim=True)) / (h.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt()
        z = model.backbone.forward_tokens(x, context)[:, 1:]
        prediction = model.predictor(z, context, targets, model.backbone.position_embedding(8, 8, 8))  # (B, 4, m, D): representations, not pixels
        assert prediction.shape == (*targets.shape, 16)
        expected = sum(((prediction[b, j, n] - h[b, targets[b, j, n]]) ** 2).sum()
                       for b in range(2) for j in range(4) for n in range(targets.shape[2]))
        expected /= prediction.numel()
        assert abs(model.loss_on(x, context, targets).item() - expected.item()) < 1e-5


def test_each_target_block_is_predicted_without_seeing_the_others():
    model = small_ijepa().eval()
    torch.manual_seed(3)
    context, targets = context_and_targets(2, (8, 8), **MASKS)
    z = torch.randn(2, context.shape[1], 16)
    other_targets = targets.clone()
    other_targets[:, 1:] = (targets[:, 1:] + 3) % 64  # move blocks 2-4 elsewhere
    with torch.no_grad():
        a, b = model.predictor(z, context, targets, model.backbone.position_embedding(8, 8, 8)), model.predictor(z, context, other_targets, model.backbone.position_embedding(8, 8, 8))
    assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6) and not torch.allclose(a[:, 1], b[:, 1])


def test_the_target_encoder_is_a_moving_average_with_a_linear_schedule():
    model = small_ijepa(base_momentum=0.9)
    assert all(not p.requires_grad for p in model.target_backbone.parameters())
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)
    online = [p.clone() for p in model.backbone.parameters()]
    before = [p.clone() for p in model.target_backbone.parameters()]
    model.on_step(0.5)  # m = 0.9 + 0.1 * 0.5 = 0.95
    for t, b, o in zip(model.target_backbone.parameters(), before, online):
        assert torch.allclose(t, 0.95 * b + 0.05 * o, atol=1e-6)
    frozen = [p.clone() for p in model.target_backbone.parameters()]
    model.on_step(1.0)  # m = 1 at the end of the run: the target stops moving
    assert all(torch.equal(a, b) for a, b in zip(frozen, model.target_backbone.parameters()))


def test_a_training_step_lowers_the_loss_and_no_gradient_reaches_the_target(tiny_data):
    model = small_ijepa()
    batch = tiny_data.train.__getitems__(list(range(16)))
    loss, _ = model(batch)
    loss.backward()
    assert all(p.grad is None for p in model.target_backbone.parameters())
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    model.zero_grad()
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=15, lr=2e-3)
    assert after < 0.9 * before


def test_bad_recipes_are_one_line_errors():
    check_recipe(ijepa.RECIPE, ijepa)
    for bad, message in [(dict(target_min_scale=0.3), "target-min-scale"), (dict(context_max_scale=1.5), "fraction"),
                         (dict(backbone="resnet18"), "needs a Vision Transformer")]:
        with pytest.raises(UserError, match=message):
            check_recipe(replace(ijepa.RECIPE, **bad), ijepa)
