"""What contrastive methods need from several processes (``torchrun``): the global batch.

Under DistributedDataParallel every process sees only its own slice of the batch. SimCLR
and MoCo want negatives from the *whole* batch, so each process gathers the embeddings of
all the others. Two gathers are needed:

* ``gather_with_grad``: embeddings that take part in the loss. The gradient of the loss
  with respect to another process's embeddings is sent back to that process (summed over
  all processes), so every embedding gets the gradient of every loss it appears in.
* ``gather``: the same without gradients, for keys, indices and memory-bank updates.

With one process (no ``torchrun``) both return their input, so methods call them always.
"""

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside ``torchrun``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GatherWithGrad(torch.autograd.Function):
    """Forward: concatenate every process's tensor. Backward: sum the incoming gradients
    over processes and hand each process the slice that belongs to its own tensor."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        rank, world = rank_and_world()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.size = rank, len(x)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        # Every process's loss used our rows: their gradients add up.
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.size:(ctx.rank + 1) * ctx.size]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``(B, ...)`` on each of W processes -> ``(W * B, ...)``, rank 0's rows first; differentiable."""
    if rank_and_world()[1] == 1:
        return x
    return _GatherWithGrad.apply(x)


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """``(B, ...)`` on each of W processes -> ``(W * B, ...)``, without gradients."""
    if rank_and_world()[1] == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(rank_and_world()[1])]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


@torch.no_grad()
def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of ``x`` over all processes, in place and returned; ``x`` itself with one process."""
    if rank_and_world()[1] > 1:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


@torch.no_grad()
def broadcast(x: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Every process gets ``src``'s ``x`` (in place); a no-op with one process."""
    if rank_and_world()[1] > 1:
        dist.broadcast(x, src)
    return x
