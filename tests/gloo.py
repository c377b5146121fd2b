"""Run a function in 2 CPU processes joined by gloo, as ``torchrun`` would, and collect results."""

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
