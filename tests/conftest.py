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


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread in every test: small tensors run as fast, timings stay steady, and
    on a busy 2-core machine two OpenMP threads would spin-wait on each other (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def loss_before_and_after(model, loss_fn, steps: int = 10, lr: float = 1e-3, params=None) -> tuple[float, float]:
    """The loss on a fixed batch before and after ``steps`` Adam steps on it.

    ``loss_fn(model)`` returns the loss to minimise; every call sees the same random draws
    (augmentations, masks, permutations), so the two numbers are comparable.
    """
    opt = torch.optim.Adam(params if params is not None else model.parameters(), lr=lr)

    def loss_at_seed():
        torch.manual_seed(1)
        return loss_fn(model)

    before = loss_at_seed().item()
    for _ in range(steps):
        opt.zero_grad()
        loss_at_seed().backward()
        opt.step()
    return before, loss_at_seed().item()


@pytest.fixture
def tiny_data() -> ImageData:
    train, test = separable_images(128, seed=1), separable_images(64, seed=2)
    return ImageData("tiny", train, train, test, 2, 32)
