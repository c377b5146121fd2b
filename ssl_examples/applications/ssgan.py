r"""A GAN whose discriminator also predicts rotations: SS-GAN (Chen, Zhai, Ritter, Lucic and
Houlsby, CVPR 2019).

Idea: a GAN's discriminator learns features only as long as they help it tell real images
from the current generator's fakes; as the generator changes, the discriminator can forget
what it knew (the paper calls this discriminator forgetting), and training becomes
unstable. SS-GAN gives the discriminator a second, stationary task on the same features:
predict by how much a *real* image was rotated. The generator, in turn, is asked for images
whose rotation the discriminator can tell, i.e. images with a clear up and down.

Loss: with :math:`V` the usual (non-saturating) GAN losses, :math:`Q_D(r \mid x)` the
discriminator's rotation head and :math:`x^r` the image turned by :math:`r \cdot 90°`,

.. math::

    \mathcal{L}_D = V_D(G, D) - \beta \, \mathbb{E}_{x \sim P_{\text{data}}} \, \mathbb{E}_{r}
    \log Q_D(r \mid x^r), \qquad
    \mathcal{L}_G = V_G(G, D) - \alpha \, \mathbb{E}_{x \sim P_G} \, \mathbb{E}_{r} \log Q_D(r \mid x^r)

with the paper's :math:`\alpha = 0.2` and :math:`\beta = 1` (``alpha = beta = 0`` is the plain
GAN). Generator and discriminator are a small DCGAN (Radford, Metz and Chintala, ICLR 2016)
for 32 px images, with spectral normalisation in the discriminator (Miyato et al., ICLR
2018), as in the paper's experiments. A GAN has two optimisers taking turns, so it has its
own short loop here instead of the shared one in ``train.py``.

Quality: the Fréchet distance between generated and real test images, computed on the
pooled features of *our own supervised world classifier* (the course's ConvNet trained on
labelled world images, in the same run). It is the recipe of the FID (Heusel et al., NeurIPS
2017) with a different feature network, so its values are not FIDs and do not compare with
published ones; lower is better.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..data import TensorImages
from ..data.world import CLASSES, world_split
from ..evaluate import SupervisedClassifier
from ..methods.rotation import rotate_batch
from ..nets import make_backbone
from ..train import Recipe, pick_device
from .common import CpuClock, accuracy, batched, fit


# --8<-- [start:networks]
class Generator(nn.Module):
    """DCGAN generator: a noise vector -> 4x4 maps -> three transposed convolutions -> 32x32 RGB."""

    def __init__(self, z_dim: int = 64, width: int = 32):
        super().__init__()
        w = width
        self.z_dim = z_dim
        self.project = nn.Sequential(nn.Linear(z_dim, 4 * w * 16, bias=False), nn.BatchNorm1d(4 * w * 16), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, 3, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1]."""
        return self.up(self.project(z).view(len(z), -1, 4, 4))


