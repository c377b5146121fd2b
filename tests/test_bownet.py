import torch

from ssl_examples.methods.bownet import BoWNet, bag_of_words, cutout, perturb, soft_assign
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after


def test_the_bag_of_words_is_a_distribution_peaked_on_present_words():
    torch.manual_seed(0)
    words = torch.randn(6, 4) * 3
    maps = words[[0, 0, 2, 2]].T.reshape(1, 4, 2, 2) + 0.01 * torch.randn(1, 4, 2, 2)
    q = soft_assign(maps, words, delta=1.0)
    assert torch.allclose(q.sum(1), torch.ones(1, 4))
    bow = bag_of_words(maps, words, delta=1.0)
    assert torch.allclose(bow.sum(1), torch.ones(1))
    assert set(bow[0].topk(2).indices.tolist()) == {0, 2}
    assert bow[0, [0, 2]].sum() > 0.95


def test_cutout_hides_one_square_and_perturb_keeps_shape():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 12, 12)
    out = cutout(x, 4)
    assert ((out == 0.5).all(1).sum((1, 2)) == 16).all()
    assert perturb(x, 0.35).shape == x.shape


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    teacher = make_backbone("convnet")
    batch = tiny_data.train.__getitems__(list(range(16)))
    with torch.no_grad():  # words: local features of the teacher, so the bags are peaked
        local = teacher.eval().forward_maps(batch["image"].float() / 255).flatten(2).transpose(1, 2).flatten(0, 1)
    words = local[torch.randperm(len(local))[:16]]
    delta = torch.cdist(local, words).min(1).values.square().mean().item()
    model = BoWNet(make_backbone("convnet"), teacher, words, delta, min_scale=0.35)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    model.train()
    assert not model.teacher.training
    # Watch the KL part: the loss minus its floor, the targets' entropy.
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], measure=lambda m: m(batch)[1]["kl"],
                                          params=[p for p in model.parameters() if p.requires_grad])
    assert after < 0.7 * before
    for k, v in teacher.state_dict().items():  # the bootstrap network is frozen
        assert torch.equal(v, teacher_before[k])
