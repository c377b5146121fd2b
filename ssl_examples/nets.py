"""Backbones shared by every method.

Every backbone is an ``nn.Module`` with

* ``feature_dim``: the size of the pooled feature vector;
* ``forward_maps(x)``: the last feature maps, ``(B, feature_dim, h, w)``, for methods that
  work on spatial features (bag of visual words, tracking by colorization);
* ``forward(x)``: the globally average-pooled features, ``(B, feature_dim)``;
* ``layer_names`` and ``forward_layers(x)``: the pooled output of every stage, ``{name: (B, C)}``,
  for the per-layer probes of the evaluation (Goyal et al., 2019); the last one is ``forward(x)``.

The convolutional backbones pool by averaging over positions; the Vision Transformer averages
its patch tokens (see ``ViT``).

Inputs are float images in [0, 1] with ``in_channels`` channels; each backbone normalises
them itself, so methods and evaluation never need to know the statistics.
"""

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

BACKBONES = ("convnet", "resnet18-cifar", "resnet18", "resnet50", "vit-tiny-half")


class Backbone(nn.Module):
    """Common base: input normalisation, pooling and the two forwards."""

    feature_dim: int

    def __init__(self, in_channels: int):
        super().__init__()
        self.in_channels = in_channels
        # Centre the [0, 1] inputs; per-channel statistics would tie a backbone to one dataset.
        self.register_buffer("mean", torch.full((1, in_channels, 1, 1), 0.5), persistent=False)
        self.register_buffer("std", torch.full((1, in_channels, 1, 1), 0.25), persistent=False)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The network as named stages applied one after the other (a block, a ResNet layer)."""
        raise NotImplementedError

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.stages())

    def forward_maps(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        for _, stage in self.stages():
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_maps(x).mean(dim=(2, 3))

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage's output, globally average-pooled: ``{name: (B, channels)}``."""
        x = (x - self.mean) / self.std
        out = {}
        for name, stage in self.stages():
            x = stage(x)
            out[name] = x.mean(dim=(2, 3))
        return out


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ConvNet(Backbone):
    """A small VGG-style ConvNet: five 3x3 convolutions, three of them halving the resolution.

    About 0.6 M parameters and ~24 M multiply-adds per 32x32 image: it trains at several
    hundred images per second on a 2-core laptop CPU, which the one-minute examples need.
    """

    def __init__(self, in_channels: int = 3, width: int = 32):
        super().__init__(in_channels)
        w = width
        self.features = nn.Sequential(
            conv_bn_relu(in_channels, w),
            conv_bn_relu(w, 2 * w, stride=2),
            conv_bn_relu(2 * w, 4 * w, stride=2),
            conv_bn_relu(4 * w, 4 * w),
            conv_bn_relu(4 * w, 8 * w, stride=2),
        )
        self.feature_dim = 8 * w

    def stages(self):
        return [(f"block{i + 1}", block) for i, block in enumerate(self.features)]


class TorchvisionResNet(Backbone):
    """A torchvision ResNet without its classifier.

    ``cifar_stem=True`` swaps the 7x7/2 convolution and max-pool for one 3x3/1 convolution,
    the usual choice for 32x32 inputs (it keeps 4x more resolution, and costs ~10x more on CPU).
    """

    def __init__(self, depth: int = 18, in_channels: int = 3, cifar_stem: bool = False):
        super().__init__(in_channels)
        net = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}[depth](weights=None)
        if cifar_stem:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layers = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.feature_dim = net.fc.in_features

    def stages(self):
        return [("stem", self.stem)] + [(f"layer{i + 1}", layer) for i, layer in enumerate(self.layers)]


