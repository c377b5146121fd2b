# %% [markdown]
# # Notebook: why they do not collapse
#
# The six methods of [Beyond 2020](../../methods/byol/) learn by making two views of an
# image agree, and none of them uses negative pairs. Then what stops the network from
# giving *every* image the same output, which agrees perfectly? Each method has its own
# answer. Here we watch two of them (BYOL, SimSiam) fail when their mechanism is taken away, on images of
# the embedded world, and we look at the others' mechanisms on small made-up batches.
#
# The collapse meter: L2-normalise the outputs $z$ of a batch and take the standard
# deviation of each dimension over the batch, averaged over dimensions. Outputs spread
# over the sphere give about $1/\sqrt{d}$; outputs that all point the same way give 0.
# We plot it times $\sqrt{d}$, so 1 means spread and 0 means collapsed.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ssl_examples.data.world import world_split
from ssl_examples.figures.collapse import byol_pair, spread_during_training
from ssl_examples.methods.barlow_twins import barlow_twins_loss
from ssl_examples.methods.dino import dino_loss
from ssl_examples.methods.simsiam import SimSiam
from ssl_examples.methods.swav import sinkhorn
from ssl_examples.methods.vicreg import covariance_term, variance_term
from ssl_examples.nets import ConvNet

torch.set_num_threads(1)  # small tensors: one thread is as fast, and never spin-waits on a busy machine
images = world_split("train", 1024, 16)[0]  # 1024 world images at 16 px: a fast experiment
d = 64  # output dimension

# %% [markdown]
# ## BYOL with and without its predictor
#
# The same small network (a narrow ConvNet), the same batches, 300 AdamW steps. Only the
# predictor differs. `spread_during_training` is a plain loop: a random batch, the
# method's loss, a step, then the method's `on_step` (BYOL's target follows the online
# network by a moving average).

# %%
runs = {}
for predictor in (True, False):
    runs[predictor] = spread_during_training(byol_pair(predictor, proj_dim=d), images, steps=300)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for predictor, (losses, spreads) in runs.items():
    label = "with predictor" if predictor else "without predictor"
    axes[0].plot(losses, label=label)
    axes[1].plot([s * math.sqrt(d) for s in spreads], label=label)
axes[0].set(xlabel="step", ylabel="BYOL loss")
axes[1].set(xlabel="step", ylabel="spread x sqrt(d)", ylim=(0, 1.2))
axes[0].legend()
axes[1].legend()
for predictor, (losses, spreads) in runs.items():
    print(f"predictor {predictor!s:5}: final loss {losses[-1]:.3f}, spread x sqrt(d) {spreads[-1] * math.sqrt(d):.2f}")

# %% [markdown]
# Without the predictor the loss goes to 0 and so does the spread: the online network
# found the trivial solution, one output for every image, which its moving-average target
# soon shares. With the predictor the loss stays high and the outputs stay spread. BYOL's
# paper reports the same ablation on ImageNet (no predictor: 0.2 % linear accuracy).
#
# ## SimSiam with and without its stop-gradient
#
# SimSiam has no moving average: the target is the other view's own projection, with the
# gradient stopped. Let the gradient through and the optimiser can move *both* sides
# towards each other.

# %%
def simsiam(stop_gradient):
    torch.manual_seed(0)
    return SimSiam(ConvNet(3, width=8), proj_dim=d, hidden_dim=128, pred_dim=16, stop_gradient=stop_gradient,
                   strength=0.5, min_scale=0.2, view_size=16, fix_pred_lr=False)


fig, ax = plt.subplots(figsize=(5, 3.5))
for sg in (True, False):
    losses, spreads = spread_during_training(simsiam(sg), images, steps=300, lr=5e-3)
    ax.plot(losses, label="with stop-gradient" if sg else "without stop-gradient")
    print(f"stop-gradient {sg!s:5}: final loss {losses[-1]:.3f} (minimum -1), "
          f"spread x sqrt(d) {spreads[-1] * math.sqrt(d):.2f}")
ax.set(xlabel="step", ylabel="SimSiam loss")
ax.legend()

