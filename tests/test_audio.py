import pytest
"""The world's soundtracks and the log-mel front end."""

import torch

from ssl_examples.data import audio, world
from ssl_examples.data.video import FPS, loudness_from_visibility, make_clips




def band_energy(wave: torch.Tensor, hz: float, width: float = 0.03) -> torch.Tensor:
    spectrum = torch.fft.rfft(wave).abs().square()
    freqs = torch.fft.rfftfreq(wave.shape[-1], 1 / audio.SAMPLE_RATE)
    band = (freqs > hz * (1 - width)) & (freqs < hz * (1 + width))
    return spectrum[..., band].sum(-1)


def test_each_voice_peaks_at_its_pitch():
    g = torch.Generator().manual_seed(0)
    classes = torch.arange(12)[:, None]
    loud = torch.ones(12, 8, 1)
    wave = audio.soundtrack(classes, loud, FPS, g, noise=0, distractors=0)
    freqs = torch.fft.rfftfreq(wave.shape[1], 1 / audio.SAMPLE_RATE)
    peak = freqs[torch.fft.rfft(wave).abs().argmax(1)]
    pitch = torch.tensor(audio.PITCH)
    assert ((peak - pitch).abs() / pitch < 0.03).all()


def test_soundtrack_dominant_frequencies_match_the_visible_classes():
    clips = make_clips(6, frames=8, size=24)
    g = torch.Generator().manual_seed(1)
    classes = torch.where(clips.kinds < len(world.CLASSES), clips.kinds, -1)
    loud = loudness_from_visibility(clips.instances, world.LAYERS)
    wave = audio.soundtrack(classes, loud, FPS, g, noise=0, distractors=0)
    for i in range(len(clips)):
        visible = {int(classes[i, layer]) for layer in range(world.LAYERS)
                   if classes[i, layer] >= 0 and loud[i, :, layer].max() > 0.3}
        assert int(clips.label[i]) in visible
        energy = torch.stack([band_energy(wave[i], hz) for hz in audio.PITCH])
        top = set(energy.topk(len(visible)).indices.tolist())
        assert top == visible, (i, visible, energy)
    # With noise and distractors (the real soundtrack), the main object's voice still stands out.
    energy = torch.stack([band_energy(clips.audio, hz) for hz in audio.PITCH], 1)  # (n, 12)
    rank = (energy > energy.gather(1, clips.label[:, None])).sum(1)
    assert (rank <= 2).float().mean() >= 0.8


def test_silent_when_nothing_is_visible():
    g = torch.Generator().manual_seed(0)
    wave = audio.soundtrack(torch.tensor([[3, -1]]), torch.zeros(1, 8, 2), FPS, g, noise=0, distractors=0)
    assert wave.abs().max() < 1e-6


def test_mel_filterbank_and_log_mel():
    fb = audio.mel_filterbank(256, 40, 8000)
    assert fb.shape == (40, 129)
    assert (fb.max(1).values > 0.5).all() and fb.min() >= 0
    centres = fb.argmax(1)
    assert (centres.diff() >= 0).all() and centres[-1] > centres[0]
    t = torch.arange(8000) / 8000
    low, high = torch.sin(2 * torch.pi * 300 * t), torch.sin(2 * torch.pi * 2000 * t)
    spec = audio.log_mel(torch.stack([low, high]))
    assert spec.shape == (2, 1, 40, 63) and 0 <= spec.min() and spec.max() <= 1
    peak_bins = spec[:, 0].mean(-1).argmax(-1)
    hz = audio.mel_to_hz(torch.linspace(float(audio.hz_to_mel(50)), float(audio.hz_to_mel(4000)), 42)[1:-1])
    assert abs(hz[peak_bins[0]] - 300) < 60 and abs(hz[peak_bins[1]] - 2000) < 250
