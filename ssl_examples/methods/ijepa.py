r"""I-JEPA: predicting the representations of hidden blocks (Assran et al., CVPR 2023).

The image-based joint-embedding predictive architecture of Assran, Duval, Misra, Bojanowski,
Vincent, Rabbat, LeCun and Ballas.

Idea: show the network one large *context* block of an image and ask **what are the
representations of four other blocks of this image?** Unlike MAE, nothing is painted: the
answer is given in representation space, as the features a *target encoder* computes for
those blocks. Predicting features instead of pixels lets the network ignore detail that
cannot be predicted (the exact texture of the grass) and spend itself on what can (there is a
roof above these walls). No augmentation is needed beyond a random crop.

Pretext targets: the target encoder, an exponential moving average of the context encoder,
encodes the whole image; the targets are its output tokens (layer-normalised) at the patches
of four target blocks (15-20 % of the image each, aspect ratio 0.75-1.5). The context is one
block of 85-100 % of the image from which every target patch is removed, so the targets
never leak into the context.

Network and loss: the context encoder (a ViT) encodes the context patches only; a narrow
*predictor* (a thinner transformer) receives them plus one mask token per target patch,
each carrying its position embedding, and outputs a representation for every target patch.
With :math:`s_y(i)` the target representation of patch :math:`i` of target block
:math:`B_j` and :math:`\hat{s}_y(i)` its prediction,

.. math::

    \mathcal{L} = \frac{1}{4} \sum_{j=1}^{4} \frac{1}{|B_j|} \sum_{i \in B_j}
    \lVert \hat{s}_y(i) - s_y(i) \rVert_2^2

averaged over the batch (and divided by the width, as a mean squared error). The target
encoder receives no gradient; after every step
:math:`\bar\theta \leftarrow m \bar\theta + (1 - m) \theta`, with :math:`m` rising linearly
from its base value to 1 over the run.
"""

import copy
import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import crop_boxes, crop_resize
from ..ema import ema_update
from ..nets import Block, check_vit, init_transformer, make_backbone
from ..train import Recipe


# --8<-- [start:masks]
def block_size(num_patches: int, grid: tuple[int, int], scale: float, aspect: float) -> tuple[int, int]:
    """Height and width (in patches) of a block covering ``scale`` of the image, ``aspect = h / w``,
    shrunk until it fits inside the grid (as the paper's mask collator does)."""
    h = round(math.sqrt(scale * num_patches * aspect))
    w = round(math.sqrt(scale * num_patches / aspect))
    return max(1, min(h, grid[0] - 1)), max(1, min(w, grid[1] - 1))


def random_blocks(batch_size: int, grid: tuple[int, int], h: int, w: int, device=None) -> torch.Tensor:
    """One ``h`` x ``w`` block at a random place in each image: ``(B, grid_h * grid_w)`` booleans."""
    top = torch.randint(0, grid[0] - h + 1, (batch_size, 1), device=device)
    left = torch.randint(0, grid[1] - w + 1, (batch_size, 1), device=device)
    rows = torch.arange(grid[0], device=device)[None]
    cols = torch.arange(grid[1], device=device)[None]
    in_rows = (rows >= top) & (rows < top + h)
    in_cols = (cols >= left) & (cols < left + w)
    return (in_rows[:, :, None] & in_cols[:, None, :]).flatten(1)


