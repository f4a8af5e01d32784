"""End-to-end CLI behaviour: outputs, frame counts, audio, and one-line errors for user mistakes."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtstyle import cli, styles

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *args):
    code = cli.main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_styles_lists_every_bundled_style(capsys, tiny_weights):
    code, out, err = run_cli(capsys, "styles")
    assert code == 0, err
    assert code == 0
    names = styles.style_names()
    assert len(names) >= 20 and "mosaic" in names and "starry_night" in names
    lines = {ln.split()[0]: ln for ln in out.splitlines()[1:] if ln.strip() and not ln.startswith(str(len(names)))}
    assert set(names) <= set(lines)
    assert "johnson" in lines["mosaic"]
    assert "multi" in lines["poppies"]
    assert "768x768" in lines["mosaic"]
    # on a CPU / on a GPU: the default net's family, or the file name of a net shared by several styles
    assert lines["mosaic"].split()[2:4] == ["johnson", "johnson"]
    # poppies: on a CPU the cheapest net (the tiny shared multi-test), on a GPU its own (the shipped lite)
    assert lines["poppies"].split()[2:4] == ["multi-test", "lite"]
    stems = {name for e in styles.weights_entries() for name in (e.path.stem, e.family)}
    assert all(set(ln.split()[2:4]) <= stems for ln in lines.values() if ln.split()[0] in names)


def test_unknown_style_suggests_close_name(capsys, tmp_path, tiny_weights):
    img = tmp_path / "a.png"
    from rtstyle.io.images import write_image
    write_image(img, np.zeros((8, 8, 3), np.uint8))
    code, _, err = run_cli(capsys, "image", img, "-o", tmp_path / "b.png", "--style", "mosiac")
    assert code == 2
    assert "unknown style 'mosiac'" in err and "did you mean 'mosaic'" in err
    assert len(err.strip().splitlines()) == 1


def test_style_without_weights_says_so(capsys, tmp_path, tiny_weights):
    img = tmp_path / "a.png"
    from rtstyle.io.images import write_image
    write_image(img, np.zeros((8, 8, 3), np.uint8))
    code, _, err = run_cli(capsys, "image", img, "-o", tmp_path / "b.png", "--style", "mona_lisa",
                           "--model", "johnson")
    assert code == 2 and "no trained johnson weights" in err
    assert not (tmp_path / "b.png").exists()


def test_image_kinds_keep_size_and_alpha(capsys, tmp_path, tiny_weights):
    from rtstyle.io.images import read_image, write_image
    rgb = (np.random.default_rng(0).random((21, 33, 3)) * 255).astype(np.uint8)
    alpha = np.tile(np.arange(33, dtype=np.uint8) * 7, (21, 1))
    write_image(tmp_path / "rgba.png", rgb, alpha)
    code, _, err = run_cli(capsys, "image", tmp_path / "rgba.png", "-o", tmp_path / "out.png", "--style", "mosaic")
    assert code == 0, err
    out, out_alpha = read_image(tmp_path / "out.png")
    assert out.shape == (21, 33, 3) and out.dtype == np.uint8
    assert out_alpha is not None and np.array_equal(out_alpha, alpha)


def test_strength_zero_returns_input(capsys, tmp_path, tiny_weights):
    from rtstyle.io.images import read_image, write_image
    rgb = (np.random.default_rng(1).random((16, 16, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "in.png", rgb)
    code, _, err = run_cli(capsys, "image", tmp_path / "in.png", "-o", tmp_path / "o.png", "--style", "mosaic",
                           "--strength", "0", "--backend", "torch")
    assert code == 0, err
    out, _ = read_image(tmp_path / "o.png")
    assert np.abs(out.astype(int) - rgb).max() <= 1


def test_multi_style_selects_its_style(capsys, tmp_path, tiny_weights):
    from rtstyle.io.images import read_image, write_image
    rgb = (np.random.default_rng(2).random((16, 24, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "in.png", rgb)
    outs = []
    for s in ("great_wave", "poppies"):
        code, _, err = run_cli(capsys, "image", tmp_path / "in.png", "-o", tmp_path / f"{s}.png", "--style", s)
        assert code == 0, err
        outs.append(read_image(tmp_path / f"{s}.png")[0])
    assert outs[0].shape == (16, 24, 3)


def test_existing_output_refused_without_overwrite(capsys, tmp_path, tiny_weights):
    from rtstyle.io.images import write_image
    write_image(tmp_path / "in.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "out.png").write_bytes(b"keep me")
    code, _, err = run_cli(capsys, "image", tmp_path / "in.png", "-o", tmp_path / "out.png", "--style", "mosaic")
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert (tmp_path / "out.png").read_bytes() == b"keep me"


def test_output_equal_to_input_refused(capsys, tmp_path, tiny_weights):
    from rtstyle.io.images import write_image
    write_image(tmp_path / "in.png", np.zeros((8, 8, 3), np.uint8))
    code, _, err = run_cli(capsys, "image", tmp_path / "in.png", "-o", tmp_path / "in.png", "--style", "mosaic",
                           "--overwrite")
    assert code == 2 and "is the input" in err


def test_missing_input(capsys, tmp_path, tiny_weights):
    code, _, err = run_cli(capsys, "video", tmp_path / "nope.mp4", tmp_path / "o.mp4", "--style", "mosaic")
    assert code == 2 and "does not exist" in err


def test_bad_size(capsys, tmp_path, tiny_weights):
    from rtstyle.io.images import write_image
    write_image(tmp_path / "in.png", np.zeros((8, 8, 3), np.uint8))
    code, _, err = run_cli(capsys, "image", tmp_path / "in.png", "-o", tmp_path / "o.png", "--style", "mosaic",
                           "--size", "big")
    assert code == 2 and "--size 'big'" in err


def test_video_keeps_frames_fps_and_audio(capsys, tmp_path, tiny_weights, tiny_video):
    from rtstyle.io.video import probe
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "video", tiny_video, out, "--style", "mosaic", "--no-progress")
    assert code == 0, err
    src, dst = probe(tiny_video), probe(out)
    assert dst.frame_count == src.frame_count
    assert dst.fps == src.fps
    assert dst.has_audio
    assert (dst.width, dst.height) == (src.width, src.height)


def test_video_max_frames_and_scale(capsys, tmp_path, tiny_weights, tiny_video):
    from rtstyle.io.video import probe
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "video", tiny_video, out, "--style", "mosaic", "--max-frames", "5",
                           "--scale", "0.5", "--no-progress")
    assert code == 0, err
    dst = probe(out)
    assert dst.frame_count == 5
    src = probe(tiny_video)
    assert (dst.width, dst.height) == (src.width // 2 // 2 * 2, src.height // 2 // 2 * 2)


def test_user_error_has_no_traceback_in_a_real_process(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rtstyle.cli", "video", str(tmp_path / "x.mp4"),
                        str(tmp_path / "y.mp4"), "--style", "mosaic"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("rtstyle: error:")


@pytest.mark.parametrize("kind", ["rgb_jpeg", "rgba_png", "grey_png", "png16"])
def test_image_command_accepts_every_kind(capsys, tmp_path, tiny_weights, kind, request):
    from rtstyle.io.images import read_image
    src = request.getfixturevalue(kind)
    rgb_in, _ = read_image(src)
    out = tmp_path / f"out_{kind}.png"
    code, _, err = run_cli(capsys, "image", src, "-o", out, "--style", "mosaic")
    assert code == 0, err
    rgb_out, _ = read_image(out)
    assert rgb_out.shape == rgb_in.shape and rgb_out.dtype == np.uint8


def test_several_images_go_to_a_folder(capsys, tmp_path, tiny_weights, rgb_jpeg, grey_png):
    out = tmp_path / "outdir"
    code, _, err = run_cli(capsys, "image", rgb_jpeg, grey_png, "-o", out, "--style", "mosaic")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["grey.png", "photo.jpg"]
