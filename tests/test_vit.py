import math

import torch

from ssl_examples.nets import BACKBONES, Attention, ViT, make_backbone, sincos_position_embedding


def test_attention_equals_softmax_qk_v_written_out():
    torch.manual_seed(0)
    attn = Attention(12, heads=3)
    x = torch.randn(2, 5, 12)
    q, k, v = attn.qkv(x).split(12, dim=-1)
    heads = []
    for h in range(3):  # head h reads channels 4h .. 4h + 3 of q, k and v
        qh, kh, vh = (t[..., 4 * h:4 * h + 4] for t in (q, k, v))
        weights = torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(4), dim=-1)
        heads.append(weights @ vh)
    expected = attn.proj(torch.cat(heads, dim=-1))
    assert torch.allclose(attn(x), expected, atol=1e-5)


def test_sincos_position_embedding():
    e = sincos_position_embedding(3, 4, 8)  # 2 frequencies: 1 and 1/100
    assert e.shape == (12, 8)
    row, col = 1, 2
    p = e[row * 4 + col]
    expected = [math.sin(row), math.sin(row / 100), math.cos(row), math.cos(row / 100),
                math.sin(col), math.sin(col / 100), math.cos(col), math.cos(col / 100)]
    assert torch.allclose(p, torch.tensor(expected), atol=1e-6)
    assert len(torch.unique(e, dim=0)) == 12  # every position has its own code
    # a coarser grid over the same field of view: its patch centres sit between the reference
    # grid's, at 0.5 and 2.5 for a 2 x 2 grid on a 4 x 4 reference
    coarse = sincos_position_embedding(2, 2, 8, reference=(4, 4))

    def code(p):
        return [math.sin(p), math.sin(p / 100), math.cos(p), math.cos(p / 100)]
    assert torch.allclose(coarse[0], torch.tensor(code(0.5) + code(0.5)), atol=1e-6)
    assert torch.allclose(coarse[1], torch.tensor(code(0.5) + code(2.5)), atol=1e-6)
    assert torch.allclose(sincos_position_embedding(4, 4, 8, reference=(4, 4)), sincos_position_embedding(4, 4, 8))


def test_the_course_vit_has_the_issue_shape():
    assert "vit-tiny-half" in BACKBONES
    vit = make_backbone("vit-tiny-half")
    assert (vit.patch_size, vit.feature_dim, len(vit.blocks), vit.blocks[0].attn.heads) == (4, 192, 6, 3)
    assert vit.layer_names == tuple(f"block{i}" for i in range(1, 7))
    with torch.no_grad():
        tokens = vit.forward_tokens(torch.rand(2, 3, 32, 32))
    assert tokens.shape == (2, 1 + 64, 192)  # class token + an 8 x 8 grid of 4 px patches


def small_vit(in_channels=3):
    torch.manual_seed(0)
    return ViT(in_channels, patch_size=4, width=16, depth=3, heads=2).eval()


def test_pooled_maps_and_per_layer_features_agree():
    vit = small_vit()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        pooled, maps, layers = vit(x), vit.forward_maps(x), vit.forward_layers(x)
        tokens = vit.forward_tokens(x)
    assert pooled.shape == (3, 16) and maps.shape == (3, 16, 8, 8)
    assert list(layers) == ["block1", "block2", "block3"] and all(v.shape == (3, 16) for v in layers.values())
    assert torch.allclose(layers["block3"], pooled, atol=1e-6)  # the last stage is forward()
    assert torch.allclose(maps.mean(dim=(2, 3)), pooled, atol=1e-6)
    # the map is the patch grid in reading order: token 1 + r * 8 + c sits at (r, c)
    assert torch.allclose(maps[:, :, 2, 5], tokens[:, 1 + 2 * 8 + 5], atol=1e-6)
    assert not torch.allclose(layers["block1"], pooled)


def test_any_grid_size_and_one_channel():
    vit = small_vit(in_channels=1)
    with torch.no_grad():
        assert vit.forward_maps(torch.rand(2, 1, 16, 24)).shape == (2, 16, 4, 6)


def test_kept_patches_only_see_each_other():
    """Encoding a subset of patches ignores every other patch's pixels."""
    vit = small_vit()
    x = torch.rand(2, 3, 32, 32)
    keep = torch.tensor([[0, 9, 63], [5, 6, 7]])
    changed = torch.rand(2, 3, 32, 32)
    for b in range(2):  # put x's pixels back in the kept patches only
        for i in keep[b].tolist():
            r, c = divmod(i, 8)
            changed[b, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4] = x[b, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4]
    with torch.no_grad():
        a, b_ = vit.forward_tokens(x, keep), vit.forward_tokens(changed, keep)
        assert a.shape == (2, 1 + 3, 16)
        assert torch.allclose(a, b_, atol=1e-6)
        # ...while the full image's tokens do change, and a kept token keeps its position
        assert not torch.allclose(vit.forward_tokens(x), vit.forward_tokens(changed))
        shuffled = vit.forward_tokens(x, keep.flip(1))
        assert torch.allclose(shuffled[:, 1:], a[:, 1:].flip(1), atol=1e-5)