# --- A small Vision Transformer ----------------------------------------------------------
# --8<-- [start:vit]
def sincos_position_embedding(grid_h: int, grid_w: int, dim: int,
                              reference: tuple[int, int] | None = None) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings, ``(grid_h * grid_w, dim)``, row-major.

    As in MAE and MoCo v3: half the channels encode the row, half the column, each as
    ``sin(p * w_k), cos(p * w_k)`` with frequencies ``w_k = 10000^(-k / (dim / 4))``.

    ``reference``: the grid the network was made for (8 x 8 for 32 px images and 4 px patches).
    A different grid covers the same field of view, so its patch centres are placed on the
    reference grid (a 4 x 4 grid sits at 0.5, 2.5, 4.5, 6.5): the analytic form of the
    interpolation ViTs apply to their position embeddings when the resolution changes.
    """
    assert dim % 4 == 0, "the 2-D sine-cosine embedding needs a width divisible by 4"
    reference = reference or (grid_h, grid_w)
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))

    def centres(n: int, ref: int) -> torch.Tensor:
        return (torch.arange(n, dtype=torch.float64) + 0.5) * (ref / n) - 0.5

    rows, cols = torch.meshgrid(centres(grid_h, reference[0]), centres(grid_w, reference[1]), indexing="ij")

    def encode(position: torch.Tensor) -> torch.Tensor:
        angle = position.flatten()[:, None] * omega[None]
        return torch.cat([angle.sin(), angle.cos()], dim=1)
    return torch.cat([encode(rows), encode(cols)], dim=1).float()


class Attention(nn.Module):
    """Multi-head self-attention; the softmax(Q K^T / sqrt(d)) V itself is PyTorch's fused
    ``scaled_dot_product_attention`` (a flash or memory-efficient kernel where one exists)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        assert dim % heads == 0
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        # (B, N, 3 D) -> three (B, heads, N, D / heads) tensors
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """A pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, int(mlp_ratio * dim)), nn.GELU(), nn.Linear(int(mlp_ratio * dim), dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def init_transformer(module: nn.Module) -> None:
    """MAE's initialisation: Xavier-uniform linear layers (the patch projection too), zero
    biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight.view(m.weight.shape[0], -1))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ViT(Backbone):
    """A Vision Transformer (Dosovitskiy et al., 2021) sized for 32 px images.

    The image is cut into ``patch_size`` x ``patch_size`` patches (4 px: an 8 x 8 grid of 64
    tokens at 32 px), each linearly projected to ``width`` channels, plus fixed sine-cosine
    position embeddings; a class token is prepended; ``depth`` pre-norm blocks and a final
    LayerNorm follow. The default is half a ViT-Tiny (depth 6 instead of 12, width 192, 3 heads).

    Pooled feature: **the mean of the patch tokens after the final LayerNorm**, for the last
    block (``forward``) and for every block (``forward_layers``; each block is a stage). We do
    not read the class token: I-JEPA trains no class token at all and MAE's gets no loss of
    its own, so the patch-token mean is the one feature every method of the course trains
    (MAE fine-tunes with it too). The class token is kept because MoCo v3 and MAE have it in
    their encoders, where it joins the attention.

    ``forward_tokens(x, keep)`` encodes only the patches whose indices are in ``keep`` (MAE's
    visible patches, I-JEPA's context block): the others are dropped right after the patch
    projection, so the encoder never sees their pixels. An image of another size than
    ``image_size`` is read as the same field of view at another resolution (its position
    embeddings are interpolated onto the ``image_size`` grid).
    """

    def __init__(self, in_channels: int = 3, patch_size: int = 4, width: int = 192, depth: int = 6,
                 heads: int = 3, mlp_ratio: float = 4.0, image_size: int = 32):
        super().__init__(in_channels)
        self.patch_size = patch_size
        self.reference_grid = (image_size // patch_size, image_size // patch_size)
        self.patch_embed = nn.Conv2d(in_channels, width, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.feature_dim = width
        init_transformer(self)
        nn.init.normal_(self.cls_token, std=0.02)

    def stages(self):
        return [(f"block{i + 1}", block) for i, block in enumerate(self.blocks)]

    def grid(self, x: torch.Tensor) -> tuple[int, int]:
        return x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens with their position embeddings, ``(B, num_patches, width)``, row-major."""
        t = self.patch_embed((x - self.mean) / self.std)  # (B, width, h, w)
        h, w = t.shape[-2:]
        t = t.flatten(2).transpose(1, 2)
        return t + self.position_embedding(h, w).to(t.device, t.dtype)

    def position_embedding(self, h: int, w: int, dim: int | None = None) -> torch.Tensor:
        """The position embeddings of an ``h`` x ``w`` patch grid (``dim`` channels, default the width)."""
        return sincos_position_embedding(h, w, dim or self.feature_dim, self.reference_grid)

    def tokens_by_block(self, x: torch.Tensor, keep: torch.Tensor | None = None):
        """Yield ``(name, tokens)`` after every block, ``(B, 1 + patches, width)``, class token first.

        ``keep``: ``(B, k)`` indices of the patches to encode (default: all of them).
        """
        t = self.embed(x)
        if keep is not None:
            t = t.gather(1, keep.unsqueeze(-1).expand(-1, -1, t.shape[-1]))
        t = torch.cat([self.cls_token.expand(len(t), -1, -1).to(t.dtype), t], dim=1)  # no position: it has none
        for name, block in self.stages():
            t = block(t)
            yield name, t

    def forward_tokens(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's output tokens after the final norm, ``(B, 1 + patches, width)``."""
        for _, t in self.tokens_by_block(x, keep):
            pass
        return self.norm(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tokens(x)[:, 1:].mean(dim=1)

    def forward_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The patch tokens as a map, ``(B, width, h, w)``."""
        tokens = self.forward_tokens(x)[:, 1:]
        return tokens.transpose(1, 2).reshape(len(x), -1, *self.grid(x))

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every block's patch tokens, through the final norm and averaged: ``{name: (B, width)}``."""
        return {name: self.norm(t)[:, 1:].mean(dim=1) for name, t in self.tokens_by_block(x)}
# --8<-- [end:vit]


VIT_PATCH_SIZES = {"vit-tiny-half": 4}


def check_vit(backbone: str, method: str, **image_sides: int) -> None:
    """For the methods that need a ViT: a ViT backbone and images made of whole patches."""
    from .errors import UserError

    if backbone not in VIT_PATCH_SIZES:
        raise UserError(f"backbone={backbone!r}: {method} needs a Vision Transformer "
                        f"({', '.join(VIT_PATCH_SIZES)})")
    p = VIT_PATCH_SIZES[backbone]
    for name, side in image_sides.items():
        if side % p:
            raise UserError(f"{name.replace('_', '-')}={side}: must be a multiple of the {p} px patches of {backbone}")


def make_backbone(name: str, in_channels: int = 3) -> Backbone:
    """Build a backbone by name (one of ``BACKBONES``)."""
    if name == "convnet":
        return ConvNet(in_channels)
    if name == "resnet18-cifar":
        return TorchvisionResNet(18, in_channels, cifar_stem=True)
    if name == "resnet18":
        return TorchvisionResNet(18, in_channels)
    if name == "resnet50":
        return TorchvisionResNet(50, in_channels)
    if name == "vit-tiny-half":
        return ViT(in_channels, patch_size=VIT_PATCH_SIZES[name], width=192, depth=6, heads=3, image_size=32)
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def mlp(dims: list[int], last_bn: bool = False, batch_norm: bool = True) -> nn.Sequential:
    """Linear layers with BatchNorm (unless ``batch_norm=False``) and ReLU in between: a
    projection or prediction head."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        last = i == len(dims) - 2
        layers.append(nn.Linear(a, b, bias=(last and not last_bn) or not batch_norm))
        if not last:
            layers += [nn.BatchNorm1d(b), nn.ReLU(inplace=True)] if batch_norm else [nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(b, affine=False))
    return nn.Sequential(*layers)
