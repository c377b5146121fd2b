"""Collapse, shown: BYOL with and without its predictor on the embedded world.

Both runs train the same small network on the same batches; only the predictor differs.
Without it, the online network learns to output one vector for every image (the loss falls
to 0, the spread of the normalised outputs to 0); with it, the outputs stay spread over the
sphere, near 1/sqrt(d) per dimension.
"""

from pathlib import Path

import torch

from .common import plt, save


def spread_during_training(model: torch.nn.Module, images: torch.Tensor, steps: int, batch_size: int = 32,
                           lr: float = 1e-3, seed: int = 0, weight_decay: float = 5e-4,
                           metric: str = "std") -> tuple[list[float], list[float]]:
    """Train ``model`` (a method whose metrics include ``metric``, by default the output spread
    ``std``) with AdamW on random batches of ``images``; return the loss and the metric after
    every step. The batches depend only on ``seed``, so two models see the same images in the
    same order."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    losses, spreads = [], []
    for step in range(steps):
        batch = {"image": images[torch.randint(len(images), (batch_size,), generator=g)]}
        loss, metrics = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if hasattr(model, "on_step"):
            model.on_step((step + 1) / steps)
        losses.append(loss.item())
        spreads.append(float(metrics[metric]))
    return losses, spreads


def byol_pair(predictor: bool, seed: int = 0, proj_dim: int = 64):
    """A small BYOL (a narrow ConvNet, 16 px views) with or without its predictor."""
    from ..methods.byol import BYOL
    from ..nets import ConvNet

    torch.manual_seed(seed)
    return BYOL(ConvNet(3, width=8), tau_base=0.99, proj_dim=proj_dim, hidden_dim=128, predictor=predictor,
                strength=0.5, min_scale=0.2, view_size=16, solarize_p=0.2)


def collapse_figure(path: Path, steps: int = 300) -> None:
    """The spread of BYOL's normalised outputs over training, with and without the predictor."""
    from ..data.world import world_split

    images = world_split("train", 1024, 16)[0]
    d = 64
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for predictor, style in ((True, "-"), (False, "--")):
        torch.manual_seed(0)
        losses, spreads = spread_during_training(byol_pair(predictor, proj_dim=d), images, steps)
        label = "with predictor" if predictor else "without predictor"
        axes[0].plot(losses, style, label=label)
        axes[1].plot([s * d ** 0.5 for s in spreads], style, label=label)
    axes[0].set(xlabel="step", ylabel="BYOL loss", title="loss")
    axes[1].axhline(1.0, color="grey", linewidth=0.8)
    axes[1].set(xlabel="step", ylabel=r"std of $z/\|z\|$ $\times\sqrt{d}$", ylim=(0, 1.2),
                title="spread of the outputs (1: spread, 0: collapsed)")
    for ax in axes:
        ax.legend()
    save(fig, path)
