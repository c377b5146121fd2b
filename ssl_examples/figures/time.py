"""Figures for the methods that exploit time and sound (video clips of the embedded world)."""

import functools
from pathlib import Path

import numpy as np
import torch

from .common import BLUE, GREEN, QA_SIZE, RED, deck_style, plt, save, save_deck, show, to_numpy_image


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


# --- the lecture deck's question and answer slides --------------------------------------------

@functools.lru_cache(maxsize=1)
def deck_clips():
    """Three clips of the world (a house, a flower, a lamp), shared by the deck's time figures."""
    return _clips(3, 12, 96, seed=11)


HOUSE, FLOWER, LAMP = 0, 1, 2


def _frame(t: int, clip: int = HOUSE) -> torch.Tensor:
    return deck_clips().video[clip, t].float() / 255


def _inside_point(mask: torch.Tensor) -> list[float]:
    """The pixel of ``mask`` farthest from its edge: an arrow's end well inside the object's
    visible part (the centroid of a card half hidden behind a flower falls on the stem)."""
    core = mask.float()[None, None]
    while True:  # erode one pixel at a time; keep the last part that is not empty
        eroded = -torch.nn.functional.max_pool2d(-core, 3, stride=1, padding=1)
        if not eroded.any():
            break
        core = eroded
    points = torch.nonzero(core[0, 0]).float()
    return points[(points - points.mean(0)).square().sum(1).argmin()].tolist()


def tracking_colorization_qa(path: Path, part: str) -> None:
    """Question: a colour reference frame and a grey later frame. Answer: the colours, copied along
    arrows from each object's place in the target frame to its place in the reference."""
    from matplotlib.patches import ConnectionPatch

    from ..color import rgb_to_lab

    clips, ref_t, target_t = deck_clips(), 0, 8
    reference, target = _frame(ref_t, FLOWER), _frame(target_t, FLOWER)
    with deck_style():
        fig, axes = plt.subplots(1, 2, figsize=QA_SIZE)
        show(axes[0], reference, f"reference: frame {ref_t}, in colour", BLUE)
        if part == "q":
            grey = rgb_to_lab(target[None])[0, :1] / 100
            show(axes[1], grey, f"target: frame {target_t}, grey")
            fig.suptitle("what colour is each pixel of the target?", color=BLUE)
        else:
            show(axes[1], target, f"frame {target_t}: colours copied", RED)
            ids = clips.instances[FLOWER]
            for layer in torch.unique(ids[target_t]).tolist():
                a, b = ids[target_t] == layer, ids[ref_t] == layer
                if layer == 0 or a.sum() < 150 or b.sum() < 150:
                    continue  # the background, or an object too small to point at
                (ya, xa), (yb, xb) = [_inside_point(m) for m in (a, b)]
                fig.add_artist(ConnectionPatch((xa, ya), (xb, yb), "data", "data", axesA=axes[1], axesB=axes[0],
                                               arrowstyle="-|>", mutation_scale=20, lw=2.5, color=RED))
            fig.suptitle("each pixel points to where it came from", color=RED)
        save_deck(fig, path)


# Shuffle and Learn's five frames a < b < c < d < e of the house clip
A, B, C, D, E = 0, 3, 6, 9, 11
TUPLES = (((B, C, D), True), ((B, E, D), False))


def shuffle_and_learn_qa(path: Path, part: str) -> None:
    """Question: two tuples of three frames. Answer: which one is in temporal order."""
    with deck_style():
        fig, axes = plt.subplots(2, 3, figsize=QA_SIZE)
        for row, (frames, in_order) in enumerate(TUPLES):
            for k, t in enumerate(frames):
                if part == "q":
                    show(axes[row, k], _frame(t), f"tuple {row + 1}" if k == 1 else None)
                else:
                    show(axes[row, k], _frame(t), f"frame {t}", GREEN if in_order else RED)
            if part == "a":
                axes[row, 1].set_title("in order: yes" if in_order else "in order: no",
                                       color=GREEN if in_order else RED)
        if part == "q":
            fig.suptitle("which tuple is in the right order?", color=BLUE)
        save_deck(fig, path)


