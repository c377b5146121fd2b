r"""VICReg: variance-invariance-covariance regularization (Bardes, Ponce and LeCun, ICLR 2022).

Idea: ask for two views' embeddings to be **the same vector** (invariance), and write the
two ways of cheating out of the loss explicitly: every dimension must keep a standard
deviation of at least 1 over the batch (variance: no collapse to a point), and different
dimensions must be uncorrelated (covariance: no collapse onto a few directions). No
negatives, no stop-gradient, no moving average, no normalisation of the embeddings.

Pretext targets: the other view's embedding.

Loss: with :math:`Z, Z'` the expander outputs (N x d) of the two views,

.. math::

    s(Z, Z') = \frac{1}{N} \sum_b \frac{\lVert z_b - z'_b \rVert_2^2}{d}, \qquad
    v(Z) = \frac{1}{d} \sum_{j=1}^{d} \max\!\Big(0,\ 1 - \sqrt{\operatorname{Var}(z^j) + \epsilon}\Big),

.. math::

    c(Z) = \frac{1}{d} \sum_{i \ne j} C(Z)_{ij}^2, \qquad
    C(Z) = \frac{1}{N - 1} \sum_b (z_b - \bar z)(z_b - \bar z)^\top,

.. math::

    \mathcal{L} = \lambda\, s(Z, Z') + \mu\, \tfrac12\big[v(Z) + v(Z')\big] + \nu\,\big[c(Z) + c(Z')\big],

with the paper's :math:`\lambda = 25,\ \mu = 25,\ \nu = 1,\ \epsilon = 10^{-4}`. Under
``torchrun`` the variance and covariance terms are computed over the *global* batch (the
embeddings of every process are gathered), and the invariance term, a mean over images, on
each process's own images, as in the authors' code; W processes with N images each then
train exactly as one process with WN.
"""

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import asymmetric_views
from ..distributed import gather_with_grad
from ..errors import UserError
from ..nets import make_backbone, mlp
from ..train import Recipe


