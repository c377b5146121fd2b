# %% [markdown]
# # Notebook: predicting rotations
#
# A tiny run of [rotation prediction](../../methods/rotation/) on 256 images of the
# embedded world (their labels unused), then a linear probe on the frozen features of the
# labelled training images, compared with the same network left at random initialisation. A budget of a few seconds: the numbers are small,
# the trend is what matters.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ssl_examples.data import load_world
from ssl_examples.methods.rotation import rotate_batch
from ssl_examples.nets import make_backbone

torch.manual_seed(0)
torch.set_num_threads(2)
data = load_world(image_size=32, num_images=256, num_test=128)
xp = data.pretrain.images.float() / 255  # the 256 images the pretext task sees
x, y = data.train.images.float() / 255, data.train.labels  # labelled images for the probe
xt, yt = data.test.images.float() / 255, data.test.labels

# %% [markdown]
# ## The pretext targets

# %% alt="Three world images, each shown rotated by 0, 90, 180 and 270 degrees, titled with the angle the network must predict"
four, labels = rotate_batch(xp[:3])
fig, axes = plt.subplots(1, 12, figsize=(12, 1.6))
for a, img, r in zip(axes, four, labels):
    a.imshow(img.permute(1, 2, 0))
    a.set_title(f"{90 * int(r)}°", fontsize=8)
    a.axis("off")

# %% [markdown]
# ## Train for 40 steps

# %% alt="Line plot of the rotation loss (vertical axis) over 40 training steps (horizontal axis), with a dashed grey line at the chance level log 4"
backbone = make_backbone("convnet", in_channels=3)
dim = backbone(xp[:2]).shape[1]
head = torch.nn.Linear(dim, 4)
opt = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=2e-3, weight_decay=5e-4)
losses = []
for step in range(40):
    idx = torch.randint(len(xp), (16,))
    inputs, targets = rotate_batch(xp[idx])
    loss = F.cross_entropy(head(backbone(inputs)), targets)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
plt.plot(losses)
plt.xlabel("step")
plt.ylabel("rotation loss")
plt.axhline(torch.log(torch.tensor(4.0)).item(), color="grey", linestyle="--", label="chance")
plt.legend()

# %% [markdown]
# ## Linear probe on frozen features

# %%
def linear_probe(net, steps=200):
    net.eval()
    with torch.no_grad():
        f, ft = net(x), net(xt)
    mean, std = f.mean(0), f.std(0) + 1e-6
    f, ft = (f - mean) / std, (ft - mean) / std
    clf = torch.nn.Linear(f.shape[1], int(y.max()) + 1)
    o = torch.optim.Adam(clf.parameters(), lr=1e-2)
    for _ in range(steps):
        o.zero_grad()
        F.cross_entropy(clf(f), y).backward()
        o.step()
    return (clf(ft).argmax(1) == yt).float().mean().item()


torch.manual_seed(0)
random_net = make_backbone("convnet", in_channels=3)
print(f"linear probe, random init:      {100 * linear_probe(random_net):.1f}%")
print(f"linear probe, after rotation:   {100 * linear_probe(backbone):.1f}%")
