"""Image and video IO: round trips, upright frames, audio passthrough, errors, atomic outputs."""

import struct
import warnings
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from conftest import TINY_FRAMES, TINY_H, TINY_W, make_video, tiny_frame

from rtstyle.errors import UserError
from rtstyle.io.images import read_image, write_image
from rtstyle.io.video import VideoReader, probe
from rtstyle.io.video_writer import VideoWriter


def streams(path):
    """{type: (codec name, duration in seconds, frames)} of a media file."""
    with av.open(str(path)) as c:
        return {s.type: (s.codec_context.name, float(s.duration * s.time_base), s.frames)
                for s in c.streams}


# -- images ------------------------------------------------------------------------------------

def test_jpeg_reads_as_rgb(rgb_jpeg):
    rgb, alpha = read_image(rgb_jpeg)
    assert rgb.shape == (TINY_H, TINY_W, 3) and rgb.dtype == np.uint8 and alpha is None
    assert np.abs(rgb.astype(int) - tiny_frame(3)).mean() < 3  # RGB, not BGR


def test_png_alpha_survives_read_and_write(rgba_png, tmp_path):
    rgb, alpha = read_image(rgba_png)
    assert np.array_equal(rgb, tiny_frame(5))
    assert np.array_equal(alpha, np.tile(np.arange(TINY_W, dtype=np.uint8) * 4, (TINY_H, 1)))
    write_image(tmp_path / "copy.png", rgb, alpha)
    rgb2, alpha2 = read_image(tmp_path / "copy.png")
    assert np.array_equal(rgb2, rgb) and np.array_equal(alpha2, alpha)


def test_grey_png_becomes_three_equal_channels(grey_png):
    rgb, alpha = read_image(grey_png)
    ramp = np.tile(np.arange(TINY_W, dtype=np.uint8) * 3, (TINY_H, 1))
    assert rgb.shape == (TINY_H, TINY_W, 3) and alpha is None
    assert all(np.array_equal(rgb[..., c], ramp) for c in range(3))


def test_16bit_png_scales_with_rounding(png16):
    rgb, _ = read_image(png16)
    assert rgb.dtype == np.uint8
    assert (rgb[:, 0] == 255).all() and (rgb[:, 1] == 7).all() and (rgb[:, 2] == 4).all()
    assert (rgb[:, 3] == [0, 0, 1]).all()


@pytest.mark.parametrize("ext,tol,keeps_alpha", [(".jpg", 4, False), (".webp", 4, True),
                                                 (".bmp", 0, False), (".tif", 0, True)])
def test_write_read_round_trip(tmp_path, ext, tol, keeps_alpha):
    rgb = tiny_frame(7)
    alpha = np.full(rgb.shape[:2], 200, np.uint8)
    write_image(tmp_path / f"out{ext}", rgb, alpha)
    back, back_alpha = read_image(tmp_path / f"out{ext}")
    assert back.shape == rgb.shape and np.abs(back.astype(int) - rgb).mean() <= tol
    assert (back_alpha is not None) == keeps_alpha
    assert [p.name for p in tmp_path.iterdir()] == [f"out{ext}"]  # no temp file left


def test_one_pixel_and_non_ascii_path(tmp_path):
    path = tmp_path / "überschrift ünï.png"
    write_image(path, np.array([[[1, 2, 3]]], np.uint8))
    rgb, alpha = read_image(path)
    assert rgb.tolist() == [[[1, 2, 3]]] and alpha is None


def test_jpeg_exif_orientation_is_applied(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :10] = (255, 0, 0)  # red left band
    jpg = cv2.imencode(".jpg", img[..., ::-1].copy())[1].tobytes()
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">HHHIHH", 1, 0x0112, 3, 1, 6, 0) + b"\0" * 4
    app1 = b"\xff\xe1" + struct.pack(">H", 8 + len(tiff)) + b"Exif\x00\x00" + tiff
    (tmp_path / "rot.jpg").write_bytes(jpg[:2] + app1 + jpg[2:])
    rgb, _ = read_image(tmp_path / "rot.jpg")
    assert rgb.shape == (40, 20, 3)  # orientation 6 = turn 90 degrees clockwise
    assert rgb[0, :, 0].min() > 200 and rgb[-1, :, 0].max() < 50  # red band now on top