# %% [markdown]
# Without the stop-gradient the loss races towards its minimum of -1, while with it the
# network has to earn every bit of agreement. The spread falls less far than BYOL's here
# because SimSiam's projector ends with a BatchNorm that re-standardises every output
# dimension: the outputs collapse onto a few directions rather than one point.
#
# ## Barlow Twins and VICReg: collapse is in the loss
#
# These two put a price on collapse explicitly. A batch where every image has the same
# embedding, one where all dimensions say the same thing, and one spread out:

# %%
g = torch.Generator().manual_seed(0)
n = 256
spread = torch.randn(n, d, generator=g)
batches = {
    "one point": torch.ones(n, d) + 1e-3 * torch.randn(n, d, generator=g),
    "one direction": torch.randn(n, 1, generator=g) * torch.ones(1, d),
    "spread": spread,
}
print(f"{'batch':14s}{'VICReg variance':>17s}{'VICReg covariance':>19s}{'Barlow Twins':>14s}")
for name, z in batches.items():
    views = z + 0.1 * torch.randn(n, d, generator=g)  # a second view, a little different
    print(f"{name:14s}{variance_term(z).item():17.3f}{covariance_term(z).item():19.3f}"
          f"{barlow_twins_loss(z, views, 1 / d).item():14.2f}")

# %% [markdown]
# VICReg's variance hinge is near 1 for one point (no spread) and 0 once every dimension
# has a standard deviation of 1; its covariance term catches the second kind of collapse,
# where all dimensions are copies of one. Barlow Twins' cross-correlation can only be the
# identity if every dimension varies *and* the dimensions are decorrelated.
#
# ## SwAV: Sinkhorn shares the batch out
#
# Suppose every image of a batch is most similar to prototype 0: a plain softmax would put
# them all in cluster 0, and predicting "cluster 0" would be trivial. SwAV's codes come from
# Sinkhorn-Knopp instead, which makes every prototype take an equal share of the batch.

# %%
k = 8
scores = 0.3 * torch.randn(n, k, generator=g)
scores[:, 0] += 0.5  # everyone prefers prototype 0
softmax_share = F.softmax(scores / 0.05, dim=1).sum(0) / n
codes_share = sinkhorn(scores, iterations=3, epsilon=0.05).sum(0) / n
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(torch.arange(k) - 0.2, softmax_share, width=0.4, label="softmax")
ax.bar(torch.arange(k) + 0.2, codes_share, width=0.4, label="Sinkhorn, 3 iterations")
ax.axhline(1 / k, color="grey", linestyle="--", label="equal share")
ax.set(xlabel="prototype", ylabel="share of the batch")
ax.legend()

# %% [markdown]
# ## DINO: centering against sharpening
#
# DINO's teacher output goes through two operations that pull opposite ways. Centering
# subtracts a running mean of the teacher's outputs, so no output can win for every image
# (collapse to one class); sharpening divides by a small temperature, so the distribution
# cannot stay uniform (the other collapse). Below, outputs where unit 0 dominates for every
# image: the entropy of the teacher's targets (log K: uniform, 0: one-hot) and how many
# images pick unit 0.

# %%
t = torch.randn(n, k, generator=g)
t[:, 0] += 3.0
center = t.mean(0, keepdim=True)
student = [torch.randn(n, k, generator=g) for _ in range(2)]
print(f"{'teacher':34s}{'entropy':>9s}{'pick unit 0':>13s}{'DINO loss':>11s}")
for name, c, temp in [("neither", 0 * center, 1.0), ("sharpened (tau = 0.04)", 0 * center, 0.04),
                      ("centred", center, 1.0), ("centred and sharpened", center, 0.04)]:
    p = F.softmax((t - c) / temp, dim=1)
    entropy = -(p * p.clamp_min(1e-12).log()).sum(1).mean()
    loss = dino_loss([t, t], student, c, teacher_temp=temp, student_temp=0.1)
    print(f"{name:34s}{entropy.item():9.2f}{(p.argmax(1) == 0).float().mean().item():13.0%}{loss.item():11.2f}")
print(f"log K = {math.log(k):.2f}")
