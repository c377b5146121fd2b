import math

import pytest
import torch
import torch.nn.functional as F

from ssl_examples.data import TensorImages
from ssl_examples.methods.moco import (RECIPE, MoCo, SplitBatchNorm, enqueue, info_nce_with_queue, momentum_update,
                                       split_batchnorm)
from ssl_examples.nets import make_backbone
from ssl_examples.train import Recipe, Runtime, train

from .conftest import from_recipe
from .gloo import average_gradients, run_processes
from .test_train import DiesAfter


def test_info_nce_with_a_queue_equals_its_definition():
    g = torch.Generator().manual_seed(0)
    q, k, queue = (F.normalize(torch.randn(n, 8, generator=g), dim=1) for n in (5, 5, 12))
    t = 0.2
    expected = 0.0
    for n in range(5):
        pos = math.exp(float(q[n] @ k[n]) / t)
        neg = sum(math.exp(float(q[n] @ queue[j]) / t) for j in range(12))
        expected += -math.log(pos / (pos + neg)) / 5
    assert abs(info_nce_with_queue(q, k, queue, t).item() - expected) < 1e-4


def test_momentum_update_moves_the_key_weights_towards_the_query_weights():
    torch.manual_seed(0)
    query, key = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.clone() for p in key.parameters()]
    momentum_update(key, query, 0.9)
    for b, pk, pq in zip(before, key.parameters(), query.parameters()):
        assert torch.allclose(pk, 0.9 * b + 0.1 * pq)
    momentum_update(key, query, 0.0)  # m = 0: a plain copy
    assert all(torch.equal(a, b) for a, b in zip(key.parameters(), query.parameters()))


def test_enqueue_overwrites_the_oldest_keys_and_wraps_around():
    queue, pointer = torch.zeros(5, 1), torch.zeros((), dtype=torch.long)
    enqueue(queue, pointer, torch.tensor([[1.0], [2.0], [3.0]]))
    assert queue.flatten().tolist() == [1, 2, 3, 0, 0] and pointer.item() == 3
    enqueue(queue, pointer, torch.tensor([[4.0], [5.0], [6.0]]))  # 6 replaces the oldest, 1
    assert queue.flatten().tolist() == [6, 2, 3, 4, 5] and pointer.item() == 1


def test_split_batchnorm_normalises_each_group_on_its_own():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4) * 3 + 1
    bn = torch.nn.BatchNorm2d(3)
    split = split_batchnorm(torch.nn.Sequential(bn), 2)[0]
    assert isinstance(split, SplitBatchNorm)
    expected = torch.cat([torch.nn.BatchNorm2d(3)(x[:4]), torch.nn.BatchNorm2d(3)(x[4:])])
    assert torch.allclose(split(x), expected, atol=1e-5)
    assert torch.allclose(split.running_mean, 0.1 * x.mean(dim=(0, 2, 3)), atol=1e-5)
    split.eval()  # evaluation: an ordinary BatchNorm with the running statistics
    assert torch.allclose(split(x), F.batch_norm(x, split.running_mean, split.running_var, split.weight,
                                                 split.bias, False, 0.0, split.eps))
    assert set(split.state_dict()) == set(bn.state_dict())


def test_the_queue_fills_with_the_batch_keys(tiny_data):
    torch.manual_seed(0)
    model = from_recipe(MoCo, RECIPE, make_backbone("convnet"), queue_size=64, bn_splits=4)
    batch = tiny_data.train.__getitems__(list(range(16)))
    model(batch)
    assert model.queue_pointer.item() == 16
    assert torch.allclose(model.queue[:16].norm(dim=1), torch.ones(16))


def small_moco(bn_splits):
    torch.manual_seed(0)
    return from_recipe(MoCo, RECIPE, make_backbone("convnet"), temperature=0.2, momentum=0.9, queue_size=32,
                       proj_dim=8, hidden_dim=16, bn_splits=bn_splits)


def views(n):
    g = torch.Generator().manual_seed(3)
    return torch.rand(n, 3, 16, 16, generator=g), torch.rand(n, 3, 16, 16, generator=g)


def shuffled_bn_rank(rank, world, per_process):
    model = small_moco(bn_splits=1)  # one process = one BatchNorm group, as on one GPU each
    xq, xk = views(per_process * world)
    mine = slice(rank * per_process, (rank + 1) * per_process)
    torch.manual_seed(1)  # the key shuffle
    loss, _ = model.loss_from_views(xq[mine], xk[mine])
    loss.backward()
    average_gradients(model)
    return loss.item(), [p.grad for p in model.backbone.parameters()], model.queue


def test_shuffled_bn_on_two_processes_equals_split_bn_on_one(tmp_path):
    b = 4
    results = run_processes(shuffled_bn_rank, (b,), tmp_path)
    model = small_moco(bn_splits=2)  # the single-process emulation
    torch.manual_seed(1)
    loss, _ = model.loss_from_views(*views(2 * b))
    loss.backward()
    assert abs(sum(r[0] for r in results) / 2 - loss.item()) < 1e-5
    for (name, p), g0 in zip(model.backbone.named_parameters(), results[0][1]):
        assert torch.allclose(g0, p.grad, atol=1e-6, rtol=1e-4), name
    assert torch.allclose(results[0][2], model.queue, atol=1e-6)  # both enqueued the global batch's keys
    assert torch.equal(results[0][2], results[1][2])
    # ...and not vacuous: without the shuffle the keys (and so the loss) would differ.
    other = small_moco(bn_splits=2)
    torch.manual_seed(2)
    assert abs(other.loss_from_views(*views(2 * b))[0].item() - loss.item()) > 1e-6


def test_kill_then_resume_keeps_queue_and_key_encoder_exact(tmp_path):
    g = torch.Generator().manual_seed(0)
    data = TensorImages(torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8, generator=g), torch.zeros(32, dtype=torch.long))
    recipe = Recipe(epochs=2, batch_size=8, lr=1e-3, warmup_epochs=0)
    runtime = Runtime(device="cpu", progress=False)

    def fresh():
        torch.manual_seed(0)
        return from_recipe(MoCo, RECIPE, make_backbone("convnet"), queue_size=24, proj_dim=8, hidden_dim=16,
                           bn_splits=2)

    whole = train(fresh(), data, recipe, runtime, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):  # killed during epoch 2 (4 batches an epoch)
        train(fresh(), DiesAfter(data, 6), recipe, runtime, tmp_path / "cut")
    torch.manual_seed(99)
    resumed = train(fresh(), data, recipe, runtime, tmp_path / "cut", resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert whole.queue_pointer.item() == (2 * 32) % 24
    assert not torch.equal(whole.key_backbone.features[0][0].weight, fresh().key_backbone.features[0][0].weight)


def test_the_projection_head_is_moco_v2s_fc_relu_fc_without_batchnorm():
    model = from_recipe(MoCo, RECIPE, make_backbone("convnet"))
    kinds = [type(m) for m in model.head]
    assert kinds == [torch.nn.Linear, torch.nn.ReLU, torch.nn.Linear]
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.head.modules())
