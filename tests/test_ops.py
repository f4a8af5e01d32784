"""rtstyle.ops on hand-computed examples."""
import math

import pytest
import torch

from rtstyle import ops


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_gram_hand_example():
    # Channels a = [1, 2], b = [3, 4] on a 1×2 map: F·Fᵀ = [[5, 11], [11, 25]], C·H·W = 4.
    x = t([[[[1, 2]], [[3, 4]]]])
    assert x.shape == (1, 2, 1, 2)
    expected = t([[[5, 11], [11, 25]]]) / 4
    assert torch.allclose(ops.gram(x), expected)


def test_shifted_gram_pairs_position_plus_delta_with_position_along_x():
    # a = [1, 2, 3], b = [4, 5, 6] on one row, δ = 1: overlap width 2, C·H·W_overlap = 2·1·2 = 4.
    # (a, b) = Σ a(j+1)·b(j) = 2·4 + 3·5 = 23; (b, a) = 5·1 + 6·2 = 17; (a, a) = 2·1 + 3·2 = 8;
    # (b, b) = 5·4 + 6·5 = 50. The matrix is not symmetric, so this pins down which side is shifted.
    x = t([[[[1, 2, 3]], [[4, 5, 6]]]])
    expected = t([[[8, 23], [17, 50]]]) / 4
    assert torch.allclose(ops.shifted_gram(x, 1, "x"), expected)


def test_shifted_gram_along_y_is_the_same_on_the_transposed_map():
    # Same values laid out as a column: entry (a, b) = Σ a(i+1, j)·b(i, j).
    x = t([[[[1], [2], [3]], [[4], [5], [6]]]])
    assert x.shape == (1, 2, 3, 1)
    expected = t([[[8, 23], [17, 50]]]) / 4
    assert torch.allclose(ops.shifted_gram(x, 1, "y"), expected)
    with pytest.raises(ValueError, match="width"):
        ops.shifted_gram(x, 1, "x")  # width 1 leaves nothing to pair
    with pytest.raises(ValueError, match="axis"):
        ops.shifted_gram(x, 1, "z")


def test_shifted_gram_delta_2_matches_einsum_over_the_overlap():
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    g = ops.shifted_gram(x, 2, "x")
    manual = torch.einsum("nahw,nbhw->nab", x[..., 2:], x[..., :-2]) / (3 * 5 * 4)
    assert torch.allclose(g, manual)


def test_mean_std_hand_example():
    x = t([[[[1, 2], [3, 4]], [[5, 5], [5, 5]]]])
    mean, std = ops.mean_std(x)
    assert mean.shape == std.shape == (1, 2, 1, 1)
    assert torch.allclose(mean.flatten(), t([2.5, 5.0]))
    # biased variance 1.25 and 0, plus eps under the root
    assert torch.allclose(std.flatten(), t([math.sqrt(1.25 + 1e-5), math.sqrt(1e-5)]))


def test_adain_output_has_the_style_statistics():
    torch.manual_seed(0)
    content = torch.randn(2, 4, 8, 8, dtype=torch.float64) * 3 + 1
    style = torch.randn(2, 4, 5, 7, dtype=torch.float64) * torch.tensor([0.5, 2, 4, 8]).reshape(1, 4, 1, 1) - 2
    out = ops.adain(content, style)
    assert out.shape == content.shape
    om, os_ = ops.mean_std(out)
    sm, ss = ops.mean_std(style)
    assert torch.allclose(om, sm, atol=1e-9)
    assert torch.allclose(os_, ss, rtol=1e-4)
    # the spatial pattern is the content's: per channel an increasing affine map of it
    corr = torch.corrcoef(torch.stack([out[0, 0].flatten(), content[0, 0].flatten()]))[0, 1]
    assert corr > 0.9999


def test_total_variation_hand_example():
    # [[0, 1], [2, 4]]: horizontal diffs 1, 2 -> mean of squares 2.5; vertical 2, 3 -> 6.5.
    x = t([[[[0, 1], [2, 4]]]])
    assert ops.total_variation(x).item() == pytest.approx(9.0)
    assert ops.total_variation(torch.ones(1, 3, 4, 4)).item() == 0.0


def test_normalize_depth_per_map_to_unit_range():
    d = torch.stack([t([[[1, 3], [5, 9]]]), t([[[-2, -2], [0, 2]]]), t([[[7, 7], [7, 7]]])])
    n = ops.normalize_depth(d)
    assert torch.allclose(n[0].flatten(), t([0, 0.25, 0.5, 1]))
    assert torch.allclose(n[1].flatten(), t([0, 0, 0.5, 1]))
    assert torch.equal(n[2], torch.zeros_like(n[2]))  # flat map: no NaN


@pytest.mark.parametrize("hw,multiple,min_size,padded", [
    ((1, 1), 8, 1, (8, 8)),
    ((17, 23), 8, 1, (24, 24)),
    ((16, 8), 8, 1, (16, 8)),
    ((1, 1), 4, 8, (8, 8)),
    ((5, 9), 4, 8, (8, 12)),
])
def test_pad_to_multiple_and_crop_round_trip(hw, multiple, min_size, padded):
    x = torch.rand(2, 3, *hw)
    p, size = ops.pad_to_multiple(x, multiple, min_size)
    assert size == hw
    assert p.shape[-2:] == padded
    assert torch.equal(ops.crop_to(p, size), x)
    # edge replication: the padded border repeats the last row / column
    assert torch.equal(p[..., -1, : hw[1]], x[..., -1, :])
    assert torch.equal(p[..., : hw[0], -1], x[..., :, -1])


def test_strength_blend_scalar_and_map():
    a = torch.full((1, 3, 4, 4), 1.0)
    b = torch.zeros(1, 3, 4, 4)
    assert torch.allclose(ops.strength_blend(a, b, 0.25), torch.full_like(a, 0.25))
    left_right = torch.tensor([[[[0.0, 0.0, 1.0, 1.0]]]]).expand(1, 1, 4, 4)
    out = ops.strength_blend(a, b, left_right)
    assert torch.equal(out[:, :, :, :2], b[:, :, :, :2]) and torch.equal(out[:, :, :, 2:], a[:, :, :, 2:])
    # a map at another resolution is resized to the images' H×W
    small = torch.full((1, 1, 2, 2), 0.5)
    assert torch.allclose(ops.strength_blend(a, b, small), torch.full_like(a, 0.5))


def test_paint_with_margin_paints_the_mirrored_frame_and_crops_back():
    from rtstyle.ops import paint_with_margin
    x = torch.rand(1, 3, 20, 30)
    a = torch.rand(1, 1, 20, 30)
    seen = []

    def paint(t, m=None):
        seen.append((tuple(t.shape[-2:]), None if m is None else tuple(m.shape[-2:])))
        return t * 2
    y = paint_with_margin(paint, 8, x, a)
    assert seen == [((36, 46), (36, 46))] and torch.allclose(y, x * 2)    # the centre is x's own pixels
    assert torch.equal(paint_with_margin(lambda t: t + 1, 0, x), x + 1)     # 0: as it is
    tiny, sizes = torch.rand(1, 3, 3, 5), []
    y = paint_with_margin(lambda t: sizes.append(tuple(t.shape[-2:])) or t, 16, tiny)
    assert sizes == [(7, 9)] and torch.equal(y, tiny)    # capped at side - 1, what reflection allows
