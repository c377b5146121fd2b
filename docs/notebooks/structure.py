# %% [markdown]
# # Notebook: inferring structure
#
# The pretext targets of [context prediction](../../lecture/structure/) and jigsaw
# puzzles, made from images of the course's embedded data world. No training here: the
# point is to see what the network is asked, and why the gaps between patches matter.

# %%
import matplotlib.pyplot as plt
import torch

from ssl_examples.data import load_world

torch.manual_seed(0)
data = load_world(image_size=96, num_images=64, num_test=16)
images = data.pretrain.images.float() / 255  # (N, 3, 96, 96) in [0, 1]
print(images.shape)

# %% [markdown]
# ## Context prediction: a centre patch and a numbered neighbour
#
# Cut a 3x3 grid of 32-pixel cells, keep a smaller patch in each with a random jitter,
# so that no line continues exactly from one patch into the next.

# %% alt="Four world images in rows; for each, the image, its jittered centre patch, and one of its eight neighbour patches titled with the target number (0 to 7) the network must predict"
def grid_patches(x, cell=32, patch=24, jitter=3):
    """9 patches per image, (N, 9, 3, patch, patch), each jittered inside its cell."""
    n = x.shape[0]
    out = torch.empty(n, 9, 3, patch, patch)
    slack = cell - patch
    for k in range(9):
        r, c = divmod(k, 3)
        for i in range(n):
            dy, dx = torch.randint(max(0, slack // 2 - jitter), min(slack, slack // 2 + jitter) + 1, (2,)).tolist()
            out[i, k] = x[i, :, r * cell + dy:r * cell + dy + patch, c * cell + dx:c * cell + dx + patch]
    return out


patches = grid_patches(images[:4])
neighbours = [0, 1, 2, 3, 5, 6, 7, 8]  # the 8 answers, numbered 0..7
fig, axes = plt.subplots(4, 3, figsize=(5, 6.5))
for i in range(4):
    label = torch.randint(8, ()).item()
    axes[i, 0].imshow(images[i].permute(1, 2, 0))
    axes[i, 1].imshow(patches[i, 4].permute(1, 2, 0))
    axes[i, 2].imshow(patches[i, neighbours[label]].permute(1, 2, 0))
    axes[i, 2].set_title(f"target: {label}", fontsize=9)
for a, t in zip(axes[0], ["image", "centre", "neighbour"]):
    a.set_xlabel(t)
for a in axes.flat:
    a.set_xticks([])
    a.set_yticks([])
plt.tight_layout()

# %% [markdown]
# ## Jigsaw: a fixed set of permutations far apart in Hamming distance
#
# The paper's algorithm: start from a random permutation, then repeatedly add the candidate
# whose Hamming distances to all the permutations chosen so far sum to the most. The
# package's `max_average_permutations` does exactly this over all $9!$ permutations.

# %%
from ssl_examples.methods.jigsaw import hamming_distances, max_average_permutations

perms = max_average_permutations(100)
d = hamming_distances(perms).float()
off_diagonal = d[~torch.eye(len(d), dtype=torch.bool)]
print(f"100 permutations: mean Hamming distance {off_diagonal.mean():.2f}, smallest {int(off_diagonal.min())}")

# %% alt="A 3 by 3 grid of one image's nine tiles, shuffled by one of the chosen permutations; the title names the permutation's index, the network's target"
tiles = grid_patches(images[:1], patch=28, jitter=2)[0]
label = 7
shuffled = tiles[perms[label]]
fig, axes = plt.subplots(3, 3, figsize=(4, 4))
for k, a in enumerate(axes.flat):
    a.imshow(shuffled[k].permute(1, 2, 0))
    a.set_xticks([])
    a.set_yticks([])
fig.suptitle(f"input of the network; target: permutation {label}")
plt.tight_layout()
