import pytest
import torch

from ssl_examples.data import ImageData, TensorImages


def separable_images(n: int, size: int = 32, seed: int = 0) -> TensorImages:
    """Two classes a network can tell apart at a glance: a bright square top-left or bottom-right."""
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 3, size, size, generator=g) * 60).to(torch.uint8)
    labels = torch.arange(n) % 2
    half = size // 2
    images[labels == 0, :, :half, :half] += 150
    images[labels == 1, :, half:, half:] += 150
    return TensorImages(images, labels)


@pytest.fixture
def tiny_data() -> ImageData:
    train, test = separable_images(128, seed=1), separable_images(64, seed=2)
    return ImageData("tiny", train, train, test, 2, 32)