def context_and_targets(batch_size: int, grid: tuple[int, int], *, num_targets: int, target_scale: tuple,
                        target_aspect: tuple, context_scale: tuple, min_context: int = 4, device=None):
    """I-JEPA's masks for a batch: ``(context, targets)`` as patch indices in reading order.

    Block sizes are drawn once per batch (so every image has as many patches of each kind, as
    in the paper's collator), positions per image. ``targets``: ``(B, num_targets, h * w)``.
    ``context``: ``(B, k)``, the context block minus every target patch, cut to the smallest
    count in the batch by dropping a random few patches of the larger contexts.
    """
    n = grid[0] * grid[1]
    def uniform(low_high):
        return torch.empty(()).uniform_(*low_high).item()
    th, tw = block_size(n, grid, uniform(target_scale),
                        math.exp(uniform((math.log(target_aspect[0]), math.log(target_aspect[1])))))
    ch, cw = block_size(n, grid, uniform(context_scale), 1.0)
    target_masks = torch.stack([random_blocks(batch_size, grid, th, tw, device) for _ in range(num_targets)], 1)
    in_a_target = target_masks.any(dim=1)
    context = random_blocks(batch_size, grid, ch, cw, device) & ~in_a_target
    for _ in range(100):  # a context swallowed by its targets: move that context block
        short = context.sum(1) < min_context
        if not short.any():
            break
        context[short] = random_blocks(int(short.sum()), grid, ch, cw, device) & ~in_a_target[short]
    k = int(context.sum(1).min())
    assert k >= 1, "no context patch left outside the targets"
    # k random context patches per image (random keys, non-context patches last), in reading order
    keys = torch.rand(batch_size, n, device=device) + (~context).float() * 2
    context_idx = keys.argsort(dim=1)[:, :k].sort(dim=1).values
    target_idx = target_masks.nonzero()[:, 2].view(batch_size, num_targets, th * tw)
    return context_idx, target_idx
# --8<-- [end:masks]


# --8<-- [start:predictor]
class Predictor(nn.Module):
    """A narrow transformer: context tokens + one mask token per target patch -> the targets.

    The mask tokens differ only by their position embedding, which says *where* to predict.
    Each target block is predicted in its own pass (the context repeated), so target blocks
    never see each other.
    """

    def __init__(self, encoder_width: int, width: int, depth: int, heads: int):
        super().__init__()
        self.embed = nn.Linear(encoder_width, width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.project = nn.Linear(width, encoder_width)
        init_transformer(self)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, context: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor,
                position: torch.Tensor) -> torch.Tensor:
        """``context``: ``(B, k, D)`` encoded context patches; ``position``: ``(N, width)`` position
        embeddings of all patches -> ``(B, T, m, D)`` predictions."""
        b, t, m = target_idx.shape
        x = self.embed(context)
        position = position.to(x.device, x.dtype)
        x = (x + position[context_idx]).repeat_interleave(t, dim=0)  # (B T, k, w)
        queries = self.mask_token.to(x.dtype) + position[target_idx.flatten(0, 1)]  # (B T, m, w)
        x = self.blocks(torch.cat([x, queries], dim=1))
        return self.project(self.norm(x[:, -m:])).view(b, t, m, -1)
# --8<-- [end:predictor]


# --8<-- [start:model]
class IJEPA(nn.Module):
    """Context encoder (the backbone), its moving-average target encoder, and the predictor."""

    def __init__(self, backbone: nn.Module, *, predictor_width: int, predictor_depth: int, predictor_heads: int,
                 num_targets: int, target_min_scale: float, target_max_scale: float, target_min_aspect: float,
                 target_max_aspect: float, context_min_scale: float, context_max_scale: float,
                 base_momentum: float, min_scale: float):
        super().__init__()
        assert hasattr(backbone, "forward_tokens"), "I-JEPA needs a Vision Transformer backbone"
        self.backbone = backbone
        self.target_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.predictor = Predictor(backbone.feature_dim, predictor_width, predictor_depth, predictor_heads)
        self.predictor_width = predictor_width
        self.masks = dict(num_targets=num_targets, target_scale=(target_min_scale, target_max_scale),
                          target_aspect=(target_min_aspect, target_max_aspect),
                          context_scale=(context_min_scale, context_max_scale))
        self.base_momentum, self.scale = base_momentum, (min_scale, 1.0)

    def loss_on(self, x: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor,
                metrics: dict | None = None) -> torch.Tensor:
        b, t, m = target_idx.shape
        with torch.no_grad():  # targets: the moving-average encoder's view of the whole image
            h = self.target_backbone.forward_tokens(x)[:, 1:]
            h = F.layer_norm(h, h.shape[-1:])
            targets = h.gather(1, target_idx.view(b, t * m, 1).expand(-1, -1, h.shape[-1])).view(b, t, m, -1)
            if metrics is not None:  # a collapse shows as targets that no longer differ between images
                metrics["target_std"] = h.mean(dim=1).std(dim=0).mean()
        context = self.backbone.forward_tokens(x, context_idx)[:, 1:]  # only the context patches
        position = self.backbone.position_embedding(*self.backbone.grid(x), self.predictor_width)
        prediction = self.predictor(context, context_idx, target_idx, position)
        return F.mse_loss(prediction, targets)

    def forward(self, batch):
        x = batch["image"].float() / 255
        x = crop_resize(x, crop_boxes(len(x), self.scale, device=x.device))  # a random crop, no flip
        context_idx, target_idx = context_and_targets(len(x), self.backbone.grid(x), device=x.device, **self.masks)
        metrics: dict = {}
        return self.loss_on(x, context_idx, target_idx, metrics), metrics

    @torch.no_grad()
    def on_step(self, progress: float) -> None:
        """After every optimiser step: the target encoder follows, momentum rising linearly to 1."""
        ema_update(self.target_backbone, self.backbone, self.base_momentum + (1 - self.base_momentum) * progress)
