"""Growing trained lite nets: wider or deeper, they start as the same function, and then learn."""
import pytest
import torch

from rtstyle.models.lite import LiteNet
from rtstyle.train import common
from rtstyle.train.grow import channel_map, deepen_lite, split_fractions, widen_lite
from rtstyle.weights import save_weights


def _trained_like(n_styles=2, width=8, n_res=2, seed=0):
    """A lite net with non-trivial γ, β (a fresh net's are 1 and 0 for every style)."""
    torch.manual_seed(seed)
    net = LiteNet(n_styles, width=width, n_res=n_res)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("beta"):
                p.copy_(0.2 * torch.randn_like(p))
    return net.eval()


def test_split_fractions_sum_to_one_per_old_channel_and_are_not_even():
    gen = torch.Generator().manual_seed(1)
    m = channel_map(5, 12, gen)
    assert m.tolist()[:5] == [0, 1, 2, 3, 4] and m.max() < 5
    f = split_fractions(m, gen)
    sums = torch.zeros(5).index_add_(0, m, f)
    assert torch.allclose(sums, torch.ones(5), atol=1e-6)
    copied = [j for j in range(5) if (m == j).sum() > 1]
    assert copied and all(len(set(f[m == j].tolist())) > 1 for j in copied)


@pytest.mark.parametrize("new_width", [12, 16])
def test_widened_net_computes_what_the_narrow_one_does(new_width):
    narrow = _trained_like()
    wide = LiteNet(2, width=new_width, n_res=2).eval()
    wide.load_state_dict(widen_lite(narrow.state_dict(), 8, new_width, 2))
    x = torch.rand(2, 3, 40, 52)
    with torch.no_grad():
        for style in (0, 1, torch.tensor([0.3, 0.7])):
            a, b = narrow(x, style), wide(x, style)
            assert a.shape == b.shape == x.shape
            assert torch.allclose(a, b, atol=2e-5), (a - b).abs().max()
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in narrow.parameters())


def test_copies_of_a_channel_get_different_gradients():
    narrow = _trained_like(n_styles=1)
    wide = LiteNet(1, width=12, n_res=2)
    state = widen_lite(narrow.state_dict(), 8, 12, 2, seed=3)
    wide.load_state_dict(state)
    wide(torch.rand(2, 3, 32, 32)).square().mean().backward()
    gen = torch.Generator().manual_seed(3)   # the same draws as widen_lite: the first map is down.0's
    first = channel_map(8, 12, gen)
    g = wide.down[0].conv.weight.grad
    for new in range(8, 12):
        old = int(first[new])
        assert torch.equal(wide.down[0].conv.weight[new], wide.down[0].conv.weight[old])
        assert not torch.allclose(g[new], g[old])


def test_init_from_narrower_shipped_weights_widens(tmp_path, capsys):
    narrow = _trained_like(n_styles=1)
    path = tmp_path / "lite-x.safetensors"
    save_weights(narrow, path, {"family": "lite", "config": narrow.config, "styles": ["x"], "iterations": 40})
    wide = LiteNet(1, width=12, n_res=2).eval()
    assert common.init_from_weights(wide, str(path)) == 40
    assert "from width 8, 2 residual blocks to width 12, 2" in capsys.readouterr().out
    half = LiteNet(1, width=8, n_res=2).eval()   # what shipped: fp16 weights
    half.load_state_dict({k: v.half().float() for k, v in narrow.state_dict().items()})
    x = torch.rand(1, 3, 36, 36)
    with torch.no_grad():
        assert torch.allclose(wide(x), half(x), atol=2e-5)
    with pytest.raises(ValueError, match="does not fit this net"):
        common.init_from_weights(LiteNet(1, width=4, n_res=2), str(path))   # narrower: no shrinking


def test_deeper_and_wider_net_computes_what_the_trained_one_does_and_its_new_blocks_learn():
    narrow = _trained_like(n_styles=2)
    big = LiteNet(2, width=12, n_res=4)
    big.load_state_dict(deepen_lite(widen_lite(narrow.state_dict(), 8, 12, 2), 2, 4))
    x = torch.rand(2, 3, 44, 36)
    with torch.no_grad():
        assert torch.allclose(narrow(x, 1), big.eval()(x, 1), atol=2e-5)
    big.train()
    big(x, 1).square().mean().backward()
    new = big.blocks[3]
    assert new.n2.gamma.grad[1].abs().sum() > 0   # the zero γ of a new block gets a gradient at once
    assert new.c1.weight.std() > 0 and not torch.equal(new.c1.weight, big.blocks[2].c1.weight)
    with pytest.raises(ValueError, match="cannot deepen"):
        deepen_lite(narrow.state_dict(), 2, 1)
