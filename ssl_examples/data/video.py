"""Video clips of the embedded world (with soundtracks), and a folder of real video files.

**Embedded clips.** A clip starts from a still scene of the world (``world.sample_scenes``)
and changes its parameters a little every frame: each object drifts with its own velocity
and spin (the main object sometimes fast enough to leave the frame), the distractor object
walks in from its edge, clutter and occluders cross the scene, and the camera pans over the
background photograph. Every frame is drawn by ``world.render``, which also returns which layer
covers each pixel, so every clip comes with exact per-frame instance masks. Objects occlude
each other as they cross (in a third of the clips the distractor passes *in front* of the
main object). The soundtrack (``ssl_examples.data.audio``) is made from what is visible:
each visible object class sounds its own voice, over noise and distractor sounds.

Clips are deterministic in ``(n, frames, size, seed)``, and the first ``n`` clips of a seed do
not depend on how many follow. Rendering is the slow part on a CPU (about 10 ms a frame),
so :func:`video_split` keeps rendered splits in the cache folder (``ssl_examples.cache``).

**A folder of videos** (UCF101-style: ``train/<class>/*.avi`` and ``test/<class>/*.avi``) is
decoded with PyAV: ``frames`` frames evenly spread over each video, resized and centre-cropped,
and the soundtrack resampled to mono at ``audio.SAMPLE_RATE``.
"""

import dataclasses
import functools
import hashlib
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import cache_dir, load_cached, save_cached
from ..errors import UserError
from . import TensorImages, audio, world

FPS = 8  # frames per second of the embedded clips: 8 frames are one second of sound
CLIP_BLOCK = 128  # clips are sampled in blocks with their own seeds (prefix property)
VIDEO_DATASETS = ("world", "videofolder")


@dataclasses.dataclass
class Clips:
    """``n`` clips of ``T`` frames of ``S x S`` pixels."""

    video: torch.Tensor  # (n, T, 3, S, S) uint8
    instances: torch.Tensor  # (n, T, S, S) uint8: 0 background, 1 + layer index of the nearest object
    kinds: torch.Tensor  # (n, L) int64 index into world.KINDS (classes first), -1 for an empty layer
    label: torch.Tensor  # (n,) int64: class of the main object
    audio: torch.Tensor  # (n, samples) float soundtrack at audio.SAMPLE_RATE

    def __len__(self) -> int:
        return len(self.video)

    def __getitem__(self, index) -> "Clips":
        return Clips(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})


# --8<-- [start:animate]
def sample_motion(scenes: world.Scenes, frames: int, g: torch.Generator) -> world.Scenes:
    """Animate still scenes: ``n * frames`` scenes, clip ``i``'s frame ``t`` at ``i * frames + t``.

    Velocities are in image half-widths per frame (the image spans [-1, 1]).
    """
    n, L = scenes.kind.shape
    u = lambda *shape, lo=0.0, hi=1.0: lo + (hi - lo) * torch.rand(shape, generator=g)  # noqa: E731
    speed = u(n, L, hi=0.04)  # clutter drifts slowly
    heading = u(n, L, lo=-math.pi, hi=math.pi)
    spin = u(n, L, lo=-0.15, hi=0.15)
    main, dis = world.MAIN, world.DISTRACTOR
    fast = torch.rand(n, generator=g) < 0.25  # a quarter of the main objects leave the frame
    speed[:, main] = torch.where(fast, u(n, lo=0.12, hi=0.2), u(n, lo=0.02, hi=0.1))
    spin[:, main] = u(n, lo=-0.06, hi=0.06)
    # The distractor starts at an edge and heads roughly towards the centre.
    to_centre = torch.atan2(-scenes.y[:, dis], -scenes.x[:, dis])
    heading[:, dis] = to_centre + u(n, lo=-1.0, hi=1.0)
    speed[:, dis], spin[:, dis] = u(n, lo=0.04, hi=0.12), u(n, lo=-0.04, hi=0.04)
    for s in world.OCCLUDERS:
        speed[:, s] = u(n, lo=0.03, hi=0.12)
    zoom = torch.exp(u(n, lo=-0.03, hi=0.03))  # the main object comes closer or moves away
    depth = scenes.depth.clone()
    depth[:, dis] = torch.where(torch.rand(n, generator=g) < 1 / 3, main + 0.5, depth[:, dis])
    pan = u(n, 2, lo=-0.04, hi=0.04)  # camera pan, image half-widths per frame

    t = torch.arange(frames, dtype=torch.float32).repeat(n)  # (n * frames,)
    rep = lambda v: v.repeat_interleave(frames, 0)  # noqa: E731
    out = {f.name: rep(getattr(scenes, f.name)).clone() for f in dataclasses.fields(scenes)}
    out["depth"] = rep(depth)
    out["x"] += rep(speed * torch.cos(heading)) * t[:, None]
    out["y"] += rep(speed * torch.sin(heading)) * t[:, None]
    out["angle"] += rep(spin) * t[:, None]
    out["scale"][:, main] *= rep(zoom) ** t
    crop = out["bg_crop"]
    limit = 1 - crop[:, 2:3]  # keep the crop inside the photograph
    crop[:, :2] = (crop[:, :2] + rep(pan) * crop[:, 2:3] * t[:, None]).clamp(-limit, limit)
    return world.Scenes(**out)
