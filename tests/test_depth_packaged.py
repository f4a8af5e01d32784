"""The real depth test sets found in public packages (rtstyle.bench.depth.packaged) and the pinned
download they share with stereodemo (rtstyle.bench.depth.fetch), on small archives built here."""
from __future__ import annotations

import io
import tarfile

import cv2
import numpy as np
import pytest

from rtstyle.bench.depth import packaged as K
from rtstyle.bench.depth.fetch import Archive, pinned, sha256
from rtstyle.errors import UserError


def _tar(members: dict[str, bytes], mode="w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _deb(data_tar: bytes) -> bytes:
    """A minimal Debian package: an ar archive with debian-binary, control.tar.xz and data.tar.xz."""
    out = b"!<arch>\n"
    for name, body in ((b"debian-binary", b"2.0\n"), (b"control.tar.xz", b"x"), (b"data.tar.xz", data_tar)):
        out += name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"100644".ljust(8) \
            + str(len(body)).encode().ljust(10) + b"`\n" + body + (b"\n" if len(body) % 2 else b"")
    return out


def test_cones_reads_the_left_view_and_turns_disparity_into_depth(tmp_path):
    bgr = np.zeros((6, 8, 3), np.float32)
    bgr[..., 2] = 200.0                                    # red in OpenCV's BGR order
    disp = np.full((6, 8), 20.0, np.float32)
    disp[:, :4], disp[0, 0] = 40.0, 0.0                    # left half nearer; one unknown pixel
    files = {K._CONES_DIR + "left_rgb.tif": cv2.imencode(".tif", bgr)[1].tobytes(),
             K._CONES_DIR + "disp_left.tif": cv2.imencode(".tif", disp)[1].tobytes()}
    (tmp_path / "c.tar.gz").write_bytes(_tar(files))
    sc = K.cones_from(tmp_path / "c.tar.gz")
    assert sc.rgb.shape == (6, 8, 3) and sc.rgb.dtype == np.uint8
    assert tuple(sc.rgb[3, 3]) == (200, 0, 0)              # RGB now
    assert np.isnan(sc.depth[0, 0])
    np.testing.assert_allclose(sc.depth[1, 1], 1 / 40)
    np.testing.assert_allclose(sc.depth[1, 6], 1 / 20)


def _castel_files(shape=(6, 8), frames=(0,), depth_cam=(50.0, 50.0, 4.0, 3.0), color_cam=None, m=None):
    h, w = shape
    color_cam = color_cam or depth_cam
    xml = lambda c: ("<conf><camera><px>%s</px><py>%s</py><u0>%s</u0><v0>%s</v0></camera></conf>" % c).encode()  # noqa: E731
    files = {"chateau.xml": xml(color_cam), "chateau_depth.xml": xml(depth_cam),
             "depth_M_color.txt": "\n".join(" ".join(map(str, r)) for r in (np.eye(4) if m is None else m)).encode()}
    raw = np.full((h, w), 2000, np.uint16)
    raw[:, : w // 2] = 1000                                # the left half nearer
    raw[0, 0] = 0                                          # no measurement
    for i in frames:
        files[f"castel/image_{i:04d}.pgm"] = cv2.imencode(".pgm", np.full((h, w), 90, np.uint8))[1].tobytes()
        files[f"castel/depth_image_{i:04d}.bin"] = np.array([h, w], "<u4").tobytes() + raw.astype("<u2").tobytes()
    return {K._CASTEL_DIR + k: v for k, v in files.items()}


def test_castel_depth_with_the_identity_calibration_is_the_depth_image(tmp_path):
    (tmp_path / "v.deb").write_bytes(_deb(_tar(_castel_files(), "w:xz")))
    (sc,) = K.castel_from(tmp_path / "v.deb", frames=(0,))
    assert sc.name == "castel_0000" and sc.rgb.shape == (6, 8, 3) and (sc.rgb == 90).all()
    assert np.isnan(sc.depth[0, 0]) and np.isfinite(sc.depth).sum() == 6 * 8 - 1   # only the unmeasured pixel
    np.testing.assert_allclose(sc.depth[2, 1], 1000 * K.DEPTH_UNIT_M, rtol=1e-6)
    np.testing.assert_allclose(sc.depth[2, 6], 2000 * K.DEPTH_UNIT_M, rtol=1e-6)


def test_castel_reprojection_shifts_by_the_baseline_and_keeps_the_nearest_surface():
    depth = np.zeros((10, 40), np.float32)
    depth[:, 10] = 1.0                                     # a thin near column at 1 m ...
    depth[:, 30] = 2.0                                     # ... and a far one at 2 m
    cam = (100.0, 100.0, 20.0, 5.0)
    m = np.eye(4)
    m[0, 3] = 0.05                                         # depth_M_color: the colour camera 5 cm right of the depth camera
    out = K.castel_depth(depth, cam, cam, m, depth.shape)
    cols = {float(v): sorted(set(np.nonzero(np.isclose(out, v))[1])) for v in (1.0, 2.0)}
    assert cols[1.0][0] == 10 - 5 and cols[2.0][0] == 30 - 3   # disparity = f·b/z: 5 px at 1 m, 2.5 px at 2 m
    assert np.isnan(out[:, 0]).all()


def test_a_file_without_the_castel_frames_is_refused(tmp_path):
    (tmp_path / "v.deb").write_bytes(_deb(_tar({"./usr/share/doc/x": b"x"}, "w:xz")))
    with pytest.raises(ValueError, match="lacks"):
        K.castel_from(tmp_path / "v.deb", frames=(0,))
    (tmp_path / "n.deb").write_bytes(b"not an ar archive")
    with pytest.raises(ValueError, match="is not a Debian package"):
        K.castel_from(tmp_path / "n.deb", frames=(0,))


def test_pinned_archives_say_what_to_do(tmp_path):
    good = tmp_path / "src" / "data.bin"
    good.parent.mkdir()
    good.write_bytes(b"the data")
    a = Archive("the pinned test archive", "data.bin", sha256(good), ("cp", str(good), "{dir}"))
    with pytest.raises(UserError, match=r"data.bin is missing; download it with: cp .*data.bin .*cache"):
        pinned(a, tmp_path / "cache", download=False)
    assert pinned(a, tmp_path / "cache").read_bytes() == b"the data"        # fetched once ...
    (tmp_path / "cache" / "data.bin").write_bytes(b"tampered")
    with pytest.raises(UserError, match="is not the pinned test archive .sha256 differs.; delete it"):
        pinned(a, tmp_path / "cache")                                          # ... and checked every time
    fails = Archive("the pinned test archive", "other.bin", "0" * 64, ("false",))
    with pytest.raises(UserError, match=r"cannot download the pinned test archive .*put other.bin in"):
        pinned(fails, tmp_path / "cache")
    absent = Archive("the pinned test archive", "x.bin", "0" * 64, ("no-such-tool-here", "download"))
    with pytest.raises(UserError, match=r"no-such-tool-here not found"):
        pinned(absent, tmp_path / "cache")
    offline = Archive("the pinned test archive", "y.bin", "0" * 64, url="http://127.0.0.1:9/y.bin")
    with pytest.raises(UserError, match="cannot download"):
        pinned(offline, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.part"))                     # no half-written file left
