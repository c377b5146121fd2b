"""Pieces every application shares: the small network, a rotation head beside a classifier,
training with the one loop, predictions, settings, and storing results for the pages."""

import contextlib
import io
import json
import os
import platform
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import random_resized_crop_flip
from ..checks import parse_settings
from ..errors import UserError
from ..evaluate import backbone_input
from ..methods.rotation import rotate_batch
from ..nets import ConvNet
from ..train import Recipe, Runtime, train

REPO = Path(__file__).resolve().parents[2]
SEEDS = (0, 1, 2)


def small_backbone(width: int = 16) -> ConvNet:
    """The course's ConvNet at a quarter of its cost (width 16: ~0.13 M parameters), so that an
    application trains six networks (two variants, three seeds) in about two minutes on a CPU."""
    return ConvNet(3, width=width)


# --8<-- [start:rotation-head]
class RotationAuxClassifier(nn.Module):
    """A classifier with a rotation head beside it on the same features (Hendrycks et al.).

    Every image of the batch is shown in its four rotations; the classifier reads the upright
    copy, the rotation head all four, and the two losses add up:
    ``L = CE(y, p(y | x)) + λ · 1/4 Σ_r CE(r, p_rot(r | rot_r(x)))``. With ``λ = 0`` it is the
    plain supervised classifier (and skips the rotated copies).
    """

    def __init__(self, backbone: nn.Module, num_classes: int, rotation_weight: float):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.feature_dim, num_classes)
        self.rotation_head = nn.Linear(backbone.feature_dim, 4)
        self.rotation_weight = rotation_weight

    def forward(self, batch):
        x = random_resized_crop_flip(backbone_input(batch["image"], 3), scale=(0.6, 1.0))
        y = batch["label"]
        if self.rotation_weight == 0:
            logits = self.classifier(self.backbone(x))
            loss = F.cross_entropy(logits, y)
            return loss, {"acc": (logits.argmax(1) == y).float().mean().detach()}
        x4, r = rotate_batch(x)  # the first B rows are the upright images
        features = self.backbone(x4)
        logits = self.classifier(features[: len(x)])
        rotation_logits = self.rotation_head(features)
        rotation_loss = F.cross_entropy(rotation_logits, r)
        loss = F.cross_entropy(logits, y) + self.rotation_weight * rotation_loss
        return loss, {"acc": (logits.argmax(1) == y).float().mean().detach(),
                      "rot_acc": (rotation_logits.argmax(1) == r).float().mean().detach()}
# --8<-- [end:rotation-head]


def fit(build, dataset, recipe: Recipe, seed: int, device: str, verbose: bool = False) -> nn.Module:
    """Seed torch, build the model with ``build()`` (so its initialisation is the seed's, whatever
    ran before in the process) and train it with the one loop (``train.py``); quiet unless
    ``verbose``.

    In fp32 everywhere: bf16 (the loop's choice on GPUs and on CPUs that compute it natively)
    would change the stored numbers by rounding from one machine to the next."""
    torch.manual_seed(seed)
    model = build()
    runtime = Runtime(device=device, precision="fp32", seed=seed, progress=False)
    out = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with out:
        train(model, dataset, recipe, runtime)
    return model.eval()


@torch.no_grad()
def batched(fn, images: torch.Tensor, device, batch_size: int = 500) -> torch.Tensor:
    """``fn(float images in [0, 1] on device)`` over a uint8 tensor in chunks; results on the CPU."""
    out = [fn(images[i:i + batch_size].to(device).float() / 255).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


def override(config, settings: list[str]):
    """``["name=value", ...]`` -> a copy of the ``config`` dataclass with those fields changed
    (``checks.parse_settings``: each cast to the field's type, a tuple from comma-separated values)."""
    return replace(config, **parse_settings(config, settings, "this application"))


class CpuClock:
    """CPU seconds of this process (all threads) and wall seconds since it was made.

    On a machine shared with other work, wall time is inflated and CPU time is not; with one
    thread, CPU time is what the run would take on a quiet core."""

    def __init__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def read(self) -> dict:
        return {"cpu_seconds": round(time.process_time() - self.cpu, 1),
                "wall_seconds": round(time.perf_counter() - self.wall, 1), "threads": torch.get_num_threads()}


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__}


def save_results(path: Path, key: str, payload: dict) -> None:
    """Store ``payload`` under ``key`` ("test" or "selection") of the JSON at ``path``, keeping
    the other key; written to a temporary file and renamed, so a crash leaves the old file."""
    path = Path(path)
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise UserError(f"{path} is not valid JSON; move it away to write new results") from None
    data[key] = {**payload, "updated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 "machine": machine()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
