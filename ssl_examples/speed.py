"""Training throughput of SimCLR and MoCo: ours next to lightly's, interleaved in one run.

``python -m ssl_examples bench --speed`` prints three tables, all in images per second
(an image's two views count once):

1. augmentation only: two SimCLR views of a batch, our batched ops on the device vs
   kornia (batched) vs per-image pipelines (torchvision v2 on uint8 tensors, lightly's
   ``SimCLRTransform`` on PIL images);
2. one optimisation step on ready-made views: our SimCLR / MoCo modules vs lightly's heads
   and losses (``SimCLRProjectionHead`` + ``NTXentLoss``; ``MoCoProjectionHead`` +
   ``NTXentLoss`` with a memory bank + ``update_momentum``) on the same backbone, batch and
   optimiser (SGD with momentum);
3. end to end: ours (uint8 batches from memory, augmented on the device inside the model)
   vs lightly's recipe (per-image transforms in a DataLoader, then the step).

Measurements of the two contenders alternate (A, B, A, B, ...) so that a machine whose
load changes during the run hurts both alike; each number is the median over ``steps``.
The same command with ``--device cuda --precision bf16 --channels-last --compile`` is the
GPU check (``benchmarks/gpu_check.sh`` runs the combinations).
"""

import copy
import statistics
import time
from dataclasses import replace

import torch
from torch import nn

from .augment import simclr_view
from .methods import moco, simclr
from .nets import make_backbone
from .train import Runtime, autocast_dtype, pick_device

HIDDEN, OUT = 512, 128  # projection heads: the same sizes on both sides


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(contenders: dict, steps: int, device: torch.device, warmup: int = 1) -> dict[str, float]:
    """Median seconds per call of each zero-argument function, calls alternating between them."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(warmup + steps):
        for name, fn in contenders.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# --- augmentation only -------------------------------------------------------------------
def augmentation_contenders(images: torch.Tensor, device: torch.device) -> dict:
    import kornia.augmentation as K
    from lightly.transforms import SimCLRTransform
    from PIL import Image
    from torchvision.transforms import v2

    size = images.shape[-1]
    on_device = images.to(device)
    kornia_view = nn.Sequential(
        K.RandomResizedCrop((size, size)), K.RandomHorizontalFlip(),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8), K.RandomGrayscale(p=0.2)).to(device)
    tv_view = v2.Compose([v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip(),
                          v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), v2.RandomGrayscale(0.2),
                          v2.ToDtype(torch.float32, scale=True)])
    lightly_views = SimCLRTransform(input_size=size, cj_strength=0.5, gaussian_blur=0.0, normalize=None)
    pil = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]

    def ours():
        x = on_device.float() / 255
        return simclr_view(x), simclr_view(x)

    def kornia():
        x = on_device.float() / 255
        return kornia_view(x), kornia_view(x)

    def torchvision_per_image():
        return torch.stack([tv_view(im) for im in images]), torch.stack([tv_view(im) for im in images])

    def lightly_per_image():
        pairs = [lightly_views(im) for im in pil]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    return {"ours (batched, on device)": ours, "kornia (batched, on device)": kornia,
            "torchvision v2 (per image)": torchvision_per_image, "lightly SimCLRTransform (per image)": lightly_per_image}


# --- the two methods, ours and lightly's -------------------------------------------------
class LightlySimCLR(nn.Module):
    """lightly's SimCLR pieces around our backbone (the same single forward of both views)."""

    def __init__(self, backbone: nn.Module, temperature: float = 0.5):
        from lightly.loss import NTXentLoss
        from lightly.models.modules import SimCLRProjectionHead

        super().__init__()
        self.backbone = backbone
        self.head = SimCLRProjectionHead(backbone.feature_dim, HIDDEN, OUT)
        self.criterion = NTXentLoss(temperature=temperature)

    def loss_from_views(self, v1, v2):
        z1, z2 = self.head(self.backbone(torch.cat([v1, v2]))).chunk(2)
        return self.criterion(z1, z2), {}


class LightlyMoCo(nn.Module):
    """lightly's MoCo pieces: projection head, momentum copies, NTXentLoss with a memory bank."""

    def __init__(self, backbone: nn.Module, temperature: float = 0.2, momentum: float = 0.99, queue: int = 4096):
        from lightly.loss import NTXentLoss
        from lightly.models.modules import MoCoProjectionHead
        from lightly.models.utils import deactivate_requires_grad

        super().__init__()
        self.backbone = backbone
        self.head = MoCoProjectionHead(backbone.feature_dim, HIDDEN, OUT, batch_norm=True)
        self.key_backbone, self.key_head = copy.deepcopy(self.backbone), copy.deepcopy(self.head)
        deactivate_requires_grad(self.key_backbone)
        deactivate_requires_grad(self.key_head)
        self.criterion = NTXentLoss(temperature=temperature, memory_bank_size=(queue, OUT))
        self.momentum = momentum

    def loss_from_views(self, x_q, x_k):
        from lightly.models.utils import update_momentum

        update_momentum(self.backbone, self.key_backbone, self.momentum)
        update_momentum(self.head, self.key_head, self.momentum)
        q = self.head(self.backbone(x_q))
        k = self.key_head(self.key_backbone(x_k)).detach()
        return self.criterion(q, k), {}


