"""Any painting as a style (AdaIN) and the stroke-size control (--style-scale)."""
import cv2
import numpy as np
import pytest
import torch

from rtstyle import cli, styles
from rtstyle.weights import save_weights
from rtstyle.errors import UserError
from rtstyle.models import JohnsonNet
from rtstyle.models.adain import AdaINDecoder
from rtstyle.cli.webcam import style_names as _style_names
from rtstyle.sizes import working_short
from rtstyle.pipeline.stylizer import Stylizer


@pytest.fixture
def weights(tmp_path, monkeypatch):
    d = tmp_path / "weights"
    torch.manual_seed(0)
    save_weights(JohnsonNet(width=4, n_res=1), d / "johnson-mosaic.safetensors",
                 {"family": "johnson", "styles": ["mosaic"], "config": {"width": 4, "n_res": 1},
                  "train_photo_short": 16})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(d))
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(styles, "WEIGHTS_DIR", tmp_path / "none")   # only the test's weights
    return d


def _adain(d):
    dec = AdaINDecoder(width_scale=0.0625, in_scale=1.0)   # untrained: the reference scale keeps it input-sensitive
    save_weights(dec, d / "adain-tiny.safetensors", {"family": "adain", "styles": [], "config": dec.config})


@pytest.fixture
def painting(tmp_path):
    rng = np.random.default_rng(3)
    img = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
    path = tmp_path / "my painting.png"
    cv2.imwrite(str(path), img)
    return path


def test_working_short_follows_the_training_scale():
    assert working_short(1080, 192, None) == 384          # large frame: the net paints at 2x its photos
    assert working_short(240, 192, None) == 240           # small frame: its own size
    assert working_short(1080, 192, 2.0) == 192           # strokes twice as large
    assert working_short(240, 192, 0.5) == 768            # half as large: more pixels than the frame
    assert working_short(1080, None, 2.0) == 1080         # weights that don't record their scale
    with pytest.raises(UserError, match=r"--style-scale 20.0 is outside \[0.1, 10\]"):
        working_short(100, 192, 20.0)


def test_style_scale_changes_the_net_size_not_the_output_size(weights):
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    seen = []
    with Stylizer("mosaic", "johnson", "torch") as st:
        st.tensor = lambda x: (seen.append(tuple(x.shape[-2:])), x)[1]
        assert st.frame(rgb).shape == (48, 64, 3)
    with Stylizer("mosaic", "johnson", "torch", style_scale=0.5) as st:
        st.tensor = lambda x: (seen.append(tuple(x.shape[-2:])), x)[1]
        assert st.frame(rgb).shape == (48, 64, 3)
    assert seen == [(32, 42), (64, 86)]   # 2*16 by default, 2*16/0.5 at --style-scale 0.5


def test_painting_file_paints_with_adain(weights, painting, tmp_path):
    _adain(weights)
    rgb = np.random.default_rng(1).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    with Stylizer(str(painting), None, "torch") as st:
        assert st.family == "adain"
        out = st.frame(rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    other = tmp_path / "other.png"
    cv2.imwrite(str(other), np.full((40, 56, 3), (20, 200, 90), np.uint8))
    with Stylizer(str(other), None, "torch") as st:
        assert np.abs(st.frame(rgb).astype(int) - out.astype(int)).mean() > 0.5   # another painting, another look


def test_painting_file_errors_are_one_line(weights, painting, tmp_path, capsys):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.zeros((16, 16, 3), np.uint8))
    cases = [
        ([str(tmp_path / "missing.jpg")], "does not exist"),
        ([str(painting)], "needs arbitrary-style weights (adain), and none are installed"),
        ([str(painting), "--model", "johnson"], "--model johnson paints only the styles it was trained on"),
    ]
    for extra, words in cases:
        rc = cli.main(["image", str(src), "-o", str(tmp_path / "o.png"), "--style", *extra[:1], *extra[1:]])
        err = capsys.readouterr().err.strip()
        assert rc != 0 and words in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_webcam_cycles_a_folder_of_paintings(tmp_path, painting):
    folder = painting.parent
    cv2.imwrite(str(folder / "b.jpg"), np.zeros((8, 8, 3), np.uint8))
    (folder / "notes.txt").write_text("not a painting")
    assert _style_names(str(folder), None) == sorted([str(painting), str(folder / "b.jpg")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="holds no paintings"):
        _style_names(str(empty), None)


def test_styles_listing_says_what_paints_a_painting_file(weights, capsys):
    from rtstyle.pipeline.jobs import list_styles
    list_styles()
    assert "any painting file: needs AdaIN weights" in capsys.readouterr().out
    _adain(weights)
    list_styles()
    assert "any painting file (--style path/to/painting.jpg" in capsys.readouterr().out
