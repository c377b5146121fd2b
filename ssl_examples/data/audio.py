"""Soundtracks for the world's video clips, and a log-mel spectrogram front end in torch.

Every object class has a voice of its own, made of three things a listener can tell apart:

* a **pitch**: the fundamental frequency ``PITCH[c]``, 220 Hz to about 2 kHz, 3.5 semitones apart;
* a **timbre**: which harmonics sound with it (pure, bright or hollow = odd harmonics only);
* a **rhythm**: steady, pulsing at 2 or 4 Hz, or trembling at 6 Hz.

While an object of class ``c`` is visible in the clip it sounds its voice, louder the more of
it is visible, with a small per-instance detune and loudness. Clutter is silent. The mix also
holds coloured background noise and distractor sounds (tone bursts at random pitches), so the
sound is correlated with the image but neither determines the other: a class can be seen and
drowned out, heard and only barely visible at the edge, or a distractor can sound like a class.

The front end (:func:`log_mel`) is the usual one: a short-time Fourier transform
(``torch.stft``), our own triangular mel filterbank (:func:`mel_filterbank`) and a log.
"""

import math

import torch

SAMPLE_RATE = 8000  # Hz: enough for every voice's fundamental and first harmonics
N_CLASSES = 12
PITCH = tuple(220.0 * 2 ** (3.5 * c / 12) for c in range(N_CLASSES))
# Relative amplitude of harmonics 1, 2, 3, 4, 5: the fundamental is always the loudest.
TIMBRES = ((1.0, 0.15, 0.0, 0.0, 0.0),   # pure
           (1.0, 0.6, 0.45, 0.3, 0.2),   # bright
           (1.0, 0.0, 0.4, 0.0, 0.25))   # hollow (odd harmonics, like a clarinet)
RHYTHMS = ("steady", "pulse 2 Hz", "pulse 4 Hz", "tremolo 6 Hz")
TIMBRE = tuple(c % 3 for c in range(N_CLASSES))
RHYTHM = tuple(c % 4 for c in range(N_CLASSES))  # with TIMBRE: 12 distinct pairs (lcm(3, 4) = 12)


