"""Exponential moving averages of a network: the momentum / target / teacher encoders.

MoCo's key encoder, BYOL's target network, DINO's teacher and I-JEPA's target encoder are
all a copy of the trained network that is never updated by gradients, only pulled towards
it after each step:

    theta_target <- m * theta_target + (1 - m) * theta_online

BYOL, DINO and I-JEPA raise ``m`` from a base value to 1 over the run with a cosine
(``cosine_momentum``), so the target moves fast at first and freezes at the end.
"""

import math

import torch
from torch import nn


# --8<-- [start:ema]
@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, m: float) -> None:
    """theta_target <- m theta_target + (1 - m) theta_online, for every parameter at once."""
    t = [p for p in target.parameters()]
    o = [p.detach() for p in online.parameters()]
    torch._foreach_lerp_(t, o, 1 - m)  # one fused pass instead of a Python loop over tensors


def cosine_momentum(base: float, progress: float) -> float:
    """BYOL's schedule: ``1 - (1 - base) (cos(pi * progress) + 1) / 2``, from ``base`` to 1."""
    return 1 - (1 - base) * (math.cos(math.pi * min(max(progress, 0.0), 1.0)) + 1) / 2
# --8<-- [end:ema]