OPN_FRAMES = (1, 4, 7, 10)  # t1 < t2 < t3 < t4 of the house clip
OPN_SHOWN = (2, 0, 3, 1)  # shown k is t(OPN_SHOWN[k] + 1)


def order_prediction_qa(path: Path, part: str) -> None:
    """Question: four shuffled frames. Answer: their order, one of 12 classes (a sequence and its
    reverse are one class)."""
    from ..methods.order_prediction import ORDERS, order_label

    label = order_label(OPN_SHOWN)
    with deck_style():
        fig, axes = plt.subplots(2, 4, figsize=QA_SIZE)
        if part == "q":
            for ax in axes.flat:
                ax.remove()
            grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.3])
            for k, i in enumerate(OPN_SHOWN):
                show(fig.add_subplot(grid[k // 2, k % 2]), _frame(OPN_FRAMES[i]), f"shown {k + 1}")
            note = fig.add_subplot(grid[:, 2])
            note.axis("off")
            note.text(0.5, 0.5, "in which order\nwere they filmed?\n\n12 classes: an\norder and its\nreverse are one",
                      ha="center", va="center", color=BLUE, transform=note.transAxes)
        else:
            for k, i in enumerate(OPN_SHOWN):
                show(axes[0, k], _frame(OPN_FRAMES[i]), f"t{i + 1}", RED)
            for k in range(4):
                show(axes[1, k], _frame(OPN_FRAMES[k]), f"t{k + 1}", GREEN)
            axes[0, 0].set_ylabel("shown")
            axes[1, 0].set_ylabel("sorted")
            rep = " ".join(str(int(p) + 1) for p in ORDERS[label])
            fig.suptitle(f"class {label} of 12: order {rep} or its reverse", color=RED)
        save_deck(fig, path)


AV_SOUND_ORDER = (2, 0, 1)  # sound k of the question belongs to clip AV_SOUND_ORDER[k]


def audio_visual_qa(path: Path, part: str) -> None:
    """Question: three frames and three one-second sounds. Answer: which sound goes with which frame."""
    from matplotlib.patches import ConnectionPatch

    from ..data.audio import SAMPLE_RATE, log_mel
    from ..data.world import CLASSES

    clips = deck_clips()
    spec = log_mel(clips.audio[:, :SAMPLE_RATE])
    with deck_style():
        fig = plt.figure(figsize=QA_SIZE)
        frames, sounds = [], []
        for row in range(3):
            y = 0.64 - row * 0.3
            frames.append(fig.add_axes([0.14, y, 0.2, 0.25]))
            sounds.append(fig.add_axes([0.49, y, 0.36, 0.25]))
            show(frames[row], _frame(6, row))
            if part == "a":
                frames[row].set_ylabel(CLASSES[int(clips.label[row])], rotation=0, ha="right", va="center")
            s = AV_SOUND_ORDER[row]
            sounds[row].imshow(spec[s, 0].numpy(), origin="lower", aspect="auto", cmap="magma")
            sounds[row].set_xticks([])
            sounds[row].set_yticks([])
            # beside the spectrogram, not on it: a label on the image hid part of the sound
            sounds[row].text(1.03, 0.5, f"sound\n{row + 1}", va="center", ha="left", fontsize=13,
                             transform=sounds[row].transAxes)
        if part == "q":
            fig.suptitle("which sound belongs to which video?", color=BLUE)
        else:
            for row in range(3):
                s = AV_SOUND_ORDER.index(row)  # the sound of clip `row`
                fig.add_artist(ConnectionPatch((1.04, 0.5), (-0.04, 0.5), "axes fraction", "axes fraction",
                                               axesA=frames[row], axesB=sounds[s], lw=3, color=GREEN))
            fig.suptitle("same video: yes; any other pair: no", color=RED)
        save_deck(fig, path, tight=False)
