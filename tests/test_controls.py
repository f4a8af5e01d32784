"""Controls for every family: --strength, --preserve-color, style mixing (--style a:0.7,b:0.3)."""
import cv2
import numpy as np
import pytest
import torch

from rtstyle import cli, ops, styles
from rtstyle.families import FAMILIES as FAMILY_TABLE
from rtstyle.ops import paint_with_margin
from rtstyle.weights import load_weights, save_weights
from rtstyle.errors import UserError
from rtstyle.models import CompactNet, JohnsonNet, MultiStyleNet
from rtstyle.models.adain import AdaINDecoder
from rtstyle.models.lite import LiteNet
from rtstyle.pipeline.stylizer import Stylizer

MIX = ["great_wave", "poppies"]


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """Tiny untrained nets of every family on $RTSTYLE_WEIGHTS (test-only: plumbing, not style).

    The multi nets get distinct per-style norms so that styles paint differently; AdaIN reads
    small random stand-ins for the style paintings (the real ones are 500-800 px: slow VGG on CPU).
    """
    d = tmp_path / "weights"
    torch.manual_seed(0)
    save_weights(JohnsonNet(width=4, n_res=1), d / "johnson-mosaic.safetensors",
                 {"family": "johnson", "styles": ["mosaic"], "config": {"width": 4, "n_res": 1}})
    save_weights(CompactNet(width=4, n_res=1), d / "compact-mosaic.safetensors",
                 {"family": "compact", "styles": ["mosaic"],
                  "config": {"width": 4, "n_res": 1, "downsample": False}})
    three = ["great_wave", "mona_lisa", "poppies"]
    for stem, names, width in (("multi-two", MIX, 4), ("multi-three", three, 8)):
        net = MultiStyleNet(len(names), width=width, n_res=1)
        with torch.no_grad():
            for name, param in net.named_parameters():
                if name.endswith((".gamma", ".beta")):
                    param.normal_(1.0 if name.endswith("gamma") else 0.0, 0.5)
        save_weights(net, d / f"{stem}.safetensors",
                     {"family": "multi", "styles": names, "config": {"n_styles": len(names), "width": width, "n_res": 1}})
    lite = LiteNet(len(MIX), width=4, n_res=1)   # the CPU tier: a style vector like multi's
    with torch.no_grad():
        for name, param in lite.named_parameters():
            if name.endswith((".gamma", ".beta")):
                param.normal_(1.0 if name.endswith("gamma") else 0.0, 0.5)
    save_weights(lite, d / "lite-two.safetensors", {"family": "lite", "styles": MIX, "config": lite.config})
    dec = AdaINDecoder(width_scale=0.0625, in_scale=1.0)   # untrained: the reference scale keeps it input-sensitive
    save_weights(dec, d / "adain-tiny.safetensors", {"family": "adain", "styles": [], "config": dec.config})
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    rng = np.random.default_rng(1)
    for i, name in enumerate(styles.style_names()):
        img = rng.random((32, 40, 3)) * (0.2 + 0.04 * i) + np.array([0.1 * (i % 3), 0.3, 0.02 * i])
        cv2.imwrite(str(paintings / f"{name}.png"), (np.clip(img, 0, 1) * 255).astype(np.uint8))
    monkeypatch.setattr(styles, "style_image", lambda n: paintings / f"{styles.check_style(n)}.png")
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(d))
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    return d


