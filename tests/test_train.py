from dataclasses import replace

import pytest
import torch
from torch import nn

from ssl_examples.data import TensorImages
from ssl_examples.errors import UserError
from ssl_examples.methods.rotation import RotationPrediction
from ssl_examples.nets import make_backbone
from ssl_examples.train import Recipe, Runtime, load_checkpoint, save_checkpoint, train, warmup_cosine

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


def test_schedule_warms_up_then_decays_to_zero():
    f = warmup_cosine(100, 10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.5, abs=0.01) and f(100) == pytest.approx(0.0, abs=1e-9)


def test_training_logs_one_line_per_epoch(tiny_data, tmp_path):
    train(fresh_model(0), tiny_data.train, replace(RECIPE, epochs=2), RUNTIME, tmp_path)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"epoch": 2' in lines[1] and '"acc"' in lines[0]
