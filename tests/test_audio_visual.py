import pytest
import torch

from ssl_examples.data.audio import SAMPLE_RATE
from ssl_examples.methods.audio_visual import AudioVisual, make_pairs, one_second
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after




def test_pairs_are_balanced_and_negatives_come_from_other_clips():
    torch.manual_seed(0)
    for _ in range(20):
        frames, sounds, labels = make_pairs(7)
        assert labels.sum() == 7 and len(labels) == 14
        assert torch.equal((frames == sounds).long(), labels)
        assert sorted(sounds[7:].tolist()) == list(range(7))  # every sound used once as a negative


def test_one_second_of_log_mel():
    torch.manual_seed(0)
    spec = one_second(torch.randn(3, 2 * SAMPLE_RATE))
    assert spec.shape == (3, 1, 40, 63)


def test_a_training_step_lowers_the_loss():
    torch.manual_seed(0)
    B = 8
    # Clip i: a frame whose brightness and a tone whose pitch both depend on i % 4.
    kind = torch.arange(B) % 4
    video = (40 + 50 * kind).view(B, 1, 1, 1, 1).expand(B, 2, 3, 16, 16).to(torch.uint8).clone()
    t = torch.arange(SAMPLE_RATE) / SAMPLE_RATE
    audio = torch.sin(2 * torch.pi * (300 + 400 * kind)[:, None] * t)
    model = AudioVisual(make_backbone("convnet"), make_backbone("convnet", 1), hidden_dim=128, min_scale=0.5)
    before, after = loss_before_and_after(model, lambda m: m({"video": video, "audio": audio, "index": torch.arange(B)})[0], steps=8, lr=1e-3)
    assert after < 0.7 * before
