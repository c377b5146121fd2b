"""The one training loop, shared by every method and by the supervised reference.

A model is any ``nn.Module`` with a ``backbone`` attribute whose ``forward(batch)`` returns
``(loss, metrics)``: a scalar loss and a dict of detached scalars to log. A model may also
define ``on_step(progress)``, called after every optimiser step with the fraction of the run
done (in (0, 1]): exponential-moving-average targets (BYOL, DINO) and other per-step
schedules live there. Everything else
lives here, once: device choice, mixed precision, channels_last, ``torch.compile``,
the optimiser and its warm-up + cosine schedule, progress and metric logs, atomic
checkpoints that resume exactly, and DistributedDataParallel under ``torchrun``.

Reproducibility: the batch order of epoch ``e`` depends only on ``(seed, e)``, and every
random draw a method makes uses torch's global generator, whose state is saved with each
checkpoint. A run killed after epoch ``e`` and resumed therefore finishes with the same
weights as a run that was never interrupted (bit for bit on CPU).
"""

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .cache import atomic_save
from .data import make_loader, resident
from .distributed import rank_and_world
from .errors import UserError


@dataclass
class Recipe:
    """Pre-training hyper-parameters. Each method module sets its own ``RECIPE``."""

    image_size: int = 32
    num_images: int = 8000  # images of the embedded world used for pre-training
    backbone: str = "convnet"
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "adamw"  # adamw | sgd | lars
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0

    @classmethod
    def from_dict(cls, values: dict) -> "Recipe":
        """A base ``Recipe`` from a saved one, dropping a method's own extra fields."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass
class Runtime:
    """Where and how to run; none of this changes what is learned (up to float rounding)."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "auto"  # auto (bf16 where the hardware computes it natively, else fp32) | fp32 | bf16 | fp16
    channels_last: bool = False
    compile: str | bool = ""  # "" or False (off), True or "default", "reduce-overhead" (CUDA graphs), ...
    seed: int = 0
    workers: int = 4  # DataLoader processes for data read from disk (in-memory data needs none)
    progress: bool = True
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch (CUDA only)


# --8<-- [start:device]
def pick_device(name: str = "auto") -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU; or exactly what was asked for."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but torch sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps was asked for, but this machine has no MPS")
    return device


def cpu_has_native_bf16() -> bool:
    """True on CPUs with AVX-512 BF16 or AMX instructions, where bf16 convolutions and matrix
    products run natively (about twice as fast as fp32); elsewhere bf16 is emulated, and slower."""
    return any(getattr(torch.cpu, check, lambda: False)()
               for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The dtype for ``torch.autocast``, or None for plain fp32."""
    if precision == "auto":
        use_bf16 = ((device.type == "cuda" and torch.cuda.is_bf16_supported())
                    or (device.type == "cpu" and cpu_has_native_bf16()))
        precision = "bf16" if use_bf16 else "fp32"
    if precision == "fp32":
        return None
    if device.type == "cpu" and precision == "fp16":
        raise UserError("fp16 autocast is for GPUs; use --precision bf16 or fp32 on the CPU")
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
# --8<-- [end:device]


def init_distributed(device: torch.device) -> None:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    if "RANK" in os.environ and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """No weight decay on biases and normalisation weights (the usual practice).

    Parameters that a model returns from ``constant_lr_parameters()`` (SimSiam's predictor,
    whose learning rate the paper does not decay) come last, in groups marked ``constant_lr``
    that ``train`` keeps at the base rate. On a GPU the optimisers update every parameter in
    one fused kernel (``fused=True``); on the CPU they keep torch's default, whose results the
    tests pin bit for bit.
    """
    def decay_and_not(ps: list[nn.Parameter], **mark) -> list[dict]:
        return [{"params": [p for p in ps if p.ndim > 1], "weight_decay": recipe.weight_decay, **mark},
                {"params": [p for p in ps if p.ndim <= 1], "weight_decay": 0.0, **mark}]

    constant = {id(p) for p in getattr(model, "constant_lr_parameters", list)()}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = decay_and_not([p for p in params if id(p) not in constant])
    kept = [p for p in params if id(p) in constant]
    if kept:
        groups += decay_and_not(kept, constant_lr=True)
    fused = {"fused": True} if all(p.is_cuda for p in params) else {}
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=recipe.lr, **fused)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=0.9, nesterov=True, **fused)
    if recipe.optimizer == "lars":
        return LARS(groups, lr=recipe.lr, **fused)
    raise UserError(f"unknown optimizer {recipe.optimizer!r}; use adamw, sgd or lars")


class LARS(torch.optim.SGD):
    """SGD with momentum whose step is scaled per layer by ||w|| / ||grad|| (You et al., 2017).

    SimCLR trains large batches with it; as there, biases and norms (weight decay 0) keep
    plain SGD steps. The trust ratios of all layers are computed together (``_foreach_norm``,
    one vector of ratios), so the step never waits for the device.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, trust: float = 1e-3, **kwargs):
        super().__init__(params, lr=lr, momentum=momentum, **kwargs)
        self.trust = trust

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if group["weight_decay"] == 0 or not params:
                continue
            grads = [p.grad for p in params]
            torch._foreach_add_(grads, params, alpha=group["weight_decay"])
            w, g = torch.stack(torch._foreach_norm(params)), torch.stack(torch._foreach_norm(grads))
            ratio = torch.where((w > 0) & (g > 0), self.trust * w / g, torch.ones_like(w))
            torch._foreach_mul_(grads, list(ratio.unbind()))
        wd = [g["weight_decay"] for g in self.param_groups]
        for g in self.param_groups:  # decay is already in the gradient
            g["weight_decay"] = 0
        try:
            return super().step(closure)
        finally:
            for g, d in zip(self.param_groups, wd):
                g["weight_decay"] = d