def make_models(backbone: str, device: torch.device, channels_last: bool) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    models = {
        "SimCLR ours": simclr.build(replace(simclr.RECIPE, backbone=backbone, temperature=0.5, proj_dim=OUT,
                                            hidden_dim=HIDDEN), None),
        "SimCLR lightly": LightlySimCLR(make_backbone(backbone)),
        "MoCo ours": moco.build(replace(moco.RECIPE, backbone=backbone, proj_dim=OUT, hidden_dim=HIDDEN, bn_splits=1),
                                None),
        "MoCo lightly": LightlyMoCo(make_backbone(backbone)),
    }
    for m in models.values():
        m.to(device).train()
        if channels_last:
            m.to(memory_format=torch.channels_last)
    return models


def make_step(model: nn.Module, loss_fn, device: torch.device, amp: torch.dtype | None, compile_model: bool):
    """One SGD step (the same optimiser for every contender) as a zero-argument function."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=5e-4)
    if compile_model:
        model.backbone.compile()

    def step():
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def lightly_loader(images: torch.Tensor, batch_size: int, workers: int):
    """lightly's way: PIL images through a per-image two-view transform in a DataLoader."""
    from lightly.transforms import SimCLRTransform
    from PIL import Image

    transform = SimCLRTransform(input_size=images.shape[-1], cj_strength=0.5, gaussian_blur=0.0, normalize=None)
    pil = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]

    class Views(torch.utils.data.Dataset):
        def __len__(self):
            return len(pil)

        def __getitem__(self, i):
            return transform(pil[i])

    return torch.utils.data.DataLoader(Views(), batch_size=batch_size, shuffle=True, drop_last=True,
                                       num_workers=workers, persistent_workers=workers > 0)


def endless(loader):
    while True:
        yield from loader


# --8<-- [start:speed]
def run_speed(runtime: Runtime, steps: int = 3, batch_size: int = 64, backbone: str = "resnet18-cifar",
              image_size: int = 32) -> dict:
    """Print (and return) the three throughput tables; see the module docstring."""
    from .data import TensorImages, make_loader

    device = pick_device(runtime.device)
    amp = autocast_dtype(device, runtime.precision)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4 * batch_size, 3, image_size, image_size), dtype=torch.uint8, generator=g)
    print(f"device {device}, {torch.get_num_threads()} threads, batch {batch_size}, {image_size} px, "
          f"backbone {backbone}, precision {runtime.precision}, channels_last {runtime.channels_last}, "
          f"compile {runtime.compile}, median of {steps} steps", flush=True)
    results: dict[str, dict[str, float]] = {}

    def table(title: str, seconds: dict[str, float], pairs: list[tuple[str, str]]) -> None:
        rates = {name: batch_size / s for name, s in seconds.items()}
        results[title] = rates
        print(f"\n{title}\n  {'':40s}{'images/s':>10s}")
        for name, r in rates.items():
            print(f"  {name:40s}{r:10.1f}")
        for a, b in pairs:
            print(f"  ratio {a} / {b}: {rates[a] / rates[b]:.2f}")

    # 1. augmentation only (both views of a batch)
    aug = augmentation_contenders(images[:batch_size], device)
    table("augmentation only (two SimCLR views)", interleaved(aug, steps, device),
          [("ours (batched, on device)", "torchvision v2 (per image)"),
           ("ours (batched, on device)", "kornia (batched, on device)")])

    # 2. training step on ready-made views
    models = make_models(backbone, device, runtime.channels_last)
    v1, v2 = (torch.rand(batch_size, 3, image_size, image_size, generator=g).to(device) for _ in range(2))
    if runtime.channels_last:
        v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
    fns = {name: make_step(m, lambda m=m: m.loss_from_views(v1, v2)[0], device, amp, runtime.compile)
           for name, m in models.items()}
    table(f"training step, views given ({backbone})", interleaved(fns, steps, device),
          [("SimCLR ours", "SimCLR lightly"), ("MoCo ours", "MoCo lightly")])

    # 3. end to end: data -> augmentation -> step
    ours_data = TensorImages(images, torch.zeros(len(images), dtype=torch.long))
    ours_batches = endless(make_loader(ours_data, batch_size, shuffle=True))
    theirs_batches = {name: endless(lightly_loader(images, batch_size, runtime.workers))
                      for name in ("SimCLR lightly", "MoCo lightly")}

    def ours_end_to_end(model):
        def loss():
            batch = next(ours_batches)
            return model({k: v.to(device) for k, v in batch.items()})[0]
        return loss

    def lightly_end_to_end(model, batches):
        def loss():
            a, b = next(batches)
            return model.loss_from_views(a.to(device), b.to(device))[0]
        return loss

    fns = {"SimCLR ours": make_step(models["SimCLR ours"], ours_end_to_end(models["SimCLR ours"]), device, amp, False),
           "SimCLR lightly": make_step(models["SimCLR lightly"], lightly_end_to_end(
               models["SimCLR lightly"], theirs_batches["SimCLR lightly"]), device, amp, False),
           "MoCo ours": make_step(models["MoCo ours"], ours_end_to_end(models["MoCo ours"]), device, amp, False),
           "MoCo lightly": make_step(models["MoCo lightly"], lightly_end_to_end(
               models["MoCo lightly"], theirs_batches["MoCo lightly"]), device, amp, False)}
    table(f"end to end with augmentation (lightly: DataLoader, {runtime.workers} workers)",
          interleaved(fns, steps, device), [("SimCLR ours", "SimCLR lightly"), ("MoCo ours", "MoCo lightly")])
    return results
# --8<-- [end:speed]
