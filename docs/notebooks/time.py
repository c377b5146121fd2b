# %% [markdown]
# # Notebook: exploiting time
#
# The embedded world also comes as short video clips. Here are the pretext targets of
# [Shuffle and Learn and order prediction](../../lecture/time/): tuples of frames kept in
# order or shuffled, and order classes where a sequence and its reverse count as one.

# %%
import itertools

import matplotlib.pyplot as plt
import torch

from ssl_examples.data.video import make_clips

torch.manual_seed(0)
clips = make_clips(8, frames=8, size=48)
video = clips.video.float() / 255       # (n, T, 3, S, S)
print(video.shape)

# %% [markdown]
# ## A clip

# %% alt="Two clips of the embedded world, eight frames each (t = 0 to 7): drawn objects move across a photograph from frame to frame"
fig, axes = plt.subplots(2, 8, figsize=(12, 3.2))
for c in range(2):
    for t in range(8):
        axes[c, t].imshow(video[c, t].permute(1, 2, 0))
        axes[c, t].set_title(f"t = {t}", fontsize=8)
        axes[c, t].axis("off")

# %% [markdown]
# ## Shuffle and Learn: is the tuple in order?
#
# Take three frames $(a, b, c)$ in order (positive) or replace the middle one by a frame
# from outside the interval (negative: $(b, a, c)$ or $(a, c, b)$ orders).

# %% alt="Four frame triplets, one per row, each frame titled with its time index: rows labelled in order (label 1) alternate with shuffled ones (label 0)"
def tuple_and_label(v, positive):
    a, b, c = sorted(torch.randperm(v.shape[0])[:3].tolist())
    order = (a, b, c) if positive else ((b, a, c) if torch.rand(()) < 0.5 else (a, c, b))
    return v[list(order)], int(positive), order


fig, axes = plt.subplots(4, 3, figsize=(5, 6.5))
for i in range(4):
    frames, label, order = tuple_and_label(video[i], positive=i % 2 == 0)
    for j in range(3):
        axes[i, j].imshow(frames[j].permute(1, 2, 0))
        axes[i, j].set_title(f"frame {order[j]}", fontsize=8)
        axes[i, j].axis("off")
    axes[i, 0].set_ylabel(f"label {label}")
    axes[i, 0].text(-0.6, 0.5, "in order" if label else "shuffled", transform=axes[i, 0].transAxes,
                    ha="right", va="center", color="green" if label else "red")
plt.tight_layout()

# %% [markdown]
# ## Order prediction: classes up to reversal
#
# With 4 frames there are 24 orders; merging each with its reverse leaves 12 classes.

# %%
classes = {}
for p in itertools.permutations(range(4)):
    key = min(p, p[::-1])
    classes.setdefault(key, []).append(p)
print(len(classes), "classes, e.g.", list(classes.items())[:3])
