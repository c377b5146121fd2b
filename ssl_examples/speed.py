"""Training throughput of SimCLR and MoCo: ours next to lightly's, each contender timed alone.

``python -m ssl_examples speed`` prints three tables, all in images per second (an image's
two views count once), and a ratio ours / theirs under each pair:

1. augmentation only: two SimCLR views of a batch, our batched ops on the device vs
   kornia (batched) vs per-image pipelines (torchvision v2 on uint8 tensors, lightly's
   ``SimCLRTransform`` on PIL images);
2. one optimisation step on ready-made views: our SimCLR / MoCo modules vs lightly's heads
   and losses (``SimCLRProjectionHead`` + ``NTXentLoss``; ``MoCoProjectionHead`` +
   ``NTXentLoss`` with a memory bank + ``update_momentum``) on the same backbone, batch and
   optimiser (SGD with momentum, fused on a GPU); our MoCo once with plain BatchNorm like
   lightly's, once with the split BatchNorm it trains with;
3. end to end: ours (uint8 images resident on the device, batches indexed there and
   augmented inside the model) vs lightly's recipe at its best (per-image transforms in a
   DataLoader with one worker per core, pinned memory, persistent workers).

How it times: each contender runs alone, a block of warm-up steps and then a timed block of
at least ``steps`` steps and ``min_seconds`` seconds, with the device synchronised only at
the ends of the block (a training loop's throughput, not one step's latency). A DataLoader
lives only during its own contender's turn, so its workers never prepare batches while
another contender is being timed; its warm-up is long enough to empty the batches it had
prepared in advance. On a loaded machine, ``rounds`` > 1 repeats every block in turn and
reports the median. Where ``nvidia-smi`` exists, the GPU's busy fraction (``nvidia-smi dmon
-s u``, its ``sm`` column, one sample a second) is printed beside each end-to-end contender.
"""

import copy
import gc
import json
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from .augment import simclr_view
from .data import TensorImages, make_loader, resident
from .methods import moco, simclr
from .nets import make_backbone
from .train import Runtime, autocast_dtype, pick_device, to_device

