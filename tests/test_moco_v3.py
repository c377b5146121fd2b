import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss

from ssl_examples.checks import check_recipe
from ssl_examples.ema import cosine_momentum
from ssl_examples.errors import UserError
from ssl_examples.methods import moco_v3
from ssl_examples.methods.moco_v3 import MoCoV3, contrastive_loss
from ssl_examples.nets import ViT
from tests.conftest import loss_before_and_after


def small_moco_v3(freeze_patch_embed=True, base_momentum=0.9):
    torch.manual_seed(0)
    return MoCoV3(ViT(3, patch_size=4, width=16, depth=2, heads=2), temperature=0.2, base_momentum=base_momentum,
                  proj_dim=8, hidden_dim=32, freeze_patch_embed=freeze_patch_embed, view_size=16, min_scale=0.08, strength=0.5,
                  view1_blur_p=0.0, view2_blur_p=0.0, view1_solarize_p=0.0, view2_solarize_p=0.2)


def test_the_loss_is_lightlys_infonce_times_two_tau():
    """ctr(q, k) = 2 tau * InfoNCE with the batch's other keys as negatives. lightly's NTXentLoss
    with a memory bank scores one positive against the bank: fill the bank with the other
    keys of the batch, one query at a time."""
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    for tau in (0.1, 0.2, 1.0):
        per_query = []
        for n in range(6):
            lightly_loss = NTXentLoss(temperature=tau, memory_bank_size=(5, 5))
            lightly_loss.memory_bank.bank = F.normalize(torch.cat([k[:n], k[n + 1:]]), dim=1)
            per_query.append(lightly_loss(q[n:n + 1], k[n:n + 1]))
        expected = 2 * tau * torch.stack(per_query).mean()
        assert abs(contrastive_loss(q, k, tau).item() - expected.item()) < 1e-5


def test_the_loss_equals_its_formula_and_sends_no_gradient_to_the_keys():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(4, 3, generator=g, requires_grad=True), torch.randn(4, 3, generator=g, requires_grad=True)
    qn, kn = F.normalize(q, dim=1).tolist(), F.normalize(k, dim=1).tolist()
    tau = 0.2
    expected = 0.0
    for n in range(4):
        s = [sum(a * b for a, b in zip(qn[n], kn[j])) / tau for j in range(4)]
        expected += -2 * tau * math.log(math.exp(s[n]) / sum(math.exp(v) for v in s)) / 4
    loss = contrastive_loss(q, k, tau)
    assert abs(loss.item() - expected) < 1e-5
    loss.backward()
    assert k.grad is None and q.grad.abs().sum() > 0


def test_the_loss_is_symmetric_in_the_two_views():
    model = small_moco_v3()
    torch.manual_seed(1)
    x1, x2 = torch.rand(8, 3, 32, 32), torch.rand(8, 3, 32, 32)
    assert abs(model.loss_from_views(x1, x2)[0].item() - model.loss_from_views(x2, x1)[0].item()) < 1e-5


def test_the_patch_projection_stays_random_when_frozen(tiny_data):
    batch = tiny_data.train.__getitems__(list(range(16)))
    for freeze in (True, False):
        model = small_moco_v3(freeze_patch_embed=freeze)
        start = model.backbone.patch_embed.weight.clone()
        block = model.backbone.blocks[0].mlp[0].weight.clone()
        loss_before_and_after(model, lambda m: m(batch)[0], steps=2, lr=1e-3,
                              params=[p for p in model.parameters() if p.requires_grad])
        assert torch.equal(model.backbone.patch_embed.weight, start) == freeze
        assert not torch.equal(model.backbone.blocks[0].mlp[0].weight, block)


def test_the_momentum_encoder_follows_with_a_cosine_schedule():
    model = small_moco_v3(base_momentum=0.9)
    assert all(not p.requires_grad for p in [*model.key_backbone.parameters(), *model.key_projector.parameters()])
    assert not hasattr(model, "key_predictor")  # the predictor is on the query side only
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(1.0)
    online = [p.clone() for p in model.projector.parameters()]
    before = [p.clone() for p in model.key_projector.parameters()]
    model.on_step(0.5)
    m = cosine_momentum(0.9, 0.5)  # halfway: 0.95
    assert abs(m - 0.95) < 1e-9
    for t, b, o in zip(model.key_projector.parameters(), before, online):
        assert torch.allclose(t, m * b + (1 - m) * o, atol=1e-6)


def test_a_training_step_lowers_the_loss(tiny_data):
    model = small_moco_v3()
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3,
                                          params=[p for p in model.parameters() if p.requires_grad])
    assert after < 0.95 * before


def test_bad_recipes_are_one_line_errors():
    check_recipe(moco_v3.RECIPE, moco_v3)
    for bad, message in [(dict(view_size=18), "view-size=18"), (dict(view2_solarize_p=1.5), "probability"),
                         (dict(backbone="convnet"), "needs a Vision Transformer")]:
        with pytest.raises(UserError, match=message):
            check_recipe(replace(moco_v3.RECIPE, **bad), moco_v3)
