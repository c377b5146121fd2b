"""Checks that need a GPU, run by ``benchmarks/gpu_speed.sh`` (also runs on the CPU, smaller).

    python benchmarks/gpu_checks.py correct   # the fast paths agree with the slow ones; no host sync in a step
    python benchmarks/gpu_checks.py profile   # where MoCo's step spends its GPU time, ours vs lightly's

``correct``: LARS (foreach norms) against the per-parameter reference, fused AdamW against
the for-loop one, batches indexed on the GPU against the CPU's, and a few epochs of
``train()`` for SimCLR and MoCo under ``torch.cuda.set_sync_debug_mode("warn")``: every
place where the host waited for the GPU is listed with its count (the epoch-end reads are
expected; anything counted once per step is a regression).

``profile``: each MoCo contender of the speed command (ours with plain and with split
BatchNorm, lightly's) timed alone with CUDA events, then one profiled block each: GPU
time per step, host time per step, and the kernels that take the most GPU time.
"""

import argparse
import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ssl_examples.data import TensorImages, make_loader, resident  # noqa: E402
from ssl_examples.nets import make_backbone  # noqa: E402
from ssl_examples.train import Recipe, Runtime, make_optimizer, train  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CUDA = DEVICE.type == "cuda"


def reference_lars_step(params, lr, weight_decay, trust=1e-3, momentum=0.9, buffers=None):
    """The LARS step as it was: one parameter at a time (two host syncs per parameter)."""
    with torch.no_grad():
        for i, p in enumerate(params):
            g = p.grad.add(p, alpha=weight_decay)
            w_norm, g_norm = p.norm(), g.norm()
            if w_norm > 0 and g_norm > 0:
                g = g * (trust * w_norm / g_norm)
            buffers[i] = g.clone() if buffers[i] is None else buffers[i].mul_(momentum).add_(g)
            p.add_(buffers[i], alpha=-lr)