def photo(h=24, w=32, seed=0) -> np.ndarray:
    """(h, w, 3) uint8: smooth colour ramps plus a little noise, away from 0 and 255."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.3 + 0.4 * xx, 0.5 - 0.2 * yy, 0.35 + 0.3 * xx * yy], axis=2) + rng.normal(0, 0.03, (h, w, 3))
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def ycrcb(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb) * 255.0


FAMILIES = [("johnson", "mosaic"), ("compact", "mosaic"), ("multi", "poppies"), ("lite", "poppies"),
            ("adain", "starry_night")]


# -- strength ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,style", FAMILIES)
@pytest.mark.parametrize("keep", [False, True])
def test_strength_zero_returns_the_input(weights, family, style, keep):
    rgb = photo()
    with Stylizer(style, family, "torch", strength=0.0, preserve_color=keep) as st:
        assert st.family == family
        assert np.array_equal(st.frame(rgb), rgb)
    with Stylizer(style, family, "torch", strength=1.0) as st:
        assert not np.array_equal(st.frame(rgb), rgb)   # the nets do change the picture


# -- preserve colour -----------------------------------------------------------------------------

def test_preserve_color_hand_example():
    # content (0.5, 0.25, 0.25): Y = 0.299·0.5 + 0.587·0.25 + 0.114·0.25 = 0.32475
    # stylized (0.2, 0.6, 0.4):  Y = 0.0598 + 0.3522 + 0.0456 = 0.4576; ΔY = 0.13285 on every channel
    c = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64).reshape(1, 3, 1, 1)
    s = torch.tensor([0.2, 0.6, 0.4], dtype=torch.float64).reshape(1, 3, 1, 1)
    assert ops.luminance(c).item() == pytest.approx(0.32475)
    out = ops.preserve_color(s, c)
    assert torch.allclose(out.flatten(), torch.tensor([0.63285, 0.38285, 0.38285], dtype=torch.float64))
    # BT.601 chroma is the content's: Cb = 0.564·(B − Y), Cr = 0.713·(R − Y)
    y = ops.luminance(out)
    assert (out[:, 2:3] - y).item() == pytest.approx(0.25 - 0.32475)
    assert (out[:, 0:1] - y).item() == pytest.approx(0.5 - 0.32475)
    assert ops.luminance(out).item() == pytest.approx(0.4576)


def test_preserve_color_clamps_and_keeps_dtype_and_checks_shapes():
    c = torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1)        # pure red, Y = 0.299
    s = torch.full((1, 3, 1, 1), 0.9, dtype=torch.float16)       # Y = 0.9: red would need 1.601
    out = ops.preserve_color(s, c)
    assert out.dtype == torch.float16
    assert torch.allclose(out.float().flatten(), torch.tensor([1.0, 0.601, 0.601]), atol=2e-3)
    with pytest.raises(ValueError, match="equally shaped"):
        ops.preserve_color(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


def test_preserve_color_matches_opencv_ycrcb_on_random_frames():
    torch.manual_seed(0)
    c = torch.rand(2, 3, 8, 9) * 0.5 + 0.25
    s = torch.rand(2, 3, 8, 9) * 0.5 + 0.25
    out = ops.preserve_color(s, c)
    to_np = lambda t, i: (t[i].permute(1, 2, 0).numpy() * 255).astype(np.float32)  # noqa: E731
    for i in range(2):
        yo, yc, ys = (cv2.cvtColor(to_np(t, i) / 255, cv2.COLOR_RGB2YCrCb) for t in (out, c, s))
        assert np.allclose(yo[..., 0], ys[..., 0], atol=1e-5)     # the stylized luminance
        assert np.allclose(yo[..., 1:], yc[..., 1:], atol=1e-5)   # the content's Cr, Cb


@pytest.mark.parametrize("family,style", FAMILIES)
def test_preserve_color_keeps_the_inputs_chroma_and_the_stylized_luma(weights, family, style):
    rgb = photo(seed=2)
    with Stylizer(style, family, "torch") as st:
        plain = st.frame(rgb)
    with Stylizer(style, family, "torch", preserve_color=True) as st:
        kept = st.frame(rgb)
        assert "colours kept" in st.label
    a, b, p = ycrcb(kept), ycrcb(rgb), ycrcb(plain)
    # where nothing clamps (no channel at 0 or 255) chroma is the input's up to 8-bit rounding
    inside = ((kept > 0) & (kept < 255)).all(axis=2)
    assert inside.mean() > 0.5
    assert np.abs(a[..., 1:] - b[..., 1:])[inside].max() < 1.5
    assert np.abs(a[..., 0] - p[..., 0])[inside].max() < 1.5
    assert np.abs(p[..., 1:] - b[..., 1:]).mean() > 3    # the plain output did change the colours


def test_preserve_color_with_strength_and_with_depth_mode(weights):
    from rtstyle.pipeline.depth import DepthModulator

    class RampDepth:   # far on the right: a strength map from 0 (left) to 1 (right)
        def __call__(self, x):
            return torch.linspace(0, 1, x.shape[-1]).expand(x.shape[0], 1, *x.shape[-2:]).clone()

        def close(self):
            pass

    rgb = photo(seed=3)
    for depth in (None, DepthModulator(net=RampDepth())):
        with Stylizer("mosaic", "johnson", "torch", strength=0.6, preserve_color=True, depth=depth) as st:
            out = st.frame(rgb)
        a, b = ycrcb(out), ycrcb(rgb)
        inside = ((out > 0) & (out < 255)).all(axis=2)
        assert np.abs(a[..., 1:] - b[..., 1:])[inside].max() < 1.5
        if depth is not None:   # near (left) keeps the input, far (right) gets the style's luminance
            assert np.abs(a[:, 0, 0] - b[:, 0, 0]).max() < 1.5
            assert np.abs(a[:, -1, 0] - b[:, -1, 0]).mean() > 1


# -- mixing: parsing and choosing ----------------------------------------------------------------

def test_parse_mix_weights_and_defaults():
    assert styles.parse_mix("mosaic") == [("mosaic", 1.0)]
    assert styles.parse_mix("great_wave,poppies") == [("great_wave", 0.5), ("poppies", 0.5)]
    assert styles.parse_mix(" great_wave : 3 , poppies:1 ") == [("great_wave", 0.75), ("poppies", 0.25)]
    assert styles.parse_mix("great_wave:1,poppies:0") == [("great_wave", 1.0)]   # weight 0: dropped
    assert styles.mix_label(styles.parse_mix("great_wave:0.7,poppies:0.3")) == "great_wave 70% + poppies 30%"


@pytest.mark.parametrize("text,message", [
    ("great_wave:0.5,popies:0.5", "unknown style 'popies'; did you mean 'poppies'"),
    ("great_wave:-0.5,poppies:1", "must be a finite number >= 0"),
    ("great_wave:0,poppies:0", "sum to 0"),
    ("great_wave:0.5,great_wave:0.5", "'great_wave' is given twice"),
    ("great_wave:half,poppies", "'half' of 'great_wave' is not a number"),
    ("great_wave:nan,poppies", "finite"),
    ("great_wave,,poppies", "empty entry"),
])
def test_parse_mix_errors_are_one_line(text, message):
    with pytest.raises(UserError, match=message) as info:
        styles.parse_mix(text)
    assert "\n" not in str(info.value)


def test_choose_a_mixture_needs_a_family_that_mixes(weights, monkeypatch, tmp_path):
    monkeypatch.setattr("rtstyle.styles.WEIGHTS_DIR", tmp_path / "none")   # only the test's nets (the shipped multi knows all)
    styles.entries_for.cache_clear() if hasattr(styles.entries_for, "cache_clear") else None
    with pytest.raises(UserError, match="--model johnson .* cannot mix") as info:
        styles.choose("mosaic:0.5,poppies:0.5", "johnson")
    assert "multi" in str(info.value) and "adain" in str(info.value)
    assert styles.choose("great_wave:0.5,poppies:0.5", "multi").path.stem == "multi-two"   # the cheaper one
    # only the wider net knows mona_lisa: the entry must paint every named style
    assert styles.choose("great_wave:0.5,mona_lisa:0.5", "multi").path.stem == "multi-three"
    assert styles.choose("mosaic:0.5,poppies:0.5").family == "adain"   # no multi net knows mosaic
    assert styles.can_mix("multi") and styles.can_mix("lite") and styles.can_mix("adain")
    assert not styles.can_mix("johnson") and not styles.can_mix("compact")


def test_choose_a_mixture_without_mixing_weights_says_so(weights, monkeypatch, tmp_path):
    d = tmp_path / "only-johnson"
    save_weights(JohnsonNet(width=4, n_res=1), d / "johnson-mosaic.safetensors",
                 {"family": "johnson", "styles": ["mosaic"], "config": {"width": 4, "n_res": 1}})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(d))
    monkeypatch.setattr(styles, "WEIGHTS_DIR", tmp_path / "nothing-shipped")
    monkeypatch.setattr(styles, "weights_dirs", lambda: [d])
    with pytest.raises(UserError, match="no trained weights of a family that mixes") as info:
        styles.choose("mosaic:0.5,poppies:0.5")
    assert "\n" not in str(info.value)
    assert styles.choose("mosaic").family == "johnson"   # a single name behaves as before


# -- mixing: what the nets get -------------------------------------------------------------------

def test_single_style_is_still_a_one_hot_vector(weights):
    with Stylizer("poppies", "multi", "torch") as st:
        assert st.style == "poppies" and st.mix == [("poppies", 1.0)]
        assert torch.equal(st.extra["style"], torch.tensor([[0.0, 1.0]]))
        assert st.label.startswith("poppies (multi, multi-two.safetensors")


@pytest.mark.parametrize("family,backend", [("multi", "torch"), ("multi", "onnxruntime"), ("lite", "torch")])
def test_half_half_mixture_equals_the_net_with_the_half_half_vector(weights, family, backend):
    x = torch.from_numpy(photo(seed=4)).permute(2, 0, 1)[None].float() / 255
    net, _ = load_weights(weights / f"{family}-two.safetensors")
    m = FAMILY_TABLE[family].edge_margin   # the Stylizer paints over a mirrored edge margin (lite: 16 px)
    with torch.no_grad():
        want = paint_with_margin(lambda t: net(t, torch.tensor([0.5, 0.5])), m, x)
        ends = paint_with_margin(lambda t: net(t, 0), m, x), paint_with_margin(lambda t: net(t, 1), m, x)
    with Stylizer("great_wave,poppies", family, backend) as st:
        assert torch.equal(st.extra["style"].cpu(), torch.tensor([[0.5, 0.5]]))
        with torch.no_grad():
            got = st.tensor(x)
    assert torch.allclose(got.cpu(), want, atol=1e-4)
    assert all((got.cpu() - e).abs().max() > 1e-2 for e in ends)   # really a third picture


def test_an_engine_profile_makes_room_for_the_edge_margin(weights, monkeypatch):
    """A TensorRT engine sees the frame mirrored by the margin, so its profile must be wider by it:
    a 4K frame of a lite net is 2192x3872 inside the engine (rtstyle.export.tensorrt.widen_profile)."""
    from rtstyle import backends
    seen = {}
    real = backends.create

    def create(*args, profile=None, **kwargs):
        seen[args[2]] = profile
        return real(*args, profile=profile, **kwargs)
    monkeypatch.setattr(backends, "create", create)
    with Stylizer("great_wave", "lite", "torch") as st:
        assert st.margin == 16
    with Stylizer("great_wave", "multi", "torch") as st:
        assert st.margin == 0
    assert seen["lite"][2] == (1, 3, 2160 + 32, 3840 + 32)
    assert seen["multi"] is None   # no margin: the default profile


@pytest.mark.parametrize("family,a,b", [("multi", "great_wave", "poppies"), ("adain", "great_wave", "poppies")])
def test_one_hot_mixture_equals_the_single_style(weights, family, a, b):
    rgb = photo(seed=5)
    with Stylizer(a, family, "torch") as st:
        single = st.frame(rgb)
    with Stylizer(f"{a}:1,{b}:0", family, "torch") as st:
        assert np.array_equal(st.frame(rgb), single)
    with Stylizer(f"{b}:0.4,{a}:0.6", family, "torch") as st:   # and a real mix differs
        assert not np.array_equal(st.frame(rgb), single)


def test_adain_mixture_mixes_the_style_statistics(weights):
    from rtstyle.weights import adain_net
    w = [0.25, 0.75]
    with Stylizer("great_wave", "adain", "torch") as st:
        mean_a, std_a = st.extra["style_mean"], st.extra["style_std"]
    with Stylizer("poppies", "adain", "torch") as st:
        mean_b, std_b = st.extra["style_mean"], st.extra["style_std"]
    with Stylizer("great_wave:1,poppies:3", "adain", "torch") as st:
        assert torch.allclose(st.extra["style_mean"], w[0] * mean_a + w[1] * mean_b)
        assert torch.allclose(st.extra["style_std"], w[0] * std_a + w[1] * std_b)
        mixed_mean, mixed_std = st.extra["style_mean"], st.extra["style_std"]
    assert (mean_a - mean_b).abs().max() > 1e-3   # the two paintings do differ
    # at the feature level the mixed target is exactly Σ w_k·AdaIN(f_c, s_k)
    dec, _ = load_weights(weights / "adain-tiny.safetensors")
    net = adain_net(dec).eval()
    x = torch.from_numpy(photo(seed=6)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        f = net.encode(x)
    c_mean, c_std = ops.mean_std(f)
    target = lambda m, s: s * (f - c_mean) / c_std + m  # noqa: E731
    assert torch.allclose(target(mixed_mean, mixed_std),
                          w[0] * target(mean_a, std_a) + w[1] * target(mean_b, std_b), rtol=1e-5, atol=1e-3)


def test_set_style_takes_mixtures_and_refuses_unknown_ones(weights):
    with Stylizer("great_wave", "multi", "torch") as st:
        assert st.can_paint("great_wave:0.3,poppies:0.7") and not st.can_paint("great_wave,mona_lisa")
        st.set_style("great_wave:0.3,poppies:0.7")
        assert torch.allclose(st.extra["style"], torch.tensor([[0.3, 0.7]]))
        st.set_style("poppies")
        assert torch.equal(st.extra["style"], torch.tensor([[0.0, 1.0]]))
        with pytest.raises(UserError, match="cannot paint"):
            st.set_style("great_wave,mona_lisa")
    with Stylizer("starry_night", "adain", "torch") as st:
        st.set_style("great_wave,poppies")
        assert st.mix == [("great_wave", 0.5), ("poppies", 0.5)]
    with Stylizer("mosaic", "johnson", "torch") as st:
        assert st.can_paint("mosaic:1") and not st.can_paint("mosaic,poppies")


# -- the command line ------------------------------------------------------------------------------

def test_cli_image_with_a_mixture_and_preserve_color(capsys, tmp_path, weights):
    from rtstyle.io.images import read_image, write_image
    write_image(tmp_path / "in.png", photo(seed=7))
    code = cli.main(["image", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--style",
                     "great_wave:0.7,poppies:0.3", "--model", "multi", "--backend", "torch", "--preserve-color"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "great_wave 70% + poppies 30%" in cap.out and "colours kept" in cap.out
    out, _ = read_image(tmp_path / "out.png")
    assert out.shape == (24, 32, 3)


@pytest.mark.parametrize("style,model,message", [
    ("mosaic:0.5,poppies:0.5", "johnson", "cannot mix"),
    ("great_wave:0.5,great_wave:0.5", None, "given twice"),
    ("great_wave:-1,poppies:2", None, ">= 0"),
    ("great_wave:0.5,popies:0.5", None, "did you mean 'poppies'"),
])
def test_cli_mixture_errors_are_one_line(capsys, tmp_path, weights, style, model, message):
    from rtstyle.io.images import write_image
    write_image(tmp_path / "in.png", photo())
    args = ["image", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--style", style]
    code = cli.main(args + (["--model", model] if model else []))
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


def test_webcam_mixture_is_one_style_and_a_list_still_cycles(capsys, weights):
    from rtstyle.cli.webcam import style_names as _style_names
    assert _style_names("great_wave:0.5,poppies:0.5", "multi") == ["great_wave:0.5,poppies:0.5"]
    assert _style_names("great_wave,poppies", "multi") == ["great_wave", "poppies"]
    code = cli.main(["webcam", "--style", "great_wave:0.5,poppies:0.5", "--model", "multi", "--simulate",
                     "pattern", "--size", "64x48", "--fps", "60", "--no-display", "--max-frames", "3",
                     "--backend", "torch", "--preserve-color"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "great_wave 50% + poppies 50%" in out and "3 frames" in out


def test_batch_workers_get_preserve_color(weights):
    from rtstyle.scale import worker
    plain = worker.StyleSettings("mosaic", "johnson", "torch", None, None, 1.0)
    kept = worker.StyleSettings("mosaic", "johnson", "torch", None, None, 1.0, preserve_color=True)
    assert plain.key() != kept.key()
    try:
        assert worker._stylizer(kept).preserve_color and not worker._stylizer(plain).preserve_color
    finally:
        for st in worker._stylizers.values():
            st.close()
        worker._stylizers.clear()
    args = cli._parser().parse_args(["batch", "a.mp4", "--out-dir", "o", "--style", "mosaic", "--preserve-color"])
    assert args.preserve_color and not hasattr(args, "smooth")
