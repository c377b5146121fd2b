from dataclasses import replace

import pytest
import torch

from ssl_examples.checks import check_recipe
from ssl_examples.errors import UserError
from ssl_examples.methods import mae
from ssl_examples.methods.mae import MAE, masked_mse, normalise_patches, patchify, random_masking, unpatchify
from ssl_examples.nets import ViT
from tests.conftest import loss_before_and_after


def small_mae(mask_ratio=0.75):
    torch.manual_seed(0)
    return MAE(ViT(3, patch_size=4, width=16, depth=2, heads=2), mask_ratio=mask_ratio, decoder_width=16,
               decoder_depth=1, decoder_heads=2, norm_pix_loss=True, min_scale=0.2)


def test_masking_hides_75_percent_and_visible_and_masked_are_disjoint():
    torch.manual_seed(0)
    keep, masked = random_masking(8, 64, 0.75)
    assert keep.shape == (8, 16) and masked.shape == (8, 64)
    assert (masked.sum(1) == 48).all()
    for b in range(8):
        visible = set(keep[b].tolist())
        hidden = set(masked[b].nonzero().squeeze(1).tolist())
        assert len(visible) == 16 and not visible & hidden and visible | hidden == set(range(64))
    assert len({tuple(sorted(k.tolist())) for k in keep}) == 8  # every image its own mask
    # over many draws every patch is hidden about 75 % of the time
    _, many = random_masking(4000, 64, 0.75)
    assert (many.float().mean(0) - 0.75).abs().max() < 0.03


def test_patchify_reads_patches_in_order_and_unpatchify_inverts_it():
    x = torch.rand(2, 3, 8, 12)
    patches = patchify(x, 4)
    assert patches.shape == (2, 6, 48)
    # patch 4 is row 1, column 1; its values are (row, column, channel) in that order
    assert torch.equal(patches[:, 4], x[:, :, 4:8, 4:8].permute(0, 2, 3, 1).reshape(2, 48))
    assert torch.equal(unpatchify(patches, 4, 3, 8, 12), x)


def test_the_encoder_never_sees_masked_patches():
    model = small_mae().eval()
    torch.manual_seed(1)
    x = torch.rand(2, 3, 32, 32)
    keep, masked = random_masking(2, 64, 0.75)
    other = x.clone()
    for b in range(2):  # new pixels in every masked patch
        for i in masked[b].nonzero().squeeze(1).tolist():
            r, c = divmod(i, 8)
            other[b, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4] = torch.rand(3, 4, 4)
    with torch.no_grad():
        tokens, tokens_other = model.backbone.forward_tokens(x, keep), model.backbone.forward_tokens(other, keep)
        assert tokens.shape == (2, 1 + 16, 16)
        assert torch.allclose(tokens, tokens_other, atol=1e-6)
        assert torch.allclose(model.reconstruct(x, keep), model.reconstruct(other, keep), atol=1e-6)
        # not vacuous: the pixels did change, and the visible ones matter
        assert not torch.allclose(model.backbone.forward_tokens(x), model.backbone.forward_tokens(other))
        assert not torch.allclose(tokens, model.backbone.forward_tokens(x, (keep + 1) % 64))


def test_the_loss_equals_the_formula_written_out():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 8, 8, generator=g)
    prediction = torch.randn(2, 4, 48, generator=g)
    masked = torch.tensor([[True, False, True, True], [False, True, True, False]])
    total, count = 0.0, 0
    for b in range(2):
        for i in range(4):
            if not masked[b, i]:
                continue
            r, c = divmod(i, 2)
            patch = [float(x[b, ch, 4 * r + u, 4 * c + v]) for u in range(4) for v in range(4) for ch in range(3)]
            mean = sum(patch) / 48
            var = sum((p - mean) ** 2 for p in patch) / 47  # unbiased, as the paper's code
            target = [(p - mean) / (var + 1e-6) ** 0.5 for p in patch]
            total += sum((float(prediction[b, i, j]) - target[j]) ** 2 for j in range(48)) / 48
            count += 1
    loss = masked_mse(prediction, normalise_patches(patchify(x, 4)), masked)
    assert abs(loss.item() - total / count) < 1e-5


def test_visible_patches_do_not_enter_the_loss():
    target = torch.zeros(1, 4, 3)
    prediction = torch.tensor([[[9.0] * 3, [1.0] * 3, [9.0] * 3, [1.0] * 3]])
    masked = torch.tensor([[False, True, False, True]])
    assert masked_mse(prediction, target, masked).item() == 1.0


def test_a_training_step_lowers_the_loss(tiny_data):
    model = small_mae()
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=15, lr=2e-3)
    assert after < 0.9 * before


def test_bad_recipes_are_one_line_errors():
    check_recipe(mae.RECIPE, mae)
    for bad, message in [(dict(backbone="convnet"), "needs a Vision Transformer"),
                         (dict(mask_ratio=1.0), "mask-ratio"), (dict(image_size=30), "multiple of the 4 px")]:
        with pytest.raises(UserError, match=message):
            check_recipe(replace(mae.RECIPE, **bad), mae)