# --8<-- [end:model]


# --8<-- [start:recipe]
@dataclass
class IJEPARecipe(Recipe):
    predictor_width: int = 96  # the paper: 384 for every encoder size ("narrow": a ViT-H is 1280)
    predictor_depth: int = 2  # 12 in the paper
    predictor_heads: int = 3
    num_targets: int = 4  # the paper's four target blocks
    target_min_scale: float = 0.15  # each target block: 15-20 % of the image
    target_max_scale: float = 0.2
    target_min_aspect: float = 0.75  # height / width from 0.75 to 1.5
    target_max_aspect: float = 1.5
    context_min_scale: float = 0.85  # the context block, 85-100 % of the image before the targets are cut out
    context_max_scale: float = 1.0
    base_momentum: float = 0.996  # the paper: 0.996 -> 1 over the run
    min_scale: float = 0.3  # random crop, scale (0.3, 1), as in the paper's code


# A step costs a full forward of the target encoder plus the context encoder and predictor:
# 12.8 ms of single-thread CPU time an image, so a minute is about 4500 images (2 epochs of 2240).
# On the validation split (seed 0, 2 epochs of 3000, best layer), batches of 64 at lr 1e-3 with
# momentum 0.99 gave linear 28.1 % / kNN 13.6 %; batches of 32 at lr 2e-3 with momentum 0.98 fell
# to 22.1 / 12.5 (targets that a faster-moving encoder makes easier to predict). Five times the
# budget, 10 epochs (seed 0, one thread): 25.9 / 11.9, below the ViT's random init
# (32.1 / 14.4) on both probes.
RECIPE = IJEPARecipe(image_size=32, num_images=2240, backbone="vit-tiny-half", epochs=2, batch_size=64,
                     lr=1e-3, weight_decay=0.04, warmup_epochs=1.0, base_momentum=0.99)
# --8<-- [end:recipe]

# The GPU tier: 50 000 images and the paper's momentum (sizes not yet measured on a GPU).
GPU_RECIPE = replace(RECIPE, num_images=50_000, epochs=50, batch_size=512, lr=1e-3, warmup_epochs=5.0,
                     base_momentum=0.996)


def check(recipe) -> None:
    """What the generic recipe checks cannot know: a ViT, images made of whole patches. (Its
    ranges, min below max, are a generic check.)"""
    check_vit(recipe.backbone, "I-JEPA", image_size=recipe.image_size)


def build(recipe: IJEPARecipe, data) -> IJEPA:
    return IJEPA(make_backbone(recipe.backbone), predictor_width=recipe.predictor_width,
                 predictor_depth=recipe.predictor_depth, predictor_heads=recipe.predictor_heads,
                 num_targets=recipe.num_targets, target_min_scale=recipe.target_min_scale,
                 target_max_scale=recipe.target_max_scale, target_min_aspect=recipe.target_min_aspect,
                 target_max_aspect=recipe.target_max_aspect, context_min_scale=recipe.context_min_scale,
                 context_max_scale=recipe.context_max_scale, base_momentum=recipe.base_momentum,
                 min_scale=recipe.min_scale)