def test_cmyk_jpeg(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    pil.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # pure red ink
    rgb, _ = read_image(tmp_path / "cmyk.jpg")
    assert rgb.shape == (6, 8, 3)
    r, g, b = rgb.reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("case", ["missing", "folder", "empty", "garbage"])
def test_read_image_errors_name_the_file(tmp_path, case):
    path = tmp_path / "x.png"
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.touch()
    elif case == "garbage":
        path.write_bytes(b"not a png at all")
    with pytest.raises(UserError, match=r"cannot read '.*x\.png'") as e:
        read_image(path)
    assert "\n" not in str(e.value) and e.value.exit_code == 2


def test_write_image_errors(tmp_path):
    rgb = tiny_frame(0)
    with pytest.raises(UserError, match=r"unknown image extension '\.gif'.*\.png"):
        write_image(tmp_path / "x.gif", rgb)
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(UserError, match="cannot write"):
        write_image(tmp_path / "file" / "x.png", rgb)


# -- video: probe and read ----------------------------------------------------------------------

def test_probe_and_read_agree(tiny_video):
    info = probe(tiny_video)
    assert (info.width, info.height, info.fps, info.frame_count) == (TINY_W, TINY_H, 12, TINY_FRAMES)
    assert info.has_audio and info.audio_codec == "aac" and info.rotation == 0
    assert info.duration == pytest.approx(1.0, abs=0.05)
    with VideoReader(tiny_video) as reader:
        frames = list(reader)
    assert len(frames) == info.frame_count
    rgb, pts = frames[0]
    assert rgb.shape == (TINY_H, TINY_W, 3) and rgb.dtype == np.uint8 and pts == 0.0
    assert np.abs(rgb.astype(int) - tiny_frame(0)).mean() < 4
    assert np.diff([p for _, p in frames]) == pytest.approx(1 / info.fps)
    assert reader.frames_read == TINY_FRAMES


def test_rotated_video_comes_out_upright(rotated_video):
    info = probe(rotated_video)
    assert info.rotation == 90 and (info.width, info.height) == (TINY_H, TINY_W)
    rgb, _ = next(iter(VideoReader(rotated_video)))
    assert rgb.shape == (TINY_W, TINY_H, 3)
    # Stored card has green top-left; a 90 degree counter-clockwise turn puts it bottom-left.
    assert rgb[-1, 0, 1] > 200 and rgb[0, 0, 1] < 50


@pytest.mark.parametrize("case", ["missing", "folder", "empty", "text", "audio_only"])
def test_video_errors_name_the_file(tmp_path, audio_only, case):
    path = tmp_path / "clip.mp4"
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.touch()
    elif case == "text":
        path.write_text("this is a text file with a video extension\n")
    elif case == "audio_only":
        path = audio_only
    with pytest.raises(UserError, match=f"cannot read '.*{path.name}'") as e:
        probe(path)
    assert "\n" not in str(e.value)
    if case == "audio_only":
        assert "no video stream" in str(e.value)
    with pytest.raises(UserError):
        VideoReader(path).start()


def test_truncated_mp4_stops_cleanly(tmp_path):
    src = make_video(tmp_path / "full.mp4", audio=False, frames=24)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: int(src.stat().st_size * 0.6)])
    with pytest.warns(RuntimeWarning, match="truncated"):
        n = sum(1 for _ in VideoReader(cut))
    assert 0 < n < 24
    # Without faststart the index (moov) is at the end: the header is gone, so refuse up front.
    late = make_video(tmp_path / "late.mp4", audio=False, frames=24, faststart=False)
    cut.write_bytes(late.read_bytes()[: int(late.stat().st_size * 0.6)])
    with pytest.raises(UserError, match="truncated"):
        VideoReader(cut).start()


# -- video: write -------------------------------------------------------------------------------

