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


def loss_before_and_after(model, loss_fn, steps: int = 10, lr: float = 1e-3, params=None,
                          measure=None) -> tuple[float, float]:
    """``measure(model)`` (default: the loss) on a fixed batch before and after ``steps`` Adam steps.

    ``loss_fn(model)`` returns the loss to minimise; every call sees the same random draws
    (augmentations, masks, permutations), so the two numbers are comparable. ``measure`` lets
    a test watch e.g. the KL part of a loss whose floor is not zero.
    """
    opt = torch.optim.Adam(params if params is not None else model.parameters(), lr=lr)
    measure = measure or loss_fn

    def at_seed(fn):
        torch.manual_seed(1)
        return fn(model)

    before = at_seed(measure).item()
    for _ in range(steps):
        opt.zero_grad()
        at_seed(loss_fn).backward()
        opt.step()
    return before, at_seed(measure).item()


@pytest.fixture
def tiny_data() -> ImageData:
    train, test = separable_images(128, seed=1), separable_images(64, seed=2)
    return ImageData("tiny", train, train, test, 2, 32)


def from_recipe(cls, recipe, *args, **changes):
    """``cls(*args, **fields)`` with the keyword-only arguments of its constructor taken from
    ``recipe`` (the one place a default lives), some of them changed."""
    import inspect
    from dataclasses import replace

    recipe = replace(recipe, **changes)
    params = inspect.signature(cls.__init__).parameters.values()
    return cls(*args, **{p.name: getattr(recipe, p.name) for p in params if p.kind == p.KEYWORD_ONLY})
