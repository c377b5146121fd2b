"""The embedded video clips and the video-folder loader."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_examples.data import audio, shapes, video, world
from ssl_examples.data.video import (TensorClips, load_video_folder, make_clips, read_video, render_clips,
                                     sample_motion)
from ssl_examples.errors import UserError




@pytest.fixture(scope="module")
def clips():
    return make_clips(5, frames=6, size=32)


def test_shapes_and_labels(clips):
    n, T, S = 5, 6, 32
    assert clips.video.shape == (n, T, 3, S, S) and clips.video.dtype == torch.uint8
    assert clips.instances.shape == (n, T, S, S)
    assert clips.audio.shape == (n, 6 * 1000)  # 6 frames at 8 fps, 8 kHz
    assert torch.equal(clips.label, clips.kinds[:, world.MAIN])
    # Instance ids are 0 or 1 + a layer that exists in that clip.
    for i in range(n):
        present = set((clips.instances[i].unique().long() - 1).tolist()) - {-1}
        assert all(clips.kinds[i, layer] >= 0 for layer in present)
    # The main object is visible in the first frame.
    assert ((clips.instances[:, 0] == world.MAIN + 1).float().mean((1, 2)) > 0.02).all()
    # Frames change over time (things move).
    assert (clips.video[:, 1:].float() - clips.video[:, :-1].float()).abs().mean() > 2


def test_deterministic_prefix():
    a = make_clips(3, frames=4, size=32)
    b = make_clips(2, frames=4, size=32)
    for f in dataclasses.fields(a):
        assert torch.equal(getattr(a, f.name)[:2], getattr(b, f.name))


def test_masks_move_with_their_objects():
    g = torch.Generator().manual_seed(3)
    still = world.sample_scenes(8, g)
    still.kind[:, [s for s in range(world.LAYERS) if s != world.MAIN]] = -1  # the main object alone
    still.scale[:, world.MAIN] = 0.3
    still.x[:, world.MAIN] = 0.0
    still.y[:, world.MAIN] = 0.0
    moving = sample_motion(still, 4, g)
    size = 64
    _, ids = render_clips(moving, 4, size)
    mask = (ids == world.MAIN + 1).float()  # (n, T, S, S)
    coords = (torch.arange(size) + 0.5) * 2 / size - 1
    area = mask.sum((2, 3))
    cx = (mask.sum(2) * coords).sum(-1) / area
    cy = (mask.sum(3) * coords).sum(-1) / area
    x = moving.x[:, world.MAIN].view(8, 4)
    y = moving.y[:, world.MAIN].view(8, 4)
    inside = (x.abs().max(1).values < 0.6) & (y.abs().max(1).values < 0.6)
    assert inside.sum() >= 3
    # The mask's centroid moves by the object's displacement (to a fraction of a pixel, up to
    # the small shift that spinning and zooming an asymmetric shape adds).
    moved = torch.stack([cx - cx[:, :1], cy - cy[:, :1]])[:, inside]
    expected = torch.stack([x - x[:, :1], y - y[:, :1]])[:, inside]
    assert expected.abs().max() > 0.05
    assert (moved - expected).abs().max() < 0.05


def test_clip_batches(clips):
    ds = TensorClips(clips)
    batch = ds.__getitems__([4, 1])
    assert batch["video"].shape == (2, 6, 3, 32, 32) and batch["index"].tolist() == [4, 1]
    assert torch.equal(batch["label"], clips.label[[4, 1]])


# ----------------------------------------------------------------------------------------------
# Real video files: the test writes tiny ones with PyAV in three containers.

FORMATS = [("mp4", "mpeg4", "aac"), ("mkv", "ffv1", "pcm_s16le"), ("avi", "mjpeg", "pcm_s16le")]


def write_video(path, frames=12, tone=440.0, red_step=20, audio_rate=16000):
    import av

    container_format = {"mkv": "matroska"}.get(path.suffix[1:], path.suffix[1:])
    video_codec, audio_codec = next((v, a) for ext, v, a in FORMATS if path.suffix == "." + ext)
    with av.open(str(path), "w", format=container_format) as c:
        v = c.add_stream(video_codec, rate=8)
        v.width, v.height = 48, 40
        v.pix_fmt = "yuvj420p" if video_codec == "mjpeg" else "yuv420p"
        a = c.add_stream(audio_codec, rate=audio_rate)
        a.layout = "mono"
        for i in range(frames):
            image = np.zeros((40, 48, 3), np.uint8)
            image[..., 0] = red_step * i  # the red level tells which frame was decoded
            for p in v.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        t = np.arange(int(1.5 * audio_rate)) / audio_rate
        wave = (0.5 * np.sin(2 * np.pi * tone * t)).astype(np.float32)
        fmt = a.codec_context.format.name
        step = a.codec_context.frame_size or 1024
        for start in range(0, len(wave), step):
            chunk = wave[start:start + step]
            data = (chunk * 32767).astype(np.int16)[None] if fmt == "s16" else chunk[None]
            frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
            frame.sample_rate, frame.pts = audio_rate, start
            for p in a.encode(frame):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


@pytest.mark.parametrize("ext", [f[0] for f in FORMATS])
def test_read_video_file(tmp_path, ext):
    path = tmp_path / f"clip.{ext}"
    write_video(path)
    video, wave = read_video(path, 6, 32)
    assert video.shape == (6, 3, 32, 32) and video.dtype == torch.uint8
    red = video[:, 0, 16, 16].float()
    assert (red.diff() > 20).all()  # frames spread evenly over the 12, in order
    assert abs(red[0] - 0) < 8 and abs(red[-1] - 220) < 8
    assert wave.shape == (6000,)  # 6 frames at 8 fps, resampled to 8 kHz
    spectrum = torch.fft.rfft(wave).abs()
    assert abs(spectrum.argmax().item() * 8000 / 6000 - 440) < 5


def test_video_folder(tmp_path):
    for split, n in (("train", 2), ("test", 1)):
        for k, name in enumerate(["drums", "violin"]):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(n):
                write_video(tmp_path / split / name / f"v{i}.{FORMATS[i % 3][0]}", tone=300 + 200 * k)
    data = load_video_folder(tmp_path, frames=4, size=24)
    assert len(data.pretrain) == 4 and len(data.test) == 2 and data.num_classes == 2
    item = data.pretrain[3]
    assert item["video"].shape == (4, 3, 24, 24) and item["label"] == 1 and item["audio"].shape == (4000,)
    image = data.test[1]
    assert image["image"].shape == (3, 24, 24) and image["label"] == 1


def test_video_folder_errors(tmp_path):
    with pytest.raises(UserError, match="train/<class>"):
        load_video_folder(tmp_path, 4, 24)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(UserError, match="not a readable video"):
        read_video(tmp_path / "bad.mp4", 4, 24)


def test_clips_train_through_the_shared_loop():
    """A video method's in-memory clips go through the loop's batching like images do."""
    from ssl_examples.data import make_loader
    from ssl_examples.data.video import TensorClips, make_clips

    clips = TensorClips(make_clips(6, 4, 16, seed=0, stream=1))
    batches = list(make_loader(clips, 3, shuffle=True, seed=0, drop_last=True))
    assert len(batches) == 2 and batches[0]["video"].shape == (3, 4, 3, 16, 16)
    assert sorted(torch.cat([b["index"] for b in batches]).tolist()) == list(range(6))


def test_the_cache_key_of_rendered_clips_changes_with_every_source_that_draws_them(monkeypatch):
    """A clip cached on disk must be drawn again when any file that draws it changes: the
    objects (shapes.py), the scenes (world.py), the motion (video.py) or the sound (audio.py)."""
    read = Path.read_bytes
    key = video._cache_key("train", 4, 8, 32)
    for module in (shapes, world, video, audio):
        source = Path(module.__file__).resolve()
        monkeypatch.setattr(Path, "read_bytes", lambda self: read(self) + (b"#" if self.resolve() == source else b""))
        assert video._cache_key("train", 4, 8, 32) != key, module.__name__