# --8<-- [start:loss]
def variance_term(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """v(Z): a hinge that keeps the standard deviation of every dimension above 1."""
    return F.relu(1 - torch.sqrt(z.var(dim=0) + eps)).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    """c(Z): the squared off-diagonal covariances, summed, divided by d."""
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = z.T @ z / (n - 1)
    off_diagonal = cov[~torch.eye(d, dtype=torch.bool, device=z.device)]
    return off_diagonal.pow(2).sum() / d


def vicreg_loss(z_a: torch.Tensor, z_b: torch.Tensor, sim_coeff: float = 25.0, std_coeff: float = 25.0,
                cov_coeff: float = 1.0) -> torch.Tensor:
    invariance = F.mse_loss(z_a, z_b)  # this process's images
    z_a, z_b = gather_with_grad(z_a), gather_with_grad(z_b)  # statistics of the global batch
    variance = 0.5 * (variance_term(z_a) + variance_term(z_b))
    covariance = covariance_term(z_a) + covariance_term(z_b)
    return sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
# --8<-- [end:loss]


# --8<-- [start:model]
class VICReg(nn.Module):
    """Backbone + expander; the loss holds the views together and the batch apart."""

    def __init__(self, backbone: nn.Module, *, proj_dim: int, hidden_dim: int, sim_coeff: float,
                 std_coeff: float, cov_coeff: float, strength: float, min_scale: float, view_size: int,
                 solarize_p: float):
        super().__init__()
        self.backbone = backbone
        self.expander = mlp([backbone.feature_dim, hidden_dim, hidden_dim, proj_dim])
        self.coeffs = (sim_coeff, std_coeff, cov_coeff)
        self.view_size, self.strength, self.scale, self.solarize_p = view_size, strength, (min_scale, 1.0), solarize_p

    def loss_from_views(self, v1: torch.Tensor, v2: torch.Tensor):
        z1, z2 = self.expander(self.backbone(torch.cat([v1, v2]))).chunk(2)
        loss = vicreg_loss(z1, z2, *self.coeffs)
        return loss, {"std": F.normalize(z1.detach(), dim=1).std(0).mean()}

    def forward(self, batch):
        x = batch["image"].float() / 255
        return self.loss_from_views(*asymmetric_views(x, self.view_size, self.scale, self.strength, self.solarize_p))
# --8<-- [end:model]


# --8<-- [start:recipe]
@dataclass
class VICRegRecipe(Recipe):
    proj_dim: int = 8192  # the paper's expander: three layers of 8192 units
    hidden_dim: int = 8192
    sim_coeff: float = 25.0  # lambda, mu, nu: the paper's coefficients
    std_coeff: float = 25.0
    cov_coeff: float = 1.0
    strength: float = 0.5  # colour jitter (0.4, 0.4, 0.2, 0.1), as BYOL
    min_scale: float = 0.08
    view_size: int = 0  # side of the views in pixels; 0: the image size (as in the paper)
    solarize_p: float = 0.2  # second view only, as BYOL


# The paper's recipe scaled to a minute of CPU (smaller heads, crops from 0.2 of the image), then
# the epochs and learning rate chosen on the validation split, best layer (linear / kNN %). Seeds
# 0-2, random init 37.9 / 24.8, 36.3 / 23.7, 36.4 / 22.9. 5 epochs at lr 2e-3 (the first bench, one
# thread): mean 40.1 / 20.1. Seed 0 at 10 epochs: lr 4e-3 36.6 / 18.3, lr 2e-3 46.3 / 22.0. 10 epochs,
# lr 1e-3: 46.7 / 30.0, 42.6 / 26.7, 44.0 / 23.7; lr 7e-4: 43.9 / 25.6, 45.1 / 27.0, 42.0 / 23.7.
# A smaller step learns more here than the one the other methods use (2e-3); 1e-3 gains most on both
# probes. 10 epochs take about 50 s on two threads of a quiet 2-core CPU. Views of 16 px for 24 epochs
# (seed 0): 52.8 / 29.2, higher on the linear probe and lower on kNN, so the recipe keeps 32 px.
# Fewer images for more epochs (the lever that lifted exemplar networks and NPID; seed 0), 500 for
# 60 epochs: 45.1 / 24.4, lower on both probes, kNN by more than five points.
RECIPE = VICRegRecipe(image_size=32, num_images=3000, epochs=10, batch_size=64, lr=1e-3, weight_decay=5e-4,
                      proj_dim=512, hidden_dim=512, min_scale=0.2)
# --8<-- [end:recipe]

# The GPU tier (`bench --tier gpu`): a CIFAR-style ResNet-18 on up to 50 000 world images, batch 512,
# a 2048-d expander (the usual CIFAR-10 size; the paper's 8192 is for ImageNet) and the paper's
# coefficients; two views of each image; lr 2e-3 (the CPU's 1e-3 was chosen at batch 64, not 512).
# Sizes not yet measured on a GPU.
GPU_RECIPE = replace(RECIPE, backbone="resnet18-cifar", num_images=50_000, batch_size=512, epochs=40, lr=2e-3,
                     proj_dim=2048, hidden_dim=2048)


def check(recipe: VICRegRecipe) -> None:
    """What the shared checks cannot know: the covariance term needs two dimensions to decorrelate."""
    if recipe.proj_dim < 2:
        raise UserError(f"proj-dim={recipe.proj_dim}: must be at least 2 (the covariance term decorrelates "
                        "pairs of dimensions)")


def build(recipe: VICRegRecipe, data) -> VICReg:
    return VICReg(make_backbone(recipe.backbone), proj_dim=recipe.proj_dim, hidden_dim=recipe.hidden_dim,
                  sim_coeff=recipe.sim_coeff, std_coeff=recipe.std_coeff, cov_coeff=recipe.cov_coeff,
                  strength=recipe.strength, min_scale=recipe.min_scale, view_size=recipe.view_size or recipe.image_size,
                  solarize_p=recipe.solarize_p)
