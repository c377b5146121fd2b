import math
from pathlib import Path

import torch
import torch.nn.functional as F

from dataclasses import replace

from ssl_examples.augment import simclr_view
from ssl_examples.methods.npid import (GPU_RECIPE, NPID, RECIPE, NPIDRecipe, exact_softmax_loss, nce_loss,
                                       update_memory)
from ssl_examples.nets import make_backbone


def npid(num_images: int, **changes) -> NPID:
    """The recipe's NPID with some of its values changed."""
    r = replace(RECIPE, **changes)
    return NPID(make_backbone("convnet"), num_images, dim=r.dim, temperature=r.temperature, negatives=r.negatives,
                memory_momentum=r.memory_momentum, exact_up_to=r.exact_up_to, prox_weight=r.prox_weight,
                strength=r.strength, min_scale=r.min_scale)


def test_memory_update_mixes_and_renormalises_only_the_batch_rows():
    bank = F.normalize(torch.randn(6, 4), dim=1)
    old = bank.clone()
    f = F.normalize(torch.randn(2, 4), dim=1)
    update_memory(bank, torch.tensor([1, 4]), f, momentum=0.5)
    for row, i in enumerate([1, 4]):
        mixed = 0.5 * old[i] + 0.5 * f[row]
        assert torch.allclose(bank[i], mixed / mixed.norm())
    assert torch.equal(bank[[0, 2, 3, 5]], old[[0, 2, 3, 5]])


def test_exact_loss_is_the_non_parametric_softmax():
    g = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(10, 4, generator=g), dim=1)
    f = F.normalize(torch.randn(3, 4, generator=g), dim=1)
    index = torch.tensor([2, 7, 0])
    t = 0.07
    expected = 0.0
    for b in range(3):
        scores = [math.exp(float(bank[j] @ f[b]) / t) for j in range(10)]
        expected += -math.log(scores[index[b]] / sum(scores)) / 3
    assert abs(exact_softmax_loss(f, index, bank, t).item() - expected) < 1e-4


def test_nce_loss_follows_its_formula_and_estimates_z_once():
    g = torch.Generator().manual_seed(1)
    n, m, t = 50, 7, 0.5
    bank = F.normalize(torch.randn(n, 4, generator=g), dim=1)
    f = F.normalize(torch.randn(3, 4, generator=g), dim=1)
    index = torch.tensor([1, 2, 3])
    z = torch.zeros(())
    torch.manual_seed(5)
    loss = nce_loss(f, index, bank, t, m, z).item()
    torch.manual_seed(5)
    noise = torch.randint(0, n, (m,))
    scores = torch.exp(torch.cat([(f * bank[index]).sum(1, keepdim=True), f @ bank[noise].T], 1) / t)
    assert torch.isclose(z, scores.mean() * n)  # the first batch's Monte-Carlo estimate

    def h(s):
        return (s / z) / (s / z + m / n)

    expected = sum(-math.log(h(scores[b, 0])) - sum(math.log(1 - h(scores[b, k])) for k in range(1, m + 1))
                   for b in range(3)) / 3
    assert abs(loss - expected) < 1e-4
    z_before = z.clone()
    nce_loss(f, index, bank, t, m, z)
    assert torch.equal(z, z_before)  # kept, not re-estimated
    z.fill_(0)
    nce_loss(f, index, bank, t, m, z, estimate=False)
    assert z.item() == 0  # the estimate step is skipped altogether


def test_npid_estimates_z_on_its_first_nce_step_only(monkeypatch):
    import ssl_examples.methods.npid as module

    calls = []
    real = module.gather
    monkeypatch.setattr(module, "gather", lambda x: calls.append(tuple(x.shape)) or real(x))
    model = npid(100, exact_up_to=10)
    batch = {"image": torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), "index": torch.arange(4)}
    for _ in range(3):
        model(batch)
    # each step gathers the indices and embeddings for the bank; only the first the z estimate
    assert calls.count((1,)) == 1 and model.z.item() > 0
    model.z_checked = False  # a new process resuming from a checkpoint: z is kept, not re-estimated
    z = model.z.clone()
    model(batch)
    assert torch.equal(model.z, z) and calls.count((1,)) == 2


def test_exact_or_nce_by_bank_size():
    assert npid(100, exact_up_to=100).exact
    assert not npid(101, exact_up_to=100).exact


def test_the_nce_path_sets_z_and_writes_only_the_batch_into_the_bank(tiny_data):
    torch.manual_seed(0)
    model = npid(len(tiny_data.train), negatives=16, exact_up_to=0)
    before = model.bank.clone()
    loss, _ = model(tiny_data.train.__getitems__(list(range(32))))
    loss.backward()
    assert model.z.item() > 0 and torch.equal(model.bank[32:], before[32:])
    assert not torch.isclose(model.bank[:32], before[:32]).all(dim=1).any()
    assert torch.allclose(model.bank.norm(dim=1), torch.ones(len(model.bank)))


def test_training_lowers_the_loss(tiny_data):
    """With a small bank (the exact softmax) the same batch gets easier to pick out."""
    torch.manual_seed(0)
    model = npid(len(tiny_data.train))
    assert model.exact
    batch = tiny_data.train.__getitems__(list(range(32)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        torch.manual_seed(1)
        loss = model(batch)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_the_proximal_term_adds_lambda_times_the_squared_distance_to_the_stored_entries(tiny_data):
    """Section 3.4 of the paper: + lambda ||f_i - v_i||^2, averaged over the batch."""
    batch = tiny_data.train.__getitems__(list(range(16)))
    losses = {}
    for weight in (0.0, 30.0):
        torch.manual_seed(0)
        model = npid(len(tiny_data.train), prox_weight=weight)
        bank = model.bank.clone()
        torch.manual_seed(1)
        losses[weight] = model(batch)[0].item()
    torch.manual_seed(0)
    model = npid(len(tiny_data.train))
    torch.manual_seed(1)  # the same view as inside forward
    x = simclr_view(batch["image"].float() / 255, scale=(RECIPE.min_scale, 1.0), strength=RECIPE.strength)
    f = F.normalize(model.embed(model.backbone(x)), dim=1)
    expected = 30.0 * (f - bank[batch["index"]]).square().sum(1).mean().item()
    assert abs((losses[30.0] - losses[0.0]) - expected) < 1e-3 * max(1.0, expected)


def test_the_recipes_view_settings_reach_the_view(monkeypatch):
    """strength and min_scale are recipe fields: the model must draw its views with them."""
    import ssl_examples.methods.npid as npid_module

    seen = []

    def recording_view(x, **settings):
        seen.append(settings)
        return simclr_view(x, **settings)

    monkeypatch.setattr(npid_module, "simclr_view", recording_view)
    model = npid(8, strength=0.3, min_scale=0.45)
    model({"image": torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), "index": torch.arange(4)})
    assert seen == [{"scale": (0.45, 1.0), "strength": 0.3}]


def test_the_page_states_the_recipes_temperature_as_a_departure_and_the_gpu_tier_keeps_the_papers():
    paper = NPIDRecipe().temperature  # the dataclass keeps the paper's value
    assert paper == 0.07
    assert GPU_RECIPE.temperature == paper  # 50 000 images and NCE, as in the paper
    page = " ".join((Path(__file__).parents[1] / "docs/methods/npid.md").read_text().split())
    if RECIPE.temperature != paper:
        assert f"departure from the paper: the temperature is {RECIPE.temperature:g}, not {paper:g}" in page
