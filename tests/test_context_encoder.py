import torch

from ssl_examples.methods.context_encoder import (FILL, OVERLAP_WEIGHT, RECIPE, ContextEncoder, centre_region,
                                                   hole_and_weights, mask_images, random_blocks)
from ssl_examples.nets import make_backbone
from tests.conftest import from_recipe, loss_before_and_after


def test_the_centre_hole_and_its_overlap_band():
    region = centre_region(2, 32)
    assert region.sum() == 2 * 16 * 16 and region[0, 0, 8:24, 8:24].all()
    hole, weights = hole_and_weights(region, overlap=2)
    assert hole.sum() == 2 * 12 * 12 and hole[0, 0, 10:22, 10:22].all()
    # Weight 1 on the hidden hole, 10 on the visible band of the region, 0 elsewhere.
    assert set(weights.unique().tolist()) == {0.0, 1.0, OVERLAP_WEIGHT}
    assert torch.equal(weights == 1, hole.bool())
    assert torch.equal(weights == OVERLAP_WEIGHT, (region - hole).bool())
    x = torch.rand(2, 3, 32, 32)
    masked = mask_images(x, hole)
    assert (masked[:, :, 10:22, 10:22] == FILL).all()
    assert torch.equal(masked * (1 - hole), x * (1 - hole))  # the band is visible context


def test_random_blocks_cover_at_most_a_quarter():
    torch.manual_seed(0)
    region = random_blocks(50, 32)
    covered = region.mean((1, 2, 3))
    assert (covered > 0).all() and (covered <= 0.25).all()
    assert not torch.equal(region[0], region[1])


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = from_recipe(ContextEncoder, RECIPE, make_backbone("convnet"), 32, mask="centre")
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.7 * before


def test_the_adversarial_option_trains_both_players():
    torch.manual_seed(0)
    model = from_recipe(ContextEncoder, RECIPE, make_backbone("convnet"), 32, adversarial=True)
    loss, metrics = model({"image": (torch.rand(4, 3, 32, 32) * 255).to(torch.uint8)})
    assert {"rec", "adv", "disc"} <= set(metrics)
    loss.backward()
    assert model.discriminator[0].weight.grad.abs().sum() > 0
    assert model.backbone.features[0][0].weight.grad.abs().sum() > 0
