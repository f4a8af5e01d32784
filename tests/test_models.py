"""Every network on odd and tiny sizes, conditional-norm style mixing, AdaIN strength maps,
and the depth hourglass's size (parameters, MACs) against Chen et al. 2016."""
import pytest
import torch
import torch.nn as nn

from rtstyle.weights import adain_net, build_model
from rtstyle.models import CompactNet, JohnsonNet, MultiStyleNet
from rtstyle.models.adain import AdaINDecoder, mix_stats
from rtstyle.models.depth import HourglassDepth, build_depth_net
from rtstyle.models.lite import LiteNet
from rtstyle.models.transformer import CondInstanceNorm

SIZES = [(17, 23), (1, 1), (5, 40)]


def conv_macs(net: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of every Conv2d for one sample of ``x`` (counted with forward hooks)."""
    total = 0

    def hook(m, _inp, out):
        nonlocal total
        total += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return total


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _randomize_cond_norm(net: nn.Module, seed: int = 0) -> None:
    # Fresh CIN rows are all γ = 1, β = 0, which would make every style identical.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, CondInstanceNorm):
                m.gamma.copy_(1 + 0.5 * torch.randn(m.gamma.shape, generator=gen))
                m.beta.copy_(0.5 * torch.randn(m.beta.shape, generator=gen))


def y_shape_ok(y, x):
    return y.shape == x.shape and y.min() >= 0 and y.max() <= 1


TRANSFORMERS = {
    "johnson": lambda: JohnsonNet(width=4, n_res=1),
    "compact_literal": lambda: CompactNet(width=8, n_res=1),
    "compact_downsampled": lambda: CompactNet(width=8, n_res=1, downsample=True),
    "multi_index": lambda: MultiStyleNet(n_styles=3, width=4, n_res=1),
    "lite_index": lambda: LiteNet(n_styles=3, width=4, n_res=1),
}


@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("name", TRANSFORMERS)
def test_transformers_keep_size_and_range(name, hw):
    torch.manual_seed(0)
    net = TRANSFORMERS[name]().eval()
    x = torch.rand(1, 3, *hw)
    with torch.no_grad():
        y = net(x, 1) if name.endswith("_index") else net(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1


def test_multistyle_index_one_hot_and_mixing():
    torch.manual_seed(0)
    net = MultiStyleNet(n_styles=3, width=4, n_res=1).eval()
    _randomize_cond_norm(net)
    x = torch.rand(2, 3, 17, 23)
    with torch.no_grad():
        by_index = net(x, 1)
        one_hot = net(x, torch.tensor([0.0, 1.0, 0.0]))
        per_sample = net(x, torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
        other = net(x, 2)
        half = net(x, torch.tensor([0.0, 0.5, 0.5]))
    assert y_shape_ok(half, x)
    assert torch.allclose(by_index, one_hot, atol=1e-6) and torch.allclose(by_index, per_sample, atol=1e-6)
    assert (by_index - other).abs().max() > 1e-2
    assert (half - by_index).abs().max() > 1e-3 and (half - other).abs().max() > 1e-3
    with pytest.raises(ValueError, match="out of range"):
        net(x, 3)
    with pytest.raises(ValueError, match="entries"):
        net(x, torch.tensor([1.0, 0.0]))



@pytest.mark.parametrize("downsample", [False, True])
def test_compact_batchnorm_eval_is_deterministic_and_per_sample(downsample):
    torch.manual_seed(0)
    net = CompactNet(width=8, n_res=1, downsample=downsample)
    net.train()
    with torch.no_grad():
        net(torch.rand(4, 3, 16, 16) * 0.5 + 0.2)  # move the running statistics off their defaults
    net.eval()
    x = torch.rand(2, 3, 17, 23)
    with torch.no_grad():
        a, b, first = net(x), net(x), net(x[:1])
    assert torch.equal(a, b)
    assert torch.allclose(a[:1], first, atol=1e-6)  # eval BN: a sample's output ignores its batch


@pytest.fixture(scope="module")
def adain():
    torch.manual_seed(0)
    return adain_net(AdaINDecoder(width_scale=0.125, in_scale=1.0)).eval()


@pytest.mark.parametrize("hw", SIZES)
def test_adain_keeps_size_and_range(adain, hw):
    style = adain.style_stats(torch.rand(1, 3, 24, 20))
    assert style[0].shape == style[1].shape == (1, 512, 1, 1)
    x = torch.rand(1, 3, *hw)
    with torch.no_grad():
        y = adain(x, *style)
        ymap = adain(x, *style, alpha_map=torch.rand(1, 1, *hw))
    assert y_shape_ok(y, x) and y_shape_ok(ymap, x)


def test_adain_strength_scalar_map_and_mixing(adain):
    x = torch.rand(1, 3, 17, 23)
    s1 = adain.style_stats(torch.rand(1, 3, 32, 32) * 0.3)
    s2 = adain.style_stats(torch.rand(1, 3, 32, 32) * 0.5 + 0.5)
    with torch.no_grad():
        full = adain(x, *s1)
        none = adain(x, *s1, alpha=0.0)
        ones = adain(x, *s1, alpha_map=torch.ones(1, 1, 17, 23))
        zeros = adain(x, *s1, alpha_map=torch.zeros(1, 1, 17, 23))
        low_res_half = adain(x, *s1, alpha_map=torch.full((1, 1, 4, 6), 0.5))
        half = adain(x, *s1, alpha=0.5)
        recon = adain.decoder(adain.encode(torch.nn.functional.pad(x, (0, 1, 0, 7), mode="replicate")))[..., :17, :23]
        mixed_end = adain(x, *mix_stats([s1, s2], [1.0, 0.0]))
        mixed_mid = adain(x, *adain.mix_stats([s1, s2], [2.0, 2.0]))
        other = adain(x, *s2)
    assert torch.allclose(full, ones, atol=1e-6)
    assert torch.allclose(none, zeros, atol=1e-6)
    assert torch.allclose(none, recon, atol=1e-6)  # α = 0 decodes the content's own features
    assert torch.allclose(half, low_res_half, atol=1e-6)
    assert (full - none).abs().max() > 1e-3
    assert torch.allclose(mixed_end, full, atol=1e-6)
    assert (mixed_mid - full).abs().max() > 1e-3 and (mixed_mid - other).abs().max() > 1e-3
    m = mix_stats([s1, s2], [1.0, 3.0])
    assert torch.allclose(m[0], 0.25 * s1[0] + 0.75 * s2[0])
    with pytest.raises(ValueError, match="one weight per style"):
        mix_stats([s1, s2], [1.0])


def test_adain_decoder_builds_from_manifest_config():
    dec = AdaINDecoder(width_scale=0.25)
    again = build_model("adain", dec.config)
    assert isinstance(again, AdaINDecoder)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in dec.state_dict().items()}
    assert n_params(AdaINDecoder()) == 3_505_219  # Huang & Belongie's decoder


def test_adain_encoder_stays_frozen(adain):
    adain.train()
    assert not adain.encoder.training
    assert not any(p.requires_grad for p in adain.encoder.parameters())
    assert all(p.requires_grad for p in adain.decoder.parameters())
    adain.eval()


@pytest.fixture(scope="module")
def depth_nets():
    torch.manual_seed(0)
    return {v: build_depth_net(v).eval() for v in ("full", "rt")}


@pytest.mark.parametrize("variant", ["full", "rt"])
@pytest.mark.parametrize("hw", [(17, 23), (1, 1)])
def test_depth_keeps_size_and_is_finite(depth_nets, variant, hw):
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        d = depth_nets[variant](x)
    assert d.shape == (2, 1, *hw)
    assert torch.isfinite(d).all()


def test_depth_full_matches_chen_et_al_size_and_rt_is_much_cheaper(depth_nets):
    full, rt = depth_nets["full"], depth_nets["rt"]
    assert abs(n_params(full) - 5.36e6) / 5.36e6 < 0.02
    # Convs scale exactly with area: 48×64 is 240×320 / 25.
    x = torch.rand(1, 3, 48, 64)
    macs_full, macs_rt = conv_macs(full, x) * 25, conv_macs(rt, x) * 25
    assert abs(macs_full - 47e9) / 47e9 < 0.02
    assert macs_rt < macs_full / 4
    assert n_params(rt) < n_params(full) / 3


def test_depth_configs_rebuild(depth_nets):
    for net in depth_nets.values():
        again = build_model("depth", dict(net.config))
        assert isinstance(again, HourglassDepth) and again.config == net.config
        assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}
    custom = build_depth_net("rt", width=0.25)
    assert custom.config["width"] == 0.25 and build_depth_net(**custom.config).config == custom.config
    with pytest.raises(ValueError, match="unknown depth variant"):
        build_depth_net("tiny")