def test_writer_copies_frames_rate_and_audio(tiny_video, tmp_path):
    info, out = probe(tiny_video), tmp_path / "styled.mp4"
    with VideoReader(tiny_video) as reader, \
            VideoWriter(out, info.fps, (info.width, info.height), audio_from=tiny_video) as writer:
        for rgb, pts in reader:
            writer.write(rgb, pts)
    got = probe(out)
    assert (got.frame_count, got.fps, got.codec) == (info.frame_count, info.fps, "h264")
    assert got.has_audio and got.audio_codec == "aac"
    assert streams(out)["audio"][1] == pytest.approx(streams(tiny_video)["audio"][1], abs=0.1)
    first, _ = next(iter(VideoReader(out)))
    assert np.abs(first.astype(int) - tiny_frame(0)).mean() < 4  # colours survive (BT.709 tags)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["styled.mp4", "tiny.mp4"]


def test_writer_cuts_audio_at_audio_until(tiny_video, tmp_path):
    out = tmp_path / "half.mp4"
    with VideoWriter(out, Fraction(12), (TINY_W, TINY_H), audio_from=tiny_video, audio_until=0.5) as w:
        for i in range(6):
            w.write(tiny_frame(i))
    assert streams(out)["audio"][1] == pytest.approx(0.5, abs=0.05)
    assert streams(out)["video"][2] == 6


def test_writer_pads_odd_sizes_and_reencodes_other_audio(tmp_path):
    wav = tmp_path / "tone.wav"
    with av.open(str(wav), "w") as c:  # PCM in WAV: mp4 cannot hold it, so it becomes AAC
        s = c.add_stream("pcm_s16le", rate=22050)
        s.layout = "mono"
        f = av.AudioFrame.from_ndarray(np.zeros((1, 22050), np.int16), format="s16", layout="mono")
        f.sample_rate, f.pts = 22050, 0
        c.mux(s.encode(f))
        c.mux(s.encode(None))
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, Fraction(12), (63, 47), audio_from=wav) as writer:
        assert writer.encoded_size == (64, 48)
        for i in range(12):
            writer.write(tiny_frame(i, 63, 47))
    got = probe(out)
    assert (got.width, got.height, got.frame_count, got.audio_codec) == (64, 48, 12, "aac")
    assert streams(out)["audio"][1] == pytest.approx(1.0, abs=0.1)


def test_writer_without_audio_and_with_audioless_source(tiny_video_noaudio, tmp_path):
    for audio_from in (None, tiny_video_noaudio):
        out = tmp_path / "silent.mp4"
        with VideoWriter(out, Fraction(30000, 1001), (32, 16), audio_from=audio_from) as writer:
            for i in range(5):
                writer.write(tiny_frame(i, 32, 16))
        got = probe(out)
        assert not got.has_audio and got.fps == Fraction(30000, 1001) and got.frame_count == 5


def test_writer_leaves_nothing_on_error(tiny_video, tmp_path):
    out = tmp_path / "out" / "broken.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(out, Fraction(12), (TINY_W, TINY_H), audio_from=tiny_video) as writer:
            writer.write(tiny_frame(0))
            raise KeyboardInterrupt
    assert list(out.parent.iterdir()) == []
    writer = VideoWriter(out, Fraction(12), (TINY_W, TINY_H)).start()
    writer.write(tiny_frame(0))
    writer.abort()
    assert list(out.parent.iterdir()) == []
    with pytest.raises(UserError, match="no frames"):
        with VideoWriter(out, Fraction(12), (TINY_W, TINY_H)):
            pass
    assert list(out.parent.iterdir()) == []


def test_writer_user_errors_and_encoder_fallback(tmp_path):
    with pytest.raises(UserError, match=r"unknown video extension '\.avi'.*\.mp4"):
        VideoWriter(tmp_path / "x.avi", Fraction(12), (8, 8)).start()
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot write"):
        VideoWriter(tmp_path / "file" / "x.mp4", Fraction(12), (8, 8)).start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback warns where no NVIDIA encoder opens
        with VideoWriter(tmp_path / "nv.mp4", Fraction(12), (16, 16), codec="h264_nvenc") as w:
            w.write(tiny_frame(0, 16, 16))
    assert probe(tmp_path / "nv.mp4").codec == "h264"
