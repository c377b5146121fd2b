import torch

from ssl_examples.evaluate import balanced_subset, knn_accuracy, linear_probe


def blobs(n, dim, classes, seed, spread):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(123)) * 3
    y = torch.arange(n) % classes
    return centres[y] + spread * torch.randn(n, dim, generator=g), y


def test_linear_probe_separates_separable_features():
    x, y = blobs(400, 32, 5, 0, 0.5)
    xt, yt = blobs(200, 32, 5, 1, 0.5)
    assert linear_probe(x, y, xt, yt) > 0.99


def test_linear_probe_is_at_chance_on_noise():
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(600, 32, generator=g), torch.randn(2000, 32, generator=g)
    y, yt = torch.randint(0, 4, (600,), generator=g), torch.randint(0, 4, (2000,), generator=g)
    assert abs(linear_probe(x, y, xt, yt) - 0.25) < 0.05


def test_knn_on_separable_and_noise():
    x, y = blobs(400, 16, 4, 0, 0.3)
    xt, yt = blobs(200, 16, 4, 1, 0.3)
    assert knn_accuracy(x, y, xt, yt, k=20) > 0.99
    g = torch.Generator().manual_seed(0)
    noise = knn_accuracy(torch.randn(800, 16, generator=g), torch.randint(0, 4, (800,), generator=g),
                         torch.randn(2000, 16, generator=g), torch.randint(0, 4, (2000,), generator=g))
    assert abs(noise - 0.25) < 0.05


def test_knn_weights_close_neighbours_more():
    # One close neighbour of class 1 against two far ones of class 0: the weighted vote picks 1.
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = torch.tensor([1, 0, 0])
    query = torch.tensor([[1.0, 0.05]])
    assert knn_accuracy(train, labels, query, torch.tensor([1]), k=3, temperature=0.07) == 1.0


def test_balanced_subset_takes_the_same_number_per_class():
    labels = torch.arange(1000) % 10
    idx = balanced_subset(labels, 0.1)
    assert len(idx) == 100 and torch.bincount(labels[idx]).tolist() == [10] * 10
    assert len(balanced_subset(labels, 0.001)) == 10  # at least one per class
