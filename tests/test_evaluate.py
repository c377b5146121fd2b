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


def test_knn_uses_cosine_similarity_so_feature_norms_do_not_matter():
    """Rescaling every feature vector leaves cosine kNN unchanged; a kNN on raw dot products
    would let long training vectors outvote the near ones."""
    x, y = blobs(400, 16, 4, 0, 1.0)
    xt, yt = blobs(200, 16, 4, 1, 1.0)
    g = torch.Generator().manual_seed(3)
    scales = torch.exp(torch.empty(len(x), 1).uniform_(-4, 4, generator=g))  # norms from 0.02x to 50x
    plain = knn_accuracy(x, y, xt, yt)
    assert plain > 0.9
    assert knn_accuracy(x * scales, y, xt * 7.0, yt) == plain


def test_linear_probe_standardises_test_features_with_the_training_statistics():
    """A test set holding one class only: standardising it with its own mean would move it
    onto the decision boundary (a leak of test statistics); the training statistics keep it
    where the classifier learned that class lives."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 2
    x = torch.stack([y.float() * 2 - 1, torch.zeros(400)], 1) + 0.3 * torch.randn(400, 2, generator=g)
    xt = torch.tensor([[1.0, 0.0]]) + 0.3 * torch.randn(300, 2, generator=g)  # class 1 only
    assert linear_probe(x, y, xt, torch.ones(300, dtype=torch.long)) > 0.95


def test_probe_layers_choose_on_val_and_report_test(tiny_data):
    """Each layer's weight decay is the one with the best validation accuracy, and the
    headline layer is the best on validation even when another layer is better on test."""
    from ssl_examples import evaluate
    from ssl_examples.data import ImageData
    from ssl_examples.nets import make_backbone

    data = ImageData("tiny", tiny_data.train, tiny_data.train, tiny_data.test, 2, 32, val=tiny_data.test)
    torch.manual_seed(0)
    out = evaluate.frozen_protocols(make_backbone("convnet"), data, torch.device("cpu"))
    assert list(out["layers"]) == ["block1", "block2", "block3", "block4", "block5"]
    for p in ("linear", "knn"):
        best = out["best"][p]
        assert out["layers"][best][p]["val"] == max(r[p]["val"] for r in out["layers"].values())
        assert out[p] == out["layers"][best][p]["test"]
    assert out["layers"]["block1"]["linear"]["weight_decay"] in evaluate.WEIGHT_DECAYS


def test_best_layer_ignores_test_accuracy():
    from ssl_examples.evaluate import best_layer

    per_layer = {"a": {"linear": {"val": 0.5, "test": 0.9}}, "b": {"linear": {"val": 0.6, "test": 0.1}}}
    assert best_layer(per_layer, "linear") == "b"
