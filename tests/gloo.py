"""Run a function in 2 CPU processes joined by gloo, as ``torchrun`` would, and collect results; and the
steps that the tests "two processes with batch b equal one process with batch 2b" share."""

import os
import socket
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


# "fork" starts the workers in well under a second (no re-import of torch and the package);
# "spawn" is what torch.multiprocessing.spawn uses and works everywhere (also macOS, Windows).
START_METHOD = "fork" if sys.platform == "linux" else "spawn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, fn, args, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.save(fn(rank, world, *args), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def run_processes(fn, args: tuple, out_dir, world: int = 2) -> list:
    """``fn(rank, world, *args)`` in ``world`` processes; returns each rank's return value."""
    mp.start_processes(_worker, args=(world, free_port(), fn, args, str(out_dir)), nprocs=world, join=True,
                       start_method=START_METHOD)
    return [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=False) for r in range(world)]


def average_gradients(model: torch.nn.Module) -> None:
    """What DistributedDataParallel does after backward: the mean of every gradient."""
    world = dist.get_world_size()
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


# The tests that a method gives on two processes with batch b what one process gives with batch 2b
# share the steps below; each test keeps its own checks of the loss and its "not vacuous" check.

def one_of_two(rank: int, world: int, per_process: int, small_model, views, multi_crop: bool = False):
    """One process's training step on its part of the batch ``views(per_process * world)``, as under DDP:
    the loss of its own images, backward, then the gradients averaged over the processes.

    ``small_model`` and ``views`` are module-level functions of the test file (a spawned process gets
    them by name: no lambdas). ``multi_crop``: the model takes its views as one list (SwAV), not as
    two arguments (SimCLR, Barlow Twins, VICReg)."""
    model = small_model()
    mine = slice(rank * per_process, (rank + 1) * per_process)
    part = [v[mine] for v in views(per_process * world)]
    loss, _ = model.loss_from_views(part) if multi_crop else model.loss_from_views(*part)
    loss.backward()
    average_gradients(model)
    return loss.item(), [p.grad for p in model.parameters()]


def one_process(small_model, views: list, multi_crop: bool = False):
    """The reference: one process, the whole batch, no averaging; returns the model (with its
    gradients) and the loss."""
    model = small_model()
    loss, _ = model.loss_from_views(views) if multi_crop else model.loss_from_views(*views)
    loss.backward()
    return model, loss.item()


def assert_gradients_equal(named_parameters, results: list, atol: float, rtol: float = 1e-4) -> None:
    """Both processes hold the same gradients (they were averaged), and these equal the one process's
    gradients on the whole batch. ``results[r][1]``: rank r's gradients, in ``named_parameters``' order."""
    for (name, p), g0, g1 in zip(named_parameters, results[0][1], results[1][1], strict=True):
        assert torch.allclose(g0, g1), name
        assert torch.allclose(g0, p.grad, atol=atol, rtol=rtol), name


def plain_average_batchnorm(model: torch.nn.Module) -> None:
    """Momentum None: every BatchNorm's running statistics become the plain average of the batches it
    sees next. A small model run on one batch this way, then put in evaluation mode, gives an image
    outputs that do not depend on which process holds the rest of the batch."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None


def multi_crop_views(n: int) -> list:
    """n images that differ, their views alike: two global views of 16 px and two local ones of 8 px,
    the sizes the small SwAV and DINO models of the tests are made with."""
    g = torch.Generator().manual_seed(3)
    colours = torch.rand(n, 3, 1, 1, generator=g)
    return [(colours + 0.3 * torch.rand(n, 3, s, s, generator=g)).clamp(0, 1) for s in (16, 16, 8, 8)]