# --8<-- [end:animate]


def render_clips(scenes: world.Scenes, frames: int, size: int, chunk: int = 256):
    """Render animated scenes: video uint8 ``(n, T, 3, S, S)`` and instance maps ``(n, T, S, S)``."""
    m = len(scenes)
    video = torch.empty(m, 3, size, size, dtype=torch.uint8)
    ids = torch.empty(m, size, size, dtype=torch.uint8)
    for i in range(0, m, chunk):
        image, layer = world.render(scenes[i:i + chunk], size)
        video[i:i + chunk] = (image * 255).round_().to(torch.uint8)
        ids[i:i + chunk] = layer
    return video.view(-1, frames, 3, size, size), ids.view(-1, frames, size, size)


def loudness_from_visibility(instances: torch.Tensor, layers: int) -> torch.Tensor:
    """``(n, T, L)`` in [0, 1]: an object sounds at full strength once 10 % of the frame shows it."""
    area = torch.stack([(instances == layer + 1).float().mean((-2, -1)) for layer in range(layers)], -1)
    return (area / 0.1).sqrt().clamp(max=1.0)


def _block_generator(seed: int, stream: int, block: int) -> torch.Generator:
    state = np.random.SeedSequence([0x71DE0, stream, seed, block]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


def make_clips(n: int, frames: int = 8, size: int = 32, seed: int = 0, stream: int = 0) -> Clips:
    """``n`` clips of the world with soundtracks; deterministic, and a prefix of ``n + m`` clips."""
    parts = []
    for b in range((n + CLIP_BLOCK - 1) // CLIP_BLOCK):
        g = _block_generator(seed, stream, b)
        still = world.sample_scenes(CLIP_BLOCK, g)
        moving = sample_motion(still, frames, g)
        k = min(CLIP_BLOCK, n - b * CLIP_BLOCK)
        video, instances = render_clips(moving[:k * frames], frames, size)
        classes = torch.where(still.kind < len(world.CLASSES), still.kind, -1)
        loud = torch.zeros(CLIP_BLOCK, frames, world.LAYERS)  # the whole block, so draws do not depend on k
        loud[:k] = loudness_from_visibility(instances, world.LAYERS)
        sound = audio.soundtrack(classes, loud, FPS, g)[:k]
        parts.append(Clips(video, instances, still.kind[:k].clone(), still.label[:k].clone(), sound))
    return Clips(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(Clips)})


SPLITS = {"train": 1, "test": 2}


def _cache_key(*args) -> str:
    here = Path(__file__).parent
    h = hashlib.sha256(repr(args).encode())
    for source in ("shapes.py", "world.py", "video.py", "audio.py"):  # a change to the world re-renders
        h.update((here / source).read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def video_split(split: str, n: int, frames: int = 8, size: int = 32) -> Clips:
    """The ``train`` or ``test`` clips (streams of their own), cached on disk; do not modify."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {tuple(SPLITS)}, not {split!r}")
    path = cache_dir("video", f"{split}-{n}x{frames}-{size}px-{_cache_key(split, n, frames, size)}.pt")
    stored = load_cached(path)  # a missing or broken file is rendered (again)
    if stored is not None:
        return Clips(**stored)
    clips = make_clips(n, frames, size, seed=0, stream=SPLITS[split])
    save_cached(dataclasses.asdict(clips), path)  # a read-only home: just render next time
    return clips


class TensorClips(TensorImages):
    """Clips in memory; batches are ``{"video": (B, T, 3, S, S) uint8, "audio": (B, samples),
    "label", "index"}``, fetched with one indexing operation like ``TensorImages``."""

    def __init__(self, clips: Clips):
        self.clips = clips
        self.labels = clips.label

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        return self.__getitems__([i])

    def __getitems__(self, indices):
        idx = torch.as_tensor(indices)
        return {"video": self.clips.video[idx], "audio": self.clips.audio[idx],
                "label": self.clips.label[idx], "index": idx}

    def subset(self, indices: torch.Tensor) -> "TensorClips":
        return TensorClips(self.clips[indices])


def load_video(name: str, image_size: int, clips: int, frames: int, root: Path | None = None):
    """Data for a video method: ``pretrain`` holds clips, ``train``/``test`` labelled still
    images for the shared protocols (the world's own images, so rows compare with image methods)."""
    from . import ImageData, load_world

    if name == "world":
        stills = load_world(image_size, num_images=1)  # only its labelled splits are used
        return ImageData("world", TensorClips(video_split("train", clips, frames, image_size)),
                         stills.train, stills.test, stills.num_classes, image_size, val=stills.val)
    if name == "videofolder":
        if root is None:
            raise UserError("the videofolder dataset needs --data-root PATH")
        return load_video_folder(root, frames, image_size)
    raise UserError(f"unknown video dataset {name!r}; choose one of {', '.join(VIDEO_DATASETS)}")


# ----------------------------------------------------------------------------------------------
# Real videos


def read_video(path: Path, frames: int, size: int, seconds: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``frames`` frames evenly spread over a video file and its soundtrack with PyAV.

    Returns video uint8 ``(frames, 3, size, size)`` (short side resized, centre crop) and mono
    audio float ``(samples,)`` at ``audio.SAMPLE_RATE``, cut or zero-padded to ``seconds``
    (default: one second per ``FPS`` frames); silence if the file has no audio stream.
    """
    import av

    seconds = seconds if seconds is not None else frames / FPS
    try:
        with av.open(str(path)) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        sound = []
        with av.open(str(path)) as container:
            if container.streams.audio:
                resampler = av.AudioResampler(format="flt", layout="mono", rate=audio.SAMPLE_RATE)
                for frame in container.decode(audio=0):
                    for out in resampler.resample(frame):
                        sound.append(out.to_ndarray().reshape(-1))
                for out in resampler.resample(None):
                    sound.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, IndexError, OSError) as e:
        raise UserError(f"{path}: not a readable video ({e.__class__.__name__})") from None
    if not decoded:
        raise UserError(f"{path}: no video frames")
    pick = torch.linspace(0, len(decoded) - 1, frames).round().long()
    video = torch.from_numpy(np.stack([decoded[i] for i in pick])).permute(0, 3, 1, 2).float()
    h, w = video.shape[-2:]
    scale = size / min(h, w)
    video = F.interpolate(video, size=(max(size, round(h * scale)), max(size, round(w * scale))),
                          mode="bilinear", antialias=True, align_corners=False)
    top, left = (video.shape[-2] - size) // 2, (video.shape[-1] - size) // 2
    video = video[..., top:top + size, left:left + size].round().clamp(0, 255).to(torch.uint8)
    wave = torch.from_numpy(np.concatenate(sound)) if sound else torch.zeros(0)
    samples = round(seconds * audio.SAMPLE_RATE)
    wave = F.pad(wave[:samples], (0, max(0, samples - len(wave))))
    return video, wave


class VideoFolder(torch.utils.data.Dataset):
    """``<root>/<class>/<video>`` files, decoded on demand (DataLoader workers run PyAV)."""

    EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm")

    def __init__(self, root: Path, frames: int, size: int):
        root = Path(root)
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.samples = [(p, c) for c, name in enumerate(self.classes)
                        for p in sorted((root / name).iterdir()) if p.suffix.lower() in self.EXTENSIONS]
        if not self.samples:
            raise UserError(f"{root}: no video files in <class>/ subfolders ({', '.join(self.EXTENSIONS)})")
        self.frames, self.size = frames, size

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        video, wave = read_video(path, self.frames, self.size)
        return {"video": video, "audio": wave, "label": label, "index": i}


class MiddleFrames(torch.utils.data.Dataset):
    """The middle frame of each video of a :class:`VideoFolder`, as a labelled image."""

    def __init__(self, videos: VideoFolder):
        self.videos = videos

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        path, label = self.videos.samples[i]
        video, _ = read_video(path, 3, self.videos.size)
        return {"image": video[1], "label": label, "index": i}


def load_video_folder(root: Path, frames: int, size: int):
    """A UCF101-style folder: ``train/<class>/*.avi`` to pre-train and probe, ``test/<class>/`` to test."""
    from . import ImageData

    root = Path(root).expanduser()
    test_dir = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
    if not (root / "train").is_dir() or test_dir is None:
        raise UserError(f"{root}: a video folder needs train/<class>/ and test/<class>/ (or val/) subfolders")
    from . import split_off_val_folder

    train = VideoFolder(root / "train", frames, size)
    test = VideoFolder(test_dir, frames, size)
    # 10 % of the training videos' middle frames choose (layer, probe); test/ is only reported.
    probe_train, val = split_off_val_folder(MiddleFrames(train), [label for _, label in train.samples])
    return ImageData("videofolder", train, probe_train, MiddleFrames(test), len(train.classes), size, val=val)