def constant_rate(step: int) -> float:
    """The schedule of a ``constant_lr`` group: the base rate at every step."""
    return 1.0


def warmup_cosine(total_steps: int, warmup_steps: int):
    """Linear warm-up, then cosine decay to zero: the schedule most SSL papers use."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


# --8<-- [start:checkpoint]
def save_checkpoint(path: Path, state: dict) -> None:
    """Write to a temporary file, then rename: a crash never leaves a half-written checkpoint."""
    atomic_save(state, path)


def load_checkpoint(path: Path) -> dict:
    """Load tensors and plain Python values only (``weights_only=True``): no code runs."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a corrupt file can fail anywhere inside the unpickler
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path} is not a valid checkpoint: {first_line}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not an ssl_examples checkpoint")
    return state
# --8<-- [end:checkpoint]


CHECKPOINT_FORMAT = "ssl_examples/1"


def to_device(batch: dict, device: torch.device, channels_last: bool = False) -> dict:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if channels_last and v.ndim == 4:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


class StepLog:
    """The loss and metrics of every step of an epoch, one row per step, kept on the device.

    Writing a row is a copy on the device: the host queues the next step at once instead of
    waiting for this one to finish. Reading (``check``, ``means``) waits for the device, so
    the loop reads once per epoch and, for the progress bar, at most twice a second.
    """

    def __init__(self, steps: int, device: torch.device):
        self.steps, self.device, self.names, self.rows = steps, device, None, None

    def write(self, step: int, loss: torch.Tensor, metrics: dict) -> None:
        if self.rows is None:
            self.names = ["loss", *metrics]
            self.rows = torch.zeros(self.steps, len(self.names), device=self.device)
        values = [loss.detach(), *metrics.values()]
        self.rows[step] = torch.stack([torch.as_tensor(v, device=self.device).float() for v in values])

    def check(self, done: int, epoch: int, lr: float) -> None:
        """Stop with a one-line error naming the first of the ``done`` steps whose loss was not finite."""
        if self.rows is None:
            return
        losses = self.rows[:done, 0].cpu()
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            step = int(bad[0])
            raise UserError(f"the loss became {losses[step].item()} at epoch {epoch + 1}, step {step + 1}; "
                            f"try a lower --lr (now {lr:g})")

    def means(self, done: int) -> dict[str, float]:
        """The average of each metric over the first ``done`` steps (summed in float64 on the host)."""
        if self.rows is None:
            return {}
        columns = self.rows[:done].cpu().T.tolist()
        return {name: sum(column) / max(1, done) for name, column in zip(self.names, columns)}


def compiled(model: nn.Module, mode: str) -> nn.Module:
    """``torch.compile(model)`` in ``mode``; "reduce-overhead" replays each step as CUDA graphs."""
    if not mode:
        return model
    return torch.compile(model, mode=None if mode in (True, "default") else mode)


