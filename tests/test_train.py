from dataclasses import replace

import pytest
import torch
from torch import nn

from ssl_examples.data import TensorImages, make_loader
from ssl_examples.errors import UserError
from ssl_examples.methods import moco, simclr
from ssl_examples.methods.rotation import RotationPrediction
from ssl_examples.nets import make_backbone
from ssl_examples.train import (LARS, Recipe, Runtime, autocast_dtype, load_checkpoint, make_optimizer,
                                save_checkpoint, train, warmup_cosine)

RECIPE = Recipe(epochs=3, batch_size=32, lr=1e-3, warmup_epochs=1)
RUNTIME = Runtime(device="cpu", progress=False, seed=3)


class DiesAfter(TensorImages):
    """A dataset whose process 'dies' after a number of batches, like a killed run."""

    def __init__(self, data: TensorImages, batches: int):
        super().__init__(data.images, data.labels)
        self.left = batches

    def __getitems__(self, indices):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().__getitems__(indices)


def fresh_model(seed):
    torch.manual_seed(seed)
    return RotationPrediction(make_backbone("convnet"), min_scale=0.5, hidden_dim=256)


def test_kill_then_resume_gives_bit_identical_weights(tiny_data, tmp_path):
    data = tiny_data.train  # 128 images, 4 batches an epoch
    whole = train(fresh_model(0), data, RECIPE, RUNTIME, tmp_path / "whole")

    killed_dir = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):  # dies in the middle of epoch 2
        train(fresh_model(0), DiesAfter(data, 6), RECIPE, RUNTIME, killed_dir)
    assert load_checkpoint(killed_dir / "checkpoint.pt")["epoch"] == 1
    torch.manual_seed(12345)  # the resumed process starts with other RNG state and other weights
    resumed = train(fresh_model(99), data, RECIPE, RUNTIME, killed_dir, resume=True)

    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    # ...and the comparison is not vacuous: one more epoch would change the weights.
    longer = train(fresh_model(0), data, replace(RECIPE, epochs=4), RUNTIME)
    assert not torch.equal(longer.backbone.features[0][0].weight, whole.backbone.features[0][0].weight)