HIDDEN, OUT = 512, 128  # projection heads: the same sizes on both sides


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class GpuBusy:
    """The fraction of time the GPU was running a kernel while inside the ``with`` block.

    Read from ``nvidia-smi dmon -s u`` (its ``sm`` column, one sample a second); ``None``
    where there is no ``nvidia-smi`` or the block gave no sample.
    """

    def __init__(self, device: torch.device):
        self.device, self.process, self.fraction = device, None, None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> "GpuBusy":
        if self.device.type == "cuda" and shutil.which("nvidia-smi") and self.process is None:
            which = []  # one GPU: nvidia-smi's only one; else name ours by its UUID
            uuid = str(getattr(torch.cuda.get_device_properties(self.device), "uuid", ""))
            if uuid and (torch.cuda.device_count() > 1 or os.environ.get("CUDA_VISIBLE_DEVICES")):
                which = ["-i", uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"]
            self.process = subprocess.Popen(["nvidia-smi", "dmon", "-s", "u", "-d", "1", *which],
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return self

    def stop(self) -> float | None:
        if self.process is None:
            return self.fraction
        self.process.terminate()
        out, _ = self.process.communicate()
        column, samples = None, []
        for line in out.splitlines():
            words = line.split()
            if line.startswith("#") and "sm" in words:
                column = words.index("sm") - 1  # the header starts with '#'
            elif column is not None and len(words) > column and words[column].isdigit():
                samples.append(int(words[column]))
        if len(samples) > 2:
            samples = samples[1:]  # the first sample can reach back before the block
        self.fraction = statistics.mean(samples) / 100 if samples else None
        return self.fraction


def time_alone(make_fn, steps: int, device: torch.device, warmup: int, min_seconds: float,
               busy: bool = False) -> tuple[float, float | None]:
    """Seconds per call of ``make_fn()``'s function over a timed block; the GPU's busy fraction.

    ``make_fn`` builds the contender (say, starts its DataLoader); it is dropped afterwards.
    """
    fn = make_fn()
    for _ in range(warmup):
        fn()
    _sync(device)
    with GpuBusy(device if busy else torch.device("cpu")) as gpu:
        calls, start = 0, time.perf_counter()
        while calls < steps or time.perf_counter() - start < min_seconds:
            fn()  # queued on a GPU: the host runs at most a few steps ahead of the device
            calls += 1
        _sync(device)
        seconds = (time.perf_counter() - start) / calls
    del fn
    gc.collect()  # a DataLoader's workers end with it, before the next contender starts
    return seconds, gpu.fraction


def time_training_loop(method: str, images: torch.Tensor, batch_size: int, backbone: str, epochs: int,
                       runtime: Runtime) -> tuple[float, float | None]:
    """Images per second of our whole training loop (``train.train``, as ``pretrain`` runs it)
    over every epoch but the first (which compiles and warms up), and the GPU's busy fraction then."""
    from .train import train

    device = pick_device(runtime.device)
    data = TensorImages(images, torch.zeros(len(images), dtype=torch.long))
    if method == "simclr":  # SimCLR's CIFAR-10 settings: LARS, lr 0.3 x batch / 256
        recipe = simclr.SimCLRRecipe(backbone=backbone, batch_size=batch_size, epochs=epochs, optimizer="lars",
                                     lr=0.3 * batch_size / 256, image_size=images.shape[-1])
    else:  # MoCo v2's: SGD, a queue of 4096 keys, split BatchNorm in 8 groups
        recipe = moco.MoCoRecipe(backbone=backbone, batch_size=batch_size, epochs=epochs, optimizer="sgd",
                                 lr=0.06 * batch_size / 256, image_size=images.shape[-1])
    torch.manual_seed(runtime.seed)
    model = {"simclr": simclr, "moco": moco}[method].build(recipe, None)
    steps_per_epoch = len(data) // batch_size
    busy, marks = GpuBusy(device), []
    method_on_step = getattr(model, "on_step", None)

    def on_step(progress: float) -> None:  # the clock starts once the first step of epoch 2 is done
        if method_on_step is not None:
            method_on_step(progress)
        if not marks and progress * epochs > 1:
            marks.append(time.perf_counter())
            busy.start()

    model.on_step = on_step
    train(model, data, recipe, replace(runtime, progress=False))
    seconds = time.perf_counter() - marks[0]  # train() waited for the device at the end of the last epoch
    return ((epochs - 1) * steps_per_epoch - 1) * batch_size / seconds, busy.stop()


# --- augmentation only -------------------------------------------------------------------
def augmentation_contenders(images: torch.Tensor, device: torch.device) -> dict:
    import kornia.augmentation as K
    from lightly.transforms import SimCLRTransform
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
    pil = as_pil(images)

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


MOCO_SPLIT = "MoCo ours, split BN (8 groups)"


def make_models(backbone: str, device: torch.device, channels_last: bool) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    models = {
        "SimCLR ours": simclr.build(replace(simclr.RECIPE, backbone=backbone, temperature=0.5, proj_dim=OUT,
                                            hidden_dim=HIDDEN), None),
        "SimCLR lightly": LightlySimCLR(make_backbone(backbone)),
        "MoCo ours": moco.build(replace(moco.RECIPE, backbone=backbone, proj_dim=OUT, hidden_dim=HIDDEN, bn_splits=1,
                                        queue_size=4096), None),  # lightly's queue below has 4096 keys too
        "MoCo lightly": LightlyMoCo(make_backbone(backbone)),
        MOCO_SPLIT: moco.build(replace(moco.RECIPE, backbone=backbone, proj_dim=OUT, hidden_dim=HIDDEN, bn_splits=8,
                                       queue_size=4096), None),
    }
    for m in models.values():
        m.to(device).train()
        if channels_last:
            m.to(memory_format=torch.channels_last)
    return models


def make_step(model: nn.Module, loss_fn, device: torch.device, amp: torch.dtype | None, compile_mode: str):
    """One SGD step (the same optimiser for every contender) as a zero-argument function."""
    params = [p for p in model.parameters() if p.requires_grad]
    fused = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=5e-4, **fused)
    if compile_mode and not getattr(model.backbone, "_compiled_call_impl", None):
        model.backbone.compile(mode=None if compile_mode in (True, "default") else compile_mode)
    graphs = compile_mode == "reduce-overhead"

    def step():
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def as_pil(images: torch.Tensor) -> list:
    from PIL import Image

    return [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]


def lightly_loader(pil: list, batch_size: int, workers: int, pin_memory: bool):
    """lightly's way, at its best: PIL images through a per-image two-view transform in a
    DataLoader with ``workers`` processes, pinned memory and persistent workers."""
    from lightly.transforms import SimCLRTransform

    transform = SimCLRTransform(input_size=pil[0].size[0], cj_strength=0.5, gaussian_blur=0.0, normalize=None)

    class Views(torch.utils.data.Dataset):
        def __len__(self):
            return len(pil)

        def __getitem__(self, i):
            return transform(pil[i])

    return torch.utils.data.DataLoader(Views(), batch_size=batch_size, shuffle=True, drop_last=True,
                                       num_workers=workers, pin_memory=pin_memory,
                                       persistent_workers=workers > 0)


def endless(loader):
    while True:
        yield from loader


# --8<-- [start:speed]
def run_speed(runtime: Runtime, steps: int = 3, batch_size: int = 64, backbone: str = "resnet18-cifar",
              image_size: int = 32, num_images: int | None = None, rounds: int = 1, min_seconds: float = 0.0,
              tables: tuple[str, ...] = ("augmentation", "step", "end-to-end"), out: Path | None = None,
              epochs: int = 3, loop_methods: tuple[str, ...] = ("simclr", "moco"), command: str = "") -> dict:
    """Print (and return, and with ``out`` write as JSON) the throughput tables; see the module docstring."""
    device = pick_device(runtime.device)
    amp = autocast_dtype(device, runtime.precision)
    workers = runtime.workers
    g = torch.Generator().manual_seed(0)
    num_images = num_images or 16 * batch_size
    images = torch.randint(0, 256, (num_images, 3, image_size, image_size), dtype=torch.uint8, generator=g)
    settings = {"device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "threads": torch.get_num_threads(), "batch": batch_size, "image_size": image_size,
                "images": num_images, "backbone": backbone,
                "precision": str(amp).removeprefix("torch.") if amp else "fp32",
                "channels_last": runtime.channels_last, "compile": runtime.compile, "steps": steps,
                "min_seconds": min_seconds, "rounds": rounds, "lightly_workers": workers, "torch": torch.__version__,
                "command": command, "updated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print("  ".join(f"{k} {v}" for k, v in settings.items()), flush=True)
    results: dict = {"settings": settings}

    def save() -> None:  # after every table, so that a run cut short keeps what it measured
        if out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(json.dumps(results, indent=1) + "\n")

    def table(title: str, contenders: dict, pairs: list[tuple[str, str]], warmup=lambda name: 1, busy=False):
        seconds: dict[str, list[float]] = {name: [] for name in contenders}
        busy_at: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, make_fn in contenders.items():
                s, fraction = time_alone(make_fn, steps, device, warmup(name), min_seconds, busy)
                seconds[name].append(s)
                if fraction is not None:
                    busy_at[name].append(fraction)
        rates = {name: batch_size / statistics.median(s) for name, s in seconds.items()}
        busy_median = {name: statistics.median(b) for name, b in busy_at.items() if b}
        results[title] = {"images_per_s": rates, "gpu_busy": busy_median,
                          "ratios": {f"{a} / {b}": rates[a] / rates[b] for a, b in pairs}}
        print(f"\n{title}\n  {'':42s}{'images/s':>10s}" + (f"{'GPU busy':>10s}" if busy_median else ""))
        for name, r in rates.items():
            print(f"  {name:42s}{r:10.1f}" + (f"{100 * busy_median[name]:9.0f}%" if name in busy_median else ""))
        for a, b in pairs:
            print(f"  ratio {a} / {b}: {rates[a] / rates[b]:.2f}")
        print(flush=True)
        save()

    if "augmentation" in tables:  # both views of a batch
        aug = augmentation_contenders(images[:batch_size], device)
        table("augmentation only (two SimCLR views)", {name: (lambda fn=fn: fn) for name, fn in aug.items()},
              [("ours (batched, on device)", "torchvision v2 (per image)"),
               ("ours (batched, on device)", "kornia (batched, on device)"),
               ("ours (batched, on device)", "lightly SimCLRTransform (per image)")])

    models = make_models(backbone, device, runtime.channels_last) if {"step", "end-to-end"} & set(tables) else {}
    pairs = [("SimCLR ours", "SimCLR lightly"), ("MoCo ours", "MoCo lightly"), (MOCO_SPLIT, "MoCo lightly")]
    if "step" in tables:  # a training step on ready-made views
        v1, v2 = (torch.rand(batch_size, 3, image_size, image_size, generator=g).to(device) for _ in range(2))
        if runtime.channels_last:
            v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
        fns = {name: (lambda m=m: make_step(m, lambda: m.loss_from_views(v1, v2)[0], device, amp, runtime.compile))
               for name, m in models.items()}
        table(f"training step, views given ({backbone})", fns, pairs, warmup=lambda name: 2)

    if "end-to-end" in tables:  # data -> augmentation -> step
        ours_data = resident(TensorImages(images, torch.zeros(len(images), dtype=torch.long)), device)
        pil = as_pil(images)

        def ours(model):
            def make_fn():
                batches = endless(make_loader(ours_data, batch_size, shuffle=True))
                return make_step(model, lambda: model(to_device(next(batches), device, runtime.channels_last))[0],
                                 device, amp, runtime.compile)
            return make_fn

        def lightly(model):
            def make_fn():
                batches = endless(lightly_loader(pil, batch_size, workers, pin_memory=device.type == "cuda"))

                def loss():
                    a, b = (v.to(device, non_blocking=True) for v in next(batches))
                    if runtime.channels_last:
                        a, b = (v.contiguous(memory_format=torch.channels_last) for v in (a, b))
                    return model.loss_from_views(a, b)[0]
                return make_step(model, loss, device, amp, runtime.compile)
            return make_fn

        fns = {name: (ours if "ours" in name else lightly)(m) for name, m in models.items()}
        # Warm-up: compile; lightly's also starts the workers and uses up the batches they
        # prepare ahead (2 each), so that its timed block runs at the rate they keep up.
        table(f"end to end with augmentation (lightly: DataLoader, {workers} workers)", fns, pairs,
              warmup=lambda name: 2 if "ours" in name else 2 + 2 * workers, busy=True)
    if "loop" in tables:  # our whole training loop, as `pretrain` runs it
        title = f"our training loop (train.py), epochs 2-{epochs} of {epochs}, {num_images} images"
        results[title] = {"images_per_s": {}, "gpu_busy": {}}
        for name in loop_methods:
            rate, fraction = time_training_loop(name, images, batch_size, backbone, epochs, runtime)
            results[title]["images_per_s"][name] = rate
            if fraction is not None:
                results[title]["gpu_busy"][name] = fraction
            print(f"\n{title}\n  {name:42s}{rate:10.1f} images/s"
                  + (f"{100 * fraction:9.0f}% GPU busy" if fraction is not None else ""), flush=True)
            save()
    return results
# --8<-- [end:speed]


def default_workers() -> int:
    """One DataLoader worker per CPU core this process may use (lightly's best setting)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
