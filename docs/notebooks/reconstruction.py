# %% [markdown]
# # Notebook: reconstruction targets
#
# What [context encoders](../../lecture/reconstruction/) and colorization ask for, on
# images of the embedded world: a hole to fill, and the colour channels of a Lab image
# quantised into bins, with the rebalancing weights that favour rare colours.

# %%
import matplotlib.pyplot as plt
import torch

from ssl_examples.color import kmeans, lab_to_rgb, quantise, rgb_to_lab
from ssl_examples.data import load_world

torch.manual_seed(0)
data = load_world(image_size=64, num_images=256, num_test=16)
x = data.pretrain.images.float() / 255

# %% [markdown]
# ## Inpainting: input and target

# %% alt="Four world images with a grey square hole in the centre (top row, the input) and the missing centre patches (bottom row, the target)"
holed = x[:4].clone()
holed[:, :, 16:48, 16:48] = 0.5
fig, axes = plt.subplots(2, 4, figsize=(8, 4))
for i in range(4):
    axes[0, i].imshow(holed[i].permute(1, 2, 0))
    axes[1, i].imshow(x[i, :, 16:48, 16:48].permute(1, 2, 0))
    axes[0, i].axis("off")
    axes[1, i].axis("off")
axes[0, 0].set_title("input", loc="left")
axes[1, 0].set_title("target", loc="left")

# %% [markdown]
# ## Colorization: lightness in, colour bins out

# %%
lab = rgb_to_lab(x)                      # (N, 3, H, W): L in [0, 100], a and b
ab = lab[:, 1:].permute(0, 2, 3, 1).reshape(-1, 2)
centres = kmeans(ab[torch.randperm(len(ab))[:20000]], k=32)
bins = quantise(lab[:, 1:], centres)     # the class of every pixel
counts = torch.bincount(bins.flatten(), minlength=len(centres)).float()
p = counts / counts.sum()
weights = 1 / (0.5 * p + 0.5 / len(p))   # rebalancing: rare colours weigh more
weights = weights / (weights * p).sum()
print("most frequent bin weight:", round(weights[p.argmax()].item(), 2),
      "| rarest bin weight:", round(weights[p.argmin()].item(), 2))

# %% alt="Four world images in three rows: the lightness channel alone (the input), the true colours, and the colours snapped to the 32 colour bins (the targets)"
recoloured = lab.clone()
recoloured[:, 1:] = centres[bins].permute(0, 3, 1, 2)
grey = lab.clone()
grey[:, 1:] = 0
fig, axes = plt.subplots(3, 4, figsize=(8, 6))
for i in range(4):
    for row, im in enumerate((lab_to_rgb(grey[i:i + 1])[0], x[i], lab_to_rgb(recoloured[i:i + 1])[0])):
        axes[row, i].imshow(im.clamp(0, 1).permute(1, 2, 0))
        axes[row, i].axis("off")
for row, t in enumerate(["input L", "true colours", "colours as 32 bins"]):
    axes[row, 0].set_title(t, loc="left", fontsize=9)
plt.tight_layout()