def test_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"format": "ssl_examples/1", "x": torch.ones(2)})

    def broken_save(obj, f):
        open(f, "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, {"format": "ssl_examples/1", "x": torch.zeros(2)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["x"], torch.ones(2))  # the old checkpoint is intact


def test_corrupt_and_foreign_checkpoints_are_user_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(UserError, match="not a valid checkpoint"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(UserError, match="not an ssl_examples checkpoint"):
        load_checkpoint(foreign)


def test_checkpoints_never_unpickle_code(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "ssl_examples/1", "payload": nn.Linear(2, 2)}, evil)  # a pickled module
    with pytest.raises(UserError):
        load_checkpoint(evil)


class Diverges(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(1, 1)

    def forward(self, batch):
        return self.backbone.weight.sum() * float("nan"), {}


def test_non_finite_loss_stops_with_a_user_error(tiny_data):
    with pytest.raises(UserError, match="loss became nan at epoch 1, step 1"):
        train(Diverges(), tiny_data.train, RECIPE, RUNTIME)


class GoesBadAt(RotationPrediction):
    """Rotation prediction whose loss turns ``value`` (nan, inf) at its ``call``-th step."""

    def __init__(self, call: int, value: float):
        torch.manual_seed(0)
        super().__init__(make_backbone("convnet"), min_scale=0.5, hidden_dim=256)
        self.calls, self.bad_call, self.value = 0, call, value

    def forward(self, batch):
        self.calls += 1
        loss, metrics = super().forward(batch)
        return (loss * self.value if self.calls == self.bad_call else loss), metrics


@pytest.mark.parametrize("call, value, where, progress", [(6, float("nan"), "nan at epoch 2, step 2", False),
                                                          (11, float("inf"), "inf at epoch 3, step 3", True)])
def test_a_planted_non_finite_loss_names_its_epoch_and_step(tiny_data, tmp_path, call, value, where, progress):
    # 4 steps an epoch; the loss is read at the epoch's end (and by the progress bar), not at every step.
    with pytest.raises(UserError, match=f"the loss became {where}; try a lower --lr") as error:
        train(GoesBadAt(call, value), tiny_data.train, RECIPE, replace(RUNTIME, progress=progress), tmp_path)
    assert "\n" not in str(error.value)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == (call - 1) // 4  # the bad epoch is not saved


# --- the step as it was before it stopped waiting for the device: the reference ----------
class ReferenceLARS(torch.optim.SGD):
    """LARS as it was, one parameter at a time (two host synchronisations per parameter)."""

    def __init__(self, params, lr: float, momentum: float = 0.9, trust: float = 1e-3):
        super().__init__(params, lr=lr, momentum=momentum)
        self.trust = trust

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            if group["weight_decay"] == 0:
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.grad.add_(p, alpha=group["weight_decay"])
                w, g = p.norm(), p.grad.norm()
                if w > 0 and g > 0:
                    p.grad.mul_(self.trust * w / g)
        wd = [g["weight_decay"] for g in self.param_groups]
        for g in self.param_groups:
            g["weight_decay"] = 0
        try:
            return super().step(closure)
        finally:
            for g, d in zip(self.param_groups, wd):
                g["weight_decay"] = d


def reference_losses(model: nn.Module, dataset: TensorImages, recipe: Recipe, runtime: Runtime) -> list[float]:
    """The training loop as it was: torch's DataLoader, a non-finite check and ``float()`` at every step."""
    amp = autocast_dtype(torch.device("cpu"), runtime.precision)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = {"adamw": lambda: torch.optim.AdamW(groups, lr=recipe.lr),
                 "sgd": lambda: torch.optim.SGD(groups, lr=recipe.lr, momentum=0.9, nesterov=True),
                 "lars": lambda: ReferenceLARS(groups, lr=recipe.lr)}[recipe.optimizer]()
    steps = len(dataset) // recipe.batch_size
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(recipe.epochs * steps, int(recipe.warmup_epochs * steps)))
    losses = []
    for epoch in range(recipe.epochs):
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=recipe.batch_size, shuffle=True, drop_last=True, collate_fn=lambda b: b,
            generator=torch.Generator().manual_seed(runtime.seed * 100_003 + epoch))
        model.train()
        for step, batch in enumerate(loader):
            with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
                loss, metrics = model(batch)
            assert torch.isfinite(loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    return losses


def small(method: str) -> nn.Module:
    torch.manual_seed(0)
    if method == "simclr":
        return simclr.build(replace(simclr.RECIPE, proj_dim=16, hidden_dim=32), None)
    return moco.build(replace(moco.RECIPE, queue_size=48, proj_dim=16, hidden_dim=32, bn_splits=2), None)


@pytest.mark.parametrize("method, optimizer", [("simclr", "lars"), ("simclr", "sgd"), ("moco", "adamw")])
def test_twenty_steps_give_the_reference_losses_bit_for_bit(method, optimizer, tiny_data):
    data = tiny_data.train.subset(torch.arange(64))  # 4 steps of 16 an epoch, 5 epochs
    recipe = Recipe(epochs=5, batch_size=16, optimizer=optimizer, lr=0.3 if optimizer != "adamw" else 1e-3,
                    warmup_epochs=1)
    reference = small(method)
    torch.manual_seed(1)
    expected = reference_losses(reference, data, recipe, RUNTIME)

    model, losses = small(method), []
    model.register_forward_hook(lambda module, args, out: losses.append(out[0].detach().clone()))
    torch.manual_seed(1)
    train(model, data, recipe, RUNTIME)
    assert len(expected) == 20 and [float(x) for x in losses] == expected
    assert expected[0] != expected[-1]


def test_lars_gives_the_reference_step():
    torch.manual_seed(0)
    nets = [make_backbone("convnet") for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    recipe = Recipe(optimizer="lars", lr=0.5, weight_decay=1e-3)
    ours = make_optimizer(nets[0], recipe)
    assert isinstance(ours, LARS)
    decay = [p for p in nets[1].parameters() if p.ndim > 1]
    reference = ReferenceLARS([{"params": decay, "weight_decay": 1e-3},
                               {"params": [p for p in nets[1].parameters() if p.ndim <= 1], "weight_decay": 0.0}],
                              lr=0.5)
    x = torch.randn(8, 3, 32, 32)
    for net in nets:  # a zero weight (with a gradient): its ratio is skipped, as before
        net.features[0][0].weight.data.zero_()
        net.features[0][1].bias.data.fill_(1.0)  # so that the ReLU after it passes a gradient
    for _ in range(3):
        for net, opt in zip(nets, (ours, reference)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for a, b in zip(*(net.parameters() for net in nets)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert not torch.equal(nets[0].features[0][0].weight, torch.zeros_like(nets[0].features[0][0].weight))


@pytest.mark.parametrize("drop_last", [True, False])
def test_in_memory_batches_come_in_the_dataloader_order(drop_last):
    data = TensorImages(torch.zeros(37, 3, 2, 2, dtype=torch.uint8), torch.arange(37))
    for seed in (0, 7):
        ours = [b["index"] for b in make_loader(data, 8, shuffle=True, seed=seed, drop_last=drop_last)]
        torchs = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True, drop_last=drop_last,
                                             generator=torch.Generator().manual_seed(seed), collate_fn=lambda b: b)
        assert [b["index"].tolist() for b in torchs] == [b.tolist() for b in ours]
        assert len(ours) == (4 if drop_last else 5)


def test_schedule_warms_up_then_decays_to_zero():
    f = warmup_cosine(100, 10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.5, abs=0.01) and f(100) == pytest.approx(0.0, abs=1e-9)


class ConstantHead(RotationPrediction):
    """A model that asks for its head's learning rate to stay at the base rate (as SimSiam's
    predictor with ``fix_pred_lr``)."""

    def constant_lr_parameters(self):
        return list(self.head.parameters())


def test_constant_lr_parameters_keep_the_base_rate_while_the_rest_decays(tiny_data, monkeypatch):
    import ssl_examples.train as train_module

    made = []
    monkeypatch.setattr(train_module, "make_optimizer",
                        lambda model, recipe: made.append(make_optimizer(model, recipe)) or made[-1])
    torch.manual_seed(0)
    model = ConstantHead(make_backbone("convnet"), min_scale=0.5, hidden_dim=256)
    train(model, tiny_data.train, RECIPE, RUNTIME)
    groups = made[0].param_groups
    head = {id(p) for p in model.head.parameters()}
    constant = [g for g in groups if g.get("constant_lr")]
    assert len(groups) == 4 and {id(p) for g in constant for p in g["params"]} == head
    assert all(g["lr"] == RECIPE.lr for g in constant)
    assert all(g["lr"] < 1e-3 * RECIPE.lr for g in groups if not g.get("constant_lr"))  # the cosine's end
    # A model that asks for nothing keeps the two usual groups, none of them constant.
    plain = make_optimizer(fresh_model(0), RECIPE).param_groups
    assert len(plain) == 2 and not any(g.get("constant_lr") for g in plain)


def test_training_logs_one_line_per_epoch(tiny_data, tmp_path):
    train(fresh_model(0), tiny_data.train, replace(RECIPE, epochs=2), RUNTIME, tmp_path)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"epoch": 2' in lines[1] and '"acc"' in lines[0]
