"""Backbones shared by every method.

Every backbone is an ``nn.Module`` with

* ``feature_dim``: the size of the pooled feature vector;
* ``forward_maps(x)``: the last feature maps, ``(B, feature_dim, h, w)``, for methods that
  work on spatial features (bag of visual words, tracking by colorization);
* ``forward(x)``: the globally average-pooled features, ``(B, feature_dim)``;
* ``layer_names`` and ``forward_layers(x)``: the pooled output of every stage, ``{name: (B, C)}``,
  for the per-layer probes of the evaluation (Goyal et al., 2019); the last one is ``forward(x)``.

Inputs are float images in [0, 1] with ``in_channels`` channels; each backbone normalises
them itself, so methods and evaluation never need to know the statistics.
"""

import torch
import torchvision
from torch import nn

BACKBONES = ("convnet", "resnet18-cifar", "resnet18", "resnet50")


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