def rhythm_envelope(rhythm: torch.Tensor, phase: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Amplitude envelopes ``(..., S)`` for rhythm indices and phases ``(...)`` at times ``t`` (S,)."""
    r, p = rhythm[..., None], phase[..., None]
    pulse = lambda hz: (torch.sin(2 * math.pi * (hz * t + p)) > 0).float()  # noqa: E731 (50 % duty)
    tremolo = 0.55 + 0.45 * torch.sin(2 * math.pi * (6 * t + p))
    return torch.where(r == 0, torch.ones_like(t), torch.where(r == 1, pulse(2), torch.where(r == 2, pulse(4), tremolo)))


def voice(cls: torch.Tensor, detune: torch.Tensor, phase: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The waveform ``(..., S)`` of classes ``cls`` ``(...)`` at times ``t``, peak about 1."""
    f0 = torch.tensor(PITCH)[cls] * detune
    harmonics = torch.tensor(TIMBRES)[torch.tensor(TIMBRE)[cls]]  # (..., 5)
    wave = torch.zeros(*cls.shape, len(t))
    for h in range(harmonics.shape[-1]):
        f = f0 * (h + 1)
        audible = (f < SAMPLE_RATE / 2 - 200).float()  # no aliasing
        wave = wave + (harmonics[..., h] * audible)[..., None] * torch.sin(2 * math.pi * f[..., None] * t)
    wave = wave / harmonics.sum(-1, keepdim=True).clamp(min=1) * 1.6
    return wave * rhythm_envelope(torch.tensor(RHYTHM)[cls], phase, t)


def soundtrack(classes: torch.Tensor, loudness: torch.Tensor, fps: float, g: torch.Generator,
               noise: float = 1.0, distractors: float = 1.0) -> torch.Tensor:
    """Mix the clips' soundtracks: ``(n, samples)`` float, about [-1, 1].

    ``classes``: ``(n, L)`` class of each layer (-1: silent); ``loudness``: ``(n, T, L)`` in
    [0, 1], how loud each layer is in each video frame (how much of it is visible).
    ``noise`` and ``distractors`` scale the background noise and the distractor sounds
    (0 turns them off, e.g. to check the voices alone).
    """
    n, T, L = loudness.shape
    samples = round(T / fps * SAMPLE_RATE)
    t = torch.arange(samples) / SAMPLE_RATE
    # Per-frame loudness, interpolated linearly to audio samples (no clicks at frame changes).
    frame_pos = (t * fps - 0.5).clamp(0, T - 1)
    lo = frame_pos.floor().long()
    hi = (lo + 1).clamp(max=T - 1)
    w = frame_pos - lo
    gain = loudness[:, lo] * (1 - w)[None, :, None] + loudness[:, hi] * w[None, :, None]  # (n, S, L)
    detune = 1 + 0.02 * (2 * torch.rand(n, L, generator=g) - 1)
    phase = torch.rand(n, L, generator=g)
    level = 0.6 + 0.4 * torch.rand(n, L, generator=g)
    voices = voice(classes.clamp(min=0), detune, phase, t)  # (n, L, S)
    mix = (voices * (gain.transpose(1, 2) * level[..., None] * (classes >= 0)[..., None])).sum(1)

    # Distractors: up to two tone bursts per clip at any pitch, with a random start and length.
    for _ in range(2):
        on = (torch.rand(n, 1, generator=g) < 0.6 * distractors).float()
        f = 150 * (3500 / 150) ** torch.rand(n, 1, generator=g)
        start = torch.rand(n, 1, generator=g) * t[-1]
        length = 0.15 + 0.5 * torch.rand(n, 1, generator=g)
        envelope = ((t >= start) & (t < start + length)).float()
        mix = mix + on * 0.5 * envelope * torch.sin(2 * math.pi * f * t + 6.28 * torch.rand(n, 1, generator=g))

    # Background noise: white noise shaped in the frequency domain to fall off above a random
    # corner frequency, so it is reddish like wind or traffic.
    white = torch.fft.rfft(torch.randn(n, samples, generator=g))
    freqs = torch.fft.rfftfreq(samples, 1 / SAMPLE_RATE)
    corner = 200 * 10 ** (1.3 * torch.rand(n, 1, generator=g))
    red = torch.fft.irfft(white / (1 + freqs / corner), n=samples)
    red = red / red.std(1, keepdim=True).clamp(min=1e-6)
    mix = mix + noise * (0.05 + 0.2 * torch.rand(n, 1, generator=g)) * red
    return mix


# --8<-- [start:logmel]
def hz_to_mel(f):
    return 2595 * torch.log10(1 + torch.as_tensor(f, dtype=torch.float32) / 700)


def mel_to_hz(m):
    return 700 * (10 ** (torch.as_tensor(m, dtype=torch.float32) / 2595) - 1)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, fmin: float = 50.0,
                   fmax: float | None = None) -> torch.Tensor:
    """Triangular filters ``(n_mels, n_fft // 2 + 1)``, evenly spaced on the mel scale."""
    fmax = fmax or sample_rate / 2
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(fmin)), float(hz_to_mel(fmax)), n_mels + 2))
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    return torch.minimum(rising, falling).clamp(min=0)


def log_mel(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE, n_fft: int = 256, hop: int = 128,
            n_mels: int = 40) -> torch.Tensor:
    """Waveforms ``(B, samples)`` -> log-mel spectrograms ``(B, 1, n_mels, frames)``, about [0, 1].

    Power spectrum of 32 ms Hann windows every 16 ms, summed by the mel filters, in decibels,
    then mapped from [-40 dB, +40 dB] to [0, 1] so a backbone can take it like an image.
    """
    spec = torch.stft(wave, n_fft, hop_length=hop, window=torch.hann_window(n_fft, device=wave.device),
                      return_complex=True).abs().square()  # (B, n_fft // 2 + 1, frames)
    mel = mel_filterbank(n_fft, n_mels, sample_rate).to(wave.device) @ spec
    db = 10 * torch.log10(mel + 1e-8)
    return ((db + 40) / 80).clamp(0, 1)[:, None]
# --8<-- [end:logmel]
