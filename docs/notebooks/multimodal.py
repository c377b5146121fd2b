# %% [markdown]
# # Notebook: audio-visual correspondence
#
# The clips of the embedded world carry a soundtrack that depends on the objects in view.
# The pretext task of [Look, Listen and Learn](../../lecture/multimodal/): does this frame
# go with this sound? Positives pair a frame with its own clip's audio, negatives with
# another clip's.

# %%
import matplotlib.pyplot as plt
import torch

from ssl_examples.data.audio import SAMPLE_RATE, log_mel
from ssl_examples.data.video import make_clips

torch.manual_seed(0)
clips = make_clips(8, frames=8, size=48)
spectrograms = log_mel(clips.audio.float())     # (n, 1, mels, frames)
print(clips.audio.shape, spectrograms.shape, "sample rate", SAMPLE_RATE)

# %% [markdown]
# ## Pairs and their labels

# %% alt="Four rows, one per clip: a video frame, the log-mel spectrogram of its own soundtrack (label 1), and the spectrogram of another clip's soundtrack (label 0)"
n = len(clips)
shift = torch.randint(1, n, (n,))
other = (torch.arange(n) + shift) % n            # a different clip for each negative
fig, axes = plt.subplots(4, 3, figsize=(8, 7))
for row, i in enumerate(range(4)):
    frame = clips.video[i, 4].permute(1, 2, 0)
    axes[row, 0].imshow(frame)
    axes[row, 1].imshow(spectrograms[i, 0], origin="lower", aspect="auto")
    axes[row, 2].imshow(spectrograms[other[i], 0], origin="lower", aspect="auto")
    for a in axes[row]:
        a.set_xticks([])
        a.set_yticks([])
axes[0, 0].set_title("frame")
axes[0, 1].set_title("its own sound: label 1")
axes[0, 2].set_title("another clip's sound: label 0")
plt.tight_layout()

# %% [markdown]
# A network can only answer by relating what it sees to what it hears: which objects are
# present, and how loud they should be.