def check_optimizers() -> None:
    torch.manual_seed(0)
    x = torch.randn(64 if CUDA else 8, 3, 32, 32, device=DEVICE)
    for name in ("lars", "adamw"):
        nets = [make_backbone("resnet18-cifar" if CUDA else "convnet").to(DEVICE) for _ in range(2)]
        nets[1].load_state_dict(nets[0].state_dict())
        for net in nets:  # decay on every parameter: the reference below treats them alike
            for p in net.parameters():
                p.requires_grad_(p.ndim > 1)
        recipe = Recipe(optimizer=name, lr=0.5 if name == "lars" else 1e-3, weight_decay=1e-3)
        ours = make_optimizer(nets[0], recipe)
        params = [p for p in nets[1].parameters() if p.requires_grad]
        if name == "adamw":
            reference = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-3, foreach=False)
        buffers = [None] * len(params)
        for _ in range(5):  # the same gradients for both: only the optimisers' arithmetic differs
            nets[0].zero_grad()
            nets[0](x).float().square().mean().backward()
            for a, b in zip(nets[0].parameters(), nets[1].parameters()):
                b.grad = None if a.grad is None else a.grad.clone()
            ours.step()
            if name == "lars":
                reference_lars_step(params, 0.5, 1e-3, buffers=buffers)
            else:
                reference.step()
        worst = max(((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()
                    for a, b in zip(nets[0].parameters(), nets[1].parameters()))
        kind = type(ours).__name__ + (" fused" if ours.defaults.get("fused") else "")
        print(f"{name}: ours ({kind}) vs the per-parameter reference after 5 steps: "
              f"largest relative difference {worst:.2e} -> {'OK' if worst < 1e-4 else 'MISMATCH'}")


def check_batches() -> None:
    images = torch.randint(0, 256, (1000, 3, 8, 8), dtype=torch.uint8)
    data = TensorImages(images, torch.arange(1000))
    here = resident(data, DEVICE)
    same = all(torch.equal(a["index"].cpu(), b["index"]) and torch.equal(a["image"].cpu(), b["image"])
               for a, b in zip(make_loader(here, 64, True, seed=3, drop_last=True),
                               make_loader(data, 64, True, seed=3, drop_last=True)))
    print(f"batches indexed on {here.images.device}: same batches as on the CPU -> {'OK' if same else 'MISMATCH'}")


def check_syncs(epochs: int = 3) -> None:
    from ssl_examples.methods import moco, simclr

    if CUDA:  # a control: the detector must see a deliberate wait
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            torch.ones(1, device=DEVICE).item()
            torch.cuda.set_sync_debug_mode("default")
        print(f"sync detector sees a deliberate .item(): {'OK' if caught else 'MISMATCH (the counts below mean nothing)'}")
    n, batch, backbone = (2048, 256, "resnet18-cifar") if CUDA else (192, 32, "convnet")
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    data = TensorImages(images, torch.zeros(len(images), dtype=torch.long))
    for name, module in (("simclr", simclr), ("moco", moco)):
        recipe = module.RECIPE.__class__(backbone=backbone, batch_size=batch, epochs=epochs,
                                         optimizer="lars" if name == "simclr" else "sgd", lr=0.1)
        torch.manual_seed(0)
        model = module.build(recipe, None)
        runtime = Runtime(device=DEVICE.type, precision="bf16" if CUDA else "fp32", channels_last=CUDA,
                          progress=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if CUDA:
                torch.cuda.set_sync_debug_mode("warn")
            try:
                train(model, data, recipe, runtime)
            finally:
                if CUDA:
                    torch.cuda.set_sync_debug_mode("default")
        syncs = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in caught
                        if "synchroniz" in str(w.message))
        steps = epochs * (len(data) // recipe.batch_size)
        print(f"{name}: {steps} steps in {epochs} epochs; host waited for the GPU at "
              + (", ".join(f"{where} x{n}" for where, n in syncs.most_common()) or "no place")
              + ("" if CUDA else " (no CUDA: not checked)"))
        per_step = [where for where, n in syncs.items() if n >= steps]
        print(f"  once or more per step: {per_step or 'none'} -> {'MISMATCH' if per_step else 'OK'}")


def transposed_split_batchnorm(self, x):
    """SplitBatchNorm's forward before this change: the groups moved into the channels by a
    transposed copy (NCHW whatever the input's layout), one BatchNorm call, a copy back."""
    import torch.nn.functional as F

    s = self.splits
    if not self.training or s == 1:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                            self.momentum, self.eps)
    b, c, rest = x.shape[0], x.shape[1], x.shape[2:]
    grouped = x.reshape(s, b // s, c, *rest).transpose(0, 1).reshape(b // s, s * c, *rest)
    mean, var = self.running_mean.repeat(s), self.running_var.repeat(s)
    y = F.batch_norm(grouped, mean, var, self.weight.repeat(s), self.bias.repeat(s), True, self.momentum, self.eps)
    with torch.no_grad():
        self.running_mean.copy_(mean.view(s, c).mean(0))
        self.running_var.copy_(var.view(s, c).mean(0))
        self.num_batches_tracked.add_(1)
    return y.reshape(b // s, s, c, *rest).transpose(0, 1).reshape(b, c, *rest)


def profile_moco(batch: int, steps: int, backbone: str, compile_mode: str) -> None:
    import copy
    import types

    from torch.profiler import ProfilerActivity, profile

    from ssl_examples.methods.moco import SplitBatchNorm
    from ssl_examples.speed import MOCO_SPLIT, make_models, make_step

    amp = torch.bfloat16 if CUDA else None
    models = make_models(backbone, DEVICE, channels_last=CUDA)
    before = copy.deepcopy(models[MOCO_SPLIT])
    for module in before.modules():
        if isinstance(module, SplitBatchNorm):
            module.forward = types.MethodType(transposed_split_batchnorm, module)
    models["MoCo ours, split BN (8 groups), transposed as before"] = before
    g = torch.Generator().manual_seed(0)
    v1, v2 = (torch.rand(batch, 3, 32, 32, generator=g).to(DEVICE) for _ in range(2))
    if CUDA:
        v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
    names = [n for n in models if n.startswith("MoCo")]
    for name in names:
        m = models[name]
        step = make_step(m, lambda m=m: m.loss_from_views(v1, v2)[0], DEVICE, amp, compile_mode)
        for _ in range(3):
            step()
        times, host = [], []
        for _ in range(3):  # blocks of `steps` steps, device synchronised only at their ends
            if CUDA:
                torch.cuda.synchronize()
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                step()
            host.append((time.process_time() - cpu) / steps)
            if CUDA:
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) / steps)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if CUDA else [])
        with profile(activities=activities) as prof:
            for _ in range(5):
                step()
            if CUDA:
                torch.cuda.synchronize()
        events = prof.key_averages()
        gpu = sum(e.self_device_time_total for e in events) / 5 / 1000 if CUDA else float("nan")
        print(f"\n=== {name}: {1000 * statistics.median(times):.2f} ms per step "
              f"({batch / statistics.median(times):.0f} images/s), host CPU {1000 * statistics.median(host):.2f} ms "
              f"per step, GPU kernels {gpu:.2f} ms per step (profiled), {compile_mode or 'eager'} backbone")
        sort = "self_device_time_total" if CUDA else "self_cpu_time_total"
        print(events.table(sort_by=sort, row_limit=14, max_name_column_width=60))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["correct", "profile"])
    p.add_argument("--batch", type=int, default=512 if CUDA else 16)
    p.add_argument("--steps", type=int, default=20 if CUDA else 2)
    p.add_argument("--backbone", default="resnet18-cifar" if CUDA else "convnet")
    p.add_argument("--compile", default="default" if CUDA else "")
    args = p.parse_args()
    print(f"device {DEVICE} ({torch.cuda.get_device_name() if CUDA else 'no GPU'}), torch {torch.__version__}")
    if args.what == "correct":
        check_optimizers()
        check_batches()
        check_syncs()
    else:
        profile_moco(args.batch, args.steps, args.backbone, args.compile)


if __name__ == "__main__":
    main()