class Discriminator(nn.Module):
    """DCGAN discriminator with spectral normalisation; two heads on the same features:
    real/fake (one logit) and rotation (four logits)."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        def conv(a, b):
            return spectral_norm(nn.Conv2d(a, b, 4, 2, 1))
        self.features = nn.Sequential(conv(3, w), nn.LeakyReLU(0.2), conv(w, 2 * w), nn.LeakyReLU(0.2),
                                      conv(2 * w, 4 * w), nn.LeakyReLU(0.2), nn.Flatten())
        self.real_fake = spectral_norm(nn.Linear(4 * w * 16, 1))
        self.rotation = spectral_norm(nn.Linear(4 * w * 16, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.real_fake(h).squeeze(1), self.rotation(h)
# --8<-- [end:networks]


# --8<-- [start:losses]
def discriminator_loss(D, real: torch.Tensor, fake: torch.Tensor, beta: float) -> torch.Tensor:
    """Non-saturating GAN loss for D, plus β times the rotation loss on real images only.

    One pass over the real images in their four rotations (the upright ones first, which also
    give the real/fake logits) and the fakes."""
    x, r = rotate_batch(real) if beta > 0 else (real, None)
    logit, rotation_logits = D(torch.cat([x, fake.detach()]))
    real_logit, fake_logit = logit[: len(real)], logit[len(x):]
    loss = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()  # -log σ(D(x)) - log(1 - σ(D(G(z))))
    if beta > 0:
        loss = loss + beta * F.cross_entropy(rotation_logits[: len(x)], r)
    return loss


def generator_loss(D, fake: torch.Tensor, alpha: float) -> torch.Tensor:
    """Non-saturating GAN loss for G, plus α times the rotation loss on its own images."""
    x, r = rotate_batch(fake) if alpha > 0 else (fake, None)
    logit, rotation_logits = D(x)
    loss = F.softplus(-logit[: len(fake)]).mean()  # -log σ(D(G(z)))
    if alpha > 0:
        loss = loss + alpha * F.cross_entropy(rotation_logits, r)
    return loss
# --8<-- [end:losses]


def train_gan(images: torch.Tensor, steps: int, batch_size: int, alpha: float, beta: float, seed: int,
              device, lr: float = 2e-4, verbose: bool = False) -> Generator:
    """Alternate one discriminator and one generator step; Adam with β1 = 0.5 (DCGAN's choice)."""
    torch.manual_seed(seed)
    device = torch.device(device)
    G, D = Generator().to(device), Discriminator().to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(len(images), (batch_size,), generator=g)
        real = images[idx].to(device).float() / 127.5 - 1
        real = torch.where(torch.rand(batch_size, 1, 1, 1, device=device) < 0.5, real, real.flip(3))
        fake = G(torch.randn(batch_size, G.z_dim, device=device))
        loss_d = discriminator_loss(D, real, fake, beta)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = generator_loss(D, fake, alpha)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if not (torch.isfinite(loss_d) and torch.isfinite(loss_g)):
            from ..errors import UserError
            raise UserError(f"the GAN's loss became non-finite at step {step + 1}; try a lower --set lr")
        if verbose and (step + 1) % 200 == 0:
            print(f"  step {step + 1}: loss D {loss_d.item():.3f}, loss G {loss_g.item():.3f}", flush=True)
    return G.eval()


@torch.no_grad()
def generate(G: Generator, n: int, seed: int, device) -> torch.Tensor:
    """``n`` samples as uint8 images (n, 3, 32, 32)."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    out = torch.cat([G(z[i:i + 500]) for i in range(0, n, 500)]).cpu()
    return ((out + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


# --8<-- [start:frechet]
def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(n, d)``:
    ``|μa - μb|² + Tr(Σa + Σb - 2 (Σa Σb)^½)``, in float64. ``Tr((Σa Σb)^½)`` is the sum of
    the square roots of the eigenvalues of the symmetric ``Σa^½ Σb Σa^½``."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    vals, vecs = torch.linalg.eigh(cov_a)
    root_a = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return ((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross).item()
# --8<-- [end:frechet]


@dataclass(frozen=True)
class Config:
    num_train: int = 10000  # world training images the GAN learns to imitate
    steps: int = 1000  # discriminator + generator steps
    batch_size: int = 64
    lr: float = 2e-4
    alpha: float = 0.2  # the paper's weights, not tuned here
    beta: float = 1.0
    num_eval: int = 2000  # generated and real test images for the Fréchet distance
    classifier_images: int = 8000  # labelled world images for the feature network
    classifier_epochs: int = 2


DEFAULTS = Config()


def feature_network(config: Config, device) -> SupervisedClassifier:
    """Our supervised world classifier (the course's ConvNet), trained here from seed 0."""
    images, _, labels = world_split("train", config.classifier_images)
    recipe = Recipe(epochs=config.classifier_epochs, batch_size=128, lr=4e-3, warmup_epochs=0.2)
    return fit(lambda: SupervisedClassifier(make_backbone("convnet"), len(CLASSES)), TensorImages(images, labels),
               recipe, seed=0, device=device)


def grid(images: torch.Tensor, rows: int = 8) -> torch.Tensor:
    """``rows x rows`` uint8 images (3, 32, 32) -> one uint8 picture with 2-pixel white gaps."""
    n, c, h, w = images[: rows * rows].shape
    out = torch.full((c, rows * (h + 2) + 2, rows * (w + 2) + 2), 255, dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, rows)
        out[:, 2 + r * (h + 2):2 + r * (h + 2) + h, 2 + k * (w + 2):2 + k * (w + 2) + w] = images[i]
    return out


def run(config: Config, seeds, device, verbose=False) -> dict:
    clock = CpuClock()
    device = str(pick_device(device))
    net = feature_network(config, device)
    test_images, _, test_labels = world_split("test", config.num_eval)
    train_images, _, _ = world_split("train", config.num_train)

    def features(images):
        return batched(net.backbone, images, device)
    real = features(test_images)
    classifier_acc = accuracy(batched(lambda x: net.classifier(net.backbone(x)), test_images, device), test_labels)
    floor = frechet_distance(features(train_images[: config.num_eval]), real)
    variants = {"DCGAN": (0.0, 0.0), f"SS-GAN (α={config.alpha:g}, β={config.beta:g})": (config.alpha, config.beta)}
    fd = {v: [] for v in variants}
    samples = {}
    for seed in seeds:
        for v, (alpha, beta) in variants.items():
            G = train_gan(train_images, config.steps, config.batch_size, alpha, beta, seed, device, config.lr, verbose)
            fake = generate(G, config.num_eval, seed=1000 + seed, device=device)
            fd[v].append(frechet_distance(features(fake), real))
            if seed == seeds[0]:
                samples["dcgan" if alpha == 0 else "ssgan"] = grid(fake)
        print(f"  seed {seed}: " + " / ".join(f"{fd[v][-1]:.1f}" for v in variants), flush=True)
    table = {"id": "frechet", "row_header": "images compared with the real test images", "columns": list(variants),
             "scale": 1, "digits": 2, "gain": True,
             "title": f"Fréchet distance on the features of our supervised world classifier (not an FID; lower is "
                      f"better) between {config.num_eval} generated and {config.num_eval} real test images, after "
                      f"{config.steps} steps of batch {config.batch_size}; mean ± 95 % interval over seeds "
                      f"{', '.join(map(str, seeds))}. For scale: {config.num_eval} real *training* images are at "
                      f"{floor:.2f} from the test images; the classifier's test accuracy is {100 * classifier_acc:.1f} %.",
             "rows": [{"label": "generated images", "cells": [fd[v] for v in variants]}]}
    return {"tables": [table], "samples": samples, "real_floor": floor, "classifier_accuracy": classifier_acc,
            **clock.read()}


def select(config: Config, seeds, device, verbose=False) -> dict:
    from ..errors import UserError

    raise UserError("ssgan uses the paper's weights (α=0.2, β=1) and tunes nothing, so there is nothing to select")
