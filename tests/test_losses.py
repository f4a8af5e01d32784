"""rtstyle.losses on hand-computed examples."""
import math

import pytest
import torch

from rtstyle import losses, ops


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_content_loss_is_mean_squared_error():
    a = t([[[[1, 2], [3, 4]]]])
    b = t([[[[1, 2], [3, 6]]]])
    assert losses.content_loss(a, b).item() == pytest.approx(1.0)  # 2² / (C·H·W = 4)


def test_style_loss_quarter_gram_distance_matches_seed_normalisation():
    # Channels [1, 2] and [3, 4]: raw Gram [[5, 11], [11, 25]]; seed 000's style loss against a zero
    # target is ‖G_raw‖² / (2·nC·nH·nW)² = (25 + 121 + 121 + 625) / 8² = 892 / 64 = 13.9375.
    f = t([[[[1, 2]], [[3, 4]]]])
    target = {"a": torch.zeros(1, 2, 2, dtype=torch.float64)}
    assert losses.style_loss(target, {"a": f}, ["a"]).item() == pytest.approx(892 / 64)
    # identical features: zero; layer weights scale each tap
    assert losses.style_loss({"a": ops.gram(f)}, {"a": f}, ["a"]).item() == 0.0
    two = losses.style_loss({"a": target["a"], "b": target["a"]}, {"a": f, "b": f}, ["a", "b"], {"a": 1.0, "b": 3.0})
    assert two.item() == pytest.approx(4 * 892 / 64)


def test_shift_loss_is_half_the_sum_of_the_two_axes():
    # [[1, 2], [3, 4]], δ = 1, zero targets. x: (1·2 + 3·4) / (C·H·W_overlap = 2) = 7 -> ¼·49 = 12.25.
    # y: (1·3 + 2·4) / 2 = 5.5 -> ¼·30.25 = 7.5625. L_δ = ½(12.25 + 7.5625) = 9.90625.
    f = t([[[[1, 2], [3, 4]]]])
    zero = torch.zeros(1, 1, 1, dtype=torch.float64)
    loss = losses.shift_loss({"a": (zero, zero)}, {"a": f}, ["a"], delta=1)
    assert loss.item() == pytest.approx(9.90625)
    gx, gy = ops.shifted_gram(f, 1, "x"), ops.shifted_gram(f, 1, "y")
    assert losses.shift_loss({"a": (gx, gy)}, {"a": f}, ["a"], delta=1).item() == 0.0
    assert losses.shift_loss({"a": (gx, zero)}, {"a": f}, ["a"], delta=1).item() == pytest.approx(0.5 * 7.5625)


def test_mean_std_loss_zero_on_identical_inputs_positive_otherwise():
    torch.manual_seed(0)
    f = {"a": torch.rand(2, 4, 6, 6), "b": torch.rand(2, 8, 3, 3)}
    assert losses.mean_std_loss(f, f, ["a", "b"]).item() == 0.0
    g = {k: v * 2 + 1 for k, v in f.items()}
    assert losses.mean_std_loss(f, g, ["a", "b"]).item() > 0.5


def test_tv_loss_is_total_variation():
    x = t([[[[0, 1], [2, 4]]]])
    assert losses.tv_loss(x).item() == pytest.approx(9.0)


# z (1, 1, 1, 3) = [0, 1, 5]; the pair (a=1, b=0) has d = z_a − z_b = 1.
Z = t([[[[0, 1, 5]]]])


def _rank(z, r):
    return losses.ranking_loss(z, torch.tensor([[1]]), torch.tensor([[0]]), torch.tensor([[r]]))


@pytest.mark.parametrize("r,expected", [
    (1, math.log(1 + math.exp(-1))),   # a farther, and it is: small loss
    (-1, math.log(1 + math.exp(1))),   # a nearer, but predicted farther: large loss
    (0, 1.0),                          # equal: d²
])
def test_ranking_loss_hand_values(r, expected):
    assert _rank(Z, r).item() == pytest.approx(expected)


def test_ranking_loss_averages_pairs():
    ia, ib = torch.tensor([[1, 1, 2]]), torch.tensor([[0, 0, 1]])
    r = torch.tensor([[1, -1, 0]])
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.e) + 16.0) / 3  # last pair d = 4
    assert losses.ranking_loss(Z, ia, ib, r).item() == pytest.approx(expected)
    assert losses.ranking_loss(Z.reshape(1, 3), ia, ib, r).item() == pytest.approx(expected)


@pytest.mark.parametrize("r", [1, -1, 0])
def test_ranking_loss_gradient_pushes_the_pair_the_right_way(r):
    z = Z.clone().requires_grad_(True)
    _rank(z, r).backward()
    ga, gb = z.grad[0, 0, 0, 1].item(), z.grad[0, 0, 0, 0].item()
    assert z.grad[0, 0, 0, 2].item() == 0.0  # untouched point
    # a descent step moves z_a − z_b by −(ga − gb)·lr: up for r = +1, down for r = −1 and for r = 0 (d = 1 > 0)
    step = -(ga - gb)
    if r == 1:
        assert step > 0
    else:
        assert step < 0
    assert ga == pytest.approx(-gb)
