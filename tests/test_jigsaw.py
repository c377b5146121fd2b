import torch

from ssl_examples.methods.jigsaw import (RECIPE, Jigsaw, hamming_distances, max_average_permutations, normalise_tiles,
                                         permutation_set, shuffle_tiles)
from ssl_examples.nets import make_backbone
from tests.conftest import from_recipe, loss_before_and_after


def test_each_added_permutation_maximises_the_summed_distance_to_the_chosen_ones():
    """The property the page claims (the paper's Algorithm 1), checked by brute force on the
    24 permutations of 4 tiles."""
    import itertools

    perms = max_average_permutations(12, tiles=4, seed=3)
    every = torch.tensor(list(itertools.permutations(range(4))))
    for k in range(1, len(perms)):
        chosen = perms[:k]
        rest = [p for p in every if not (chosen == p).all(1).any()]
        best = max(int((chosen != p).sum()) for p in rest)
        assert int((chosen != perms[k]).sum()) == best


def test_the_permutation_set_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_EXAMPLES_CACHE", str(tmp_path))
    perms = permutation_set.__wrapped__(100)
    assert perms.shape == (100, 9)
    assert all(sorted(p.tolist()) == list(range(9)) for p in perms)
    assert len(perms.unique(dim=0)) == 100
    d = hamming_distances(perms).float()
    assert d.sum() / (100 * 99) > 8.0  # far apart on average: most pairs differ everywhere
    # Cached in $SSL_EXAMPLES_CACHE, read back identical; computed again, identical.
    assert (tmp_path / "jigsaw-max-average-permutations-9-100.pt").is_file()
    assert torch.equal(permutation_set.__wrapped__(100), perms)
    assert torch.equal(max_average_permutations(10), perms[:10])


def test_unshuffling_with_the_inverse_permutation_recovers_the_image():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 30, 30)
    perms = max_average_permutations(10)
    shuffled, labels = shuffle_tiles(x, perms, tile=10, gap=0, jitter=0)
    for i in range(4):
        inverse = torch.argsort(perms[labels[i]])
        tiles = shuffled[i, inverse]  # back in reading order
        image = tiles.view(3, 3, 3, 10, 10).permute(2, 0, 3, 1, 4).reshape(3, 30, 30)
        assert torch.equal(image, x[i])
        if not torch.equal(perms[labels[i]], torch.arange(9)):  # the shuffled tiles really are out of place
            assert not torch.equal(shuffled[i], shuffled[i, inverse])


def test_tiles_are_normalised_one_by_one():
    t = normalise_tiles(torch.rand(5, 9, 3, 8, 8) * (0.5 + torch.rand(5, 9, 1, 1, 1)) + torch.rand(5, 9, 1, 1, 1))
    z = (t - 0.5) / 0.25
    assert torch.allclose(z.mean((2, 3, 4)), torch.zeros(5, 9), atol=1e-5)
    assert torch.allclose(z.std((2, 3, 4)), torch.ones(5, 9), atol=1e-2)


def test_a_training_step_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    # tiny_data holds 32-px images: cut them as the recipe cuts 64-px ones, at half the scale
    model = from_recipe(Jigsaw, RECIPE, make_backbone("convnet"), num_permutations=10, tile=8, gap=2, jitter=1)
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=10, lr=1e-3)
    assert after < 0.7 * before