# --8<-- [start:loop]
def train(model: nn.Module, dataset, recipe: Recipe, runtime: Runtime,
          run_dir: Path | None = None, resume: bool = False, meta: dict | None = None) -> nn.Module:
    """Train ``model`` on ``dataset`` for ``recipe.epochs`` epochs; return it (on its device).

    With ``run_dir``, writes ``checkpoint.pt`` after every epoch and ``log.jsonl`` with one
    line of averaged metrics per epoch; ``resume=True`` continues from that checkpoint.
    ``meta`` (method name, backbone, ...) is stored in the checkpoint for ``evaluate``.
    """
    device = pick_device(runtime.device)
    init_distributed(device)
    rank, world = rank_and_world()
    amp_dtype = autocast_dtype(device, runtime.precision)
    model.to(device)
    if runtime.channels_last:
        model.to(memory_format=torch.channels_last)
    if runtime.sync_bn and world > 1:
        if device.type != "cuda":
            raise UserError("--sync-bn needs CUDA GPUs (torch's SyncBatchNorm does not run on the CPU)")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)

    per_process_batch = recipe.batch_size // world
    steps_per_epoch = len(dataset) // recipe.batch_size
    if steps_per_epoch == 0:
        raise UserError(f"batch size {recipe.batch_size} is larger than the dataset ({len(dataset)} images)")
    optimizer = make_optimizer(model, recipe)
    schedule = warmup_cosine(recipe.epochs * steps_per_epoch, int(recipe.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, [constant_rate if g.get("constant_lr") else schedule for g in optimizer.param_groups])
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    start_epoch = 0
    checkpoint_path = Path(run_dir) / "checkpoint.pt" if run_dir else None
    if run_dir and rank == 0:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    if resume and checkpoint_path and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["cpu"])
        if device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], device)
        start_epoch = state["epoch"]

    data = resident(dataset, device)  # in-memory images move to the GPU once, if they fit
    on_step = getattr(model, "on_step", None)
    step_model = compiled(model, runtime.compile)
    cuda_graphs = runtime.compile == "reduce-overhead"
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        step_model = nn.parallel.DistributedDataParallel(step_model, device_ids=ids)

    for epoch in range(start_epoch, recipe.epochs):
        sampler = None
        if world > 1:
            # Each process draws its own augmentations; reseeding per epoch keeps resume exact.
            torch.manual_seed(runtime.seed * 1_000_003 + epoch * 1009 + rank)
            sampler = torch.utils.data.DistributedSampler(dataset, shuffle=True, seed=runtime.seed, drop_last=True)
            sampler.set_epoch(epoch)
        loader = make_loader(data, per_process_batch, shuffle=True, seed=runtime.seed * 100_003 + epoch,
                             drop_last=True, workers=runtime.workers, sampler=sampler)
        model.train()
        log = StepLog(len(loader), device)  # losses and metrics stay on the device until read
        seen, start, next_read = 0, time.perf_counter(), time.perf_counter() + 0.5
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{recipe.epochs}", leave=False,
                   disable=not runtime.progress or rank != 0, dynamic_ncols=True)
        for step, batch in enumerate(bar):
            batch = to_device(batch, device, runtime.channels_last)
            if cuda_graphs:  # a new step: the graphs' outputs of the last one may be overwritten
                torch.compiler.cudagraph_mark_step_begin()
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                loss, metrics = step_model(batch)
            log.write(step, loss, metrics)  # no `if loss is nan` here: that would wait for the device
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if on_step is not None:  # e.g. an EMA target network following its schedule
                on_step((epoch * steps_per_epoch + step + 1) / (recipe.epochs * steps_per_epoch))

            seen += len(batch["index"]) * world
            if not bar.disable and time.perf_counter() > next_read:  # reading waits for the device
                log.check(step + 1, epoch, recipe.lr)
                bar.set_postfix(loss=f"{log.means(step + 1)['loss']:.3f}",
                                img_s=f"{seen / (time.perf_counter() - start):.0f}")
                next_read = time.perf_counter() + 0.5

        log.check(len(loader), epoch, recipe.lr)  # a non-finite loss stops the run, naming its step
        means = log.means(len(loader))
        seconds = time.perf_counter() - start
        record = {"epoch": epoch + 1, **means, "images_per_s": seen / seconds, "seconds": seconds,
                  "lr": scheduler.get_last_lr()[0]}
        if rank == 0:
            print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                   for k, v in record.items()), flush=True)
        if rank == 0 and run_dir:
            with open(Path(run_dir) / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            rng = {"cpu": torch.get_rng_state()}
            if device.type == "cuda":
                rng["cuda"] = torch.cuda.get_rng_state(device)
            save_checkpoint(checkpoint_path, {
                "format": CHECKPOINT_FORMAT, "epoch": epoch + 1, "meta": meta or {}, "recipe": asdict(recipe),
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "rng": rng,
            })
    return model
# --8<-- [end:loop]
