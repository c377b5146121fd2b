"""Figures for the methods that exploit time and sound (video clips of the embedded world)."""

from pathlib import Path

import numpy as np
import torch

from .common import plt, save, to_numpy_image


def _clips(n: int, frames: int, size: int, seed: int = 3):
    from ..data.video import make_clips

    return make_clips(n, frames, size, seed=seed)


def _mask_colours(ids: torch.Tensor) -> np.ndarray:
    """Instance map (H, W) -> RGB array: a fixed colour per layer, black background."""
    palette = np.array([[0, 0, 0], [90, 90, 90], [120, 120, 120], [150, 150, 150], [230, 160, 30],
                        [40, 160, 230], [200, 70, 200], [80, 200, 90]], np.uint8)
    return palette[ids.long().numpy()]


def tracking_animation(path: Path) -> None:
    """GIF: a clip, the greyscale input the network sees, the 16 colour clusters it must
    recover by pointing into a reference frame, and the instance masks that ride along."""
    from PIL import Image

    from ..methods.tracking_colorization import colour_targets, fit_colour_clusters, split_lab

    clips = _clips(1, 16, 96)
    video = clips.video[0]
    centres = fit_colour_clusters(clips.video)
    grey, ab = split_lab(video)
    clusters = colour_targets(ab, centres, (96, 96))  # full resolution for display
    from ..color import lab_to_rgb

    lab = torch.cat([torch.full_like(grey, 65.0), centres[clusters].permute(0, 3, 1, 2)], 1)
    quantised = (lab_to_rgb(lab) * 255).round().to(torch.uint8)
    frames = []
    for t in range(len(video)):
        panels = [video[t].permute(1, 2, 0).numpy(), (grey[t, 0] * 255).round().to(torch.uint8)[..., None].expand(-1, -1, 3).numpy(),
                  quantised[t].permute(1, 2, 0).numpy(), _mask_colours(clips.instances[0, t])]
        gap = np.full((96, 4, 3), 255, np.uint8)
        row = np.concatenate([p for q in panels for p in (q, gap)][:-1], 1)
        frames.append(Image.fromarray(row).resize((row.shape[1] * 2, row.shape[0] * 2), Image.NEAREST))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No loop count: the 16 frames (2.9 s) play once. An animation that runs on for more than
    # 5 s with no way to pause it fails WCAG 2.2.2; reloading the page plays it again.
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=180)


def shuffle_and_learn_figure(path: Path) -> None:
    """A clip, and the positive tuple and the two kinds of negative tuples made from it."""
    clips = _clips(1, 8, 64)
    video = clips.video[0].float() / 255
    a, b, c, d, e = 0, 2, 4, 6, 7
    rows = [("clip (frames 0-7)", list(range(8))), ("positive (b, c, d)", [b, c, d]),
            ("negative (b, a, d)", [b, a, d]), ("negative (b, e, d)", [b, e, d])]
    fig, axes = plt.subplots(len(rows), 8, figsize=(12, 6.4))
    for r, (title, idx) in enumerate(rows):
        for k, ax in enumerate(axes[r]):
            ax.axis("off")
            if k < len(idx):
                ax.imshow(to_numpy_image(video[idx[k]]))
                ax.set_title(f"frame {idx[k]}", fontsize=9)
        axes[r, 0].text(-0.15, 0.5, title, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=11)
    fig.subplots_adjust(left=0.2)
    save(fig, path)


def order_prediction_figure(path: Path) -> None:
    """Four frames in order, then shuffled with per-frame jitter and one colour channel each."""
    from ..methods.order_prediction import ORDERS, RECIPE, jitter_and_split, order_label

    torch.manual_seed(0)
    clips = _clips(1, 8, 64)
    picked = torch.tensor([1, 3, 5, 7])
    perm = (2, 0, 3, 1)
    frames = clips.video[0, picked].float() / 255
    shown = jitter_and_split(frames[list(perm)][None], RECIPE.jitter)[0]
    label = order_label(perm)
    fig, axes = plt.subplots(2, 4, figsize=(8.5, 4.9))
    for k in range(4):
        axes[0, k].imshow(to_numpy_image(frames[k]))
        axes[0, k].set_title(f"t{k + 1} (frame {int(picked[k])})", fontsize=10)
        axes[1, k].imshow(to_numpy_image(shown[k]))
        axes[1, k].set_title(f"shown {k + 1}: t{perm[k] + 1}", fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    reverse = tuple(ORDERS[label].flip(0).tolist())
    fig.suptitle(f"order {tuple(p + 1 for p in perm)} and its reverse "
                 f"{tuple(p + 1 for p in perm[::-1])} are class {label} of 12 "
                 f"(representative {tuple(p + 1 for p in ORDERS[label].tolist())}, reverse {tuple(p + 1 for p in reverse)})",
                 fontsize=10)
    save(fig, path)


def audio_visual_figure(path: Path) -> None:
    """Frames of three clips with their one-second log-mel spectrograms; pairs across rows are negatives."""
    from ..data.audio import log_mel
    from ..data.world import CLASSES

    clips = _clips(3, 8, 64, seed=5)
    spec = log_mel(clips.audio[:, :8000])
    fig, axes = plt.subplots(3, 2, figsize=(7.5, 6.6), gridspec_kw={"width_ratios": [1, 2.2]})
    for i in range(3):
        axes[i, 0].imshow(to_numpy_image(clips.video[i, 4].float() / 255))
        axes[i, 0].set_title(f"main object: {CLASSES[int(clips.label[i])]}", fontsize=10)
        axes[i, 0].axis("off")
        axes[i, 1].imshow(spec[i, 0].numpy(), origin="lower", aspect="auto", cmap="magma", extent=[0, 1, 0, 40])
        axes[i, 1].set_ylabel("mel bin")
        axes[i, 1].set_title("its sound: log-mel spectrogram", fontsize=10)
    axes[-1, 1].set_xlabel("seconds")
    save(fig, path)
