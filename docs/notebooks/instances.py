# %% [markdown]
# # Notebook: instance classification
#
# The positive pairs of [contrastive learning](../../lecture/instances/) and the NT-Xent
# loss, on images of the embedded world. We check two facts: the loss of a random
# network is close to that of chance, and a few training steps on the views lower it.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ssl_examples.augment import simclr_view
from ssl_examples.data import load_world
from ssl_examples.nets import make_backbone

torch.manual_seed(0)
torch.set_num_threads(2)
data = load_world(image_size=32, num_images=256, num_test=16)
x = data.pretrain.images.float() / 255

# %% [markdown]
# ## Two views of every image

# %% alt="Six world images in the top row; below each, two random augmented views of it (crop, flip, colour jitter, greyscale): the two views are a positive pair"
v1, v2 = simclr_view(x[:6]), simclr_view(x[:6])
fig, axes = plt.subplots(3, 6, figsize=(9, 4.6))
for i in range(6):
    for row, im in enumerate((x[i], v1[i], v2[i])):
        axes[row, i].imshow(im.permute(1, 2, 0))
        axes[row, i].axis("off")
for row, t in enumerate(["image", "view 1", "view 2"]):
    axes[row, 0].set_title(t, loc="left", fontsize=9)

# %% [markdown]
# ## The NT-Xent loss
#
# For $2N$ views, each view's positive is the other view of its image; the $2N - 2$ other
# views are its negatives.

# %% alt="Line plot of the NT-Xent loss (vertical axis) over 25 training steps (horizontal axis), with a dashed grey line at the chance level log(2N - 1)"
def nt_xent(z1, z2, tau=0.5):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / tau
    sim.fill_diagonal_(float("-inf"))
    n = len(z1)
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, positives)


backbone = make_backbone("convnet", in_channels=3)
dim = backbone(x[:2]).shape[1]
head = torch.nn.Sequential(torch.nn.Linear(dim, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64))
opt = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=2e-3, weight_decay=5e-4)
batch = 32
print(f"chance level: log(2N - 1) = {math.log(2 * batch - 1):.2f}")
losses = []
for step in range(25):
    idx = torch.randint(len(x), (batch,))
    loss = nt_xent(head(backbone(simclr_view(x[idx]))), head(backbone(simclr_view(x[idx]))))
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
plt.figure()
plt.plot(losses)
plt.axhline(math.log(2 * batch - 1), color="grey", linestyle="--", label="chance")
plt.xlabel("step")
plt.ylabel("NT-Xent loss")
plt.legend()
