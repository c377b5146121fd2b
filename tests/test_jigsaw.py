import torch

from ssl_examples.methods.jigsaw import (Jigsaw, greedy_permutations, hamming_distances, normalise_tiles,
                                         permutation_set, shuffle_tiles)
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after


def test_the_permutation_set_is_deterministic_and_far_apart(tmp_path):
    perms = permutation_set(100, cache_dir=tmp_path)
    assert perms.shape == (100, 9)
    assert all(sorted(p.tolist()) == list(range(9)) for p in perms)
    assert len(perms.unique(dim=0)) == 100
    d = hamming_distances(perms)
    d.fill_diagonal_(9)
    assert d.min() >= 6  # the promised minimum distance of the 100-permutation set
    # Cached on disk, read back identical; computed again, identical.
    assert (tmp_path / "jigsaw-permutations-9-100.pt").is_file()
    assert torch.equal(permutation_set.__wrapped__(100, cache_dir=tmp_path), perms)
    assert torch.equal(greedy_permutations(10), perms[:10])


def test_unshuffling_with_the_inverse_permutation_recovers_the_image():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 30, 30)
    perms = greedy_permutations(10)
    shuffled, labels = shuffle_tiles(x, perms, tile=10, gap=0, jitter=0)
    for i in range(4):
        inverse = torch.argsort(perms[labels[i]])
        tiles = shuffled[i, inverse]  # back in reading order
        image = tiles.view(3, 3, 3, 10, 10).permute(2, 0, 3, 1, 4).reshape(3, 30, 30)
        assert torch.equal(image, x[i])
        if labels[i] != 0:  # not the identity: the shuffled tiles really are out of place
            assert not torch.equal(shuffled[i], shuffled[i, inverse])


def test_tiles_are_normalised_one_by_one():
    t = normalise_tiles(torch.rand(5, 9, 3, 8, 8) * (0.5 + torch.rand(5, 9, 1, 1, 1)) + torch.rand(5, 9, 1, 1, 1))
    z = (t - 0.5) / 0.25
    assert torch.allclose(z.mean((2, 3, 4)), torch.zeros(5, 9), atol=1e-5)
    assert torch.allclose(z.std((2, 3, 4)), torch.ones(5, 9), atol=1e-2)


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = Jigsaw(make_backbone("convnet"), num_permutations=10)
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.7 * before
