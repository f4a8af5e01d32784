"""Rebuild the files in samples/ from the rtstyle data folder (see samples/README.md).

    python samples/make_samples.py /work/shared/data

Needs only PyAV, OpenCV and NumPy. Deterministic for a given PyAV/FFmpeg build.
"""

import sys
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
CLIP_START, CLIP_LEN = 15.0, 4.0  # seconds into big_buck_bunny_20s.mp4 (butterfly scene)
OUT_W, OUT_H = 432, 240  # 1280x720 -> 432x243 (same aspect), crop 1 row top, 2 bottom
PHOTOS = {  # source file in content/ -> sample name
    "matplotlib_grace_hopper.jpg": "portrait_grace_hopper.jpg",
    "gcompris_red_panda.jpg": "animal_red_panda.jpg",
    "lomiri_picosdeeuropa.jpg": "landscape_picos_de_europa.jpg",
}
# A photo no net trained on (the three above are training photos too): a frame of real camera
# footage, picked by time before any net was scored on it.
STREET_AT, STREET_NAME = 10.0, "street_pedestrians.jpg"   # seconds into pedestrians_street_20s.mp4


def make_clip(src: Path, dst: Path) -> None:
    t0, t1 = CLIP_START, CLIP_START + CLIP_LEN
    inp = av.open(str(src))
    vin, ain = inp.streams.video[0], inp.streams.audio[0]
    fps, rate = vin.average_rate, ain.codec_context.sample_rate

    frames = []
    for f in inp.decode(vin):
        if t0 - 1e-6 <= f.time < t1 - 1e-6:
            rgb = cv2.resize(f.to_ndarray(format="rgb24"), (OUT_W, 243), interpolation=cv2.INTER_AREA)
            frames.append(rgb[1:241])
    inp.seek(0)
    pcm = []
    for f in inp.decode(ain):
        a = f.to_ndarray()  # (channels, samples) float32 planar
        first = round(f.time * rate)
        lo, hi = max(0, round(t0 * rate) - first), min(f.samples, round(t1 * rate) - first)
        if hi > lo:
            pcm.append(a[:, lo:hi])
    inp.close()
    pcm = np.ascontiguousarray(np.concatenate(pcm, axis=1), dtype=np.float32)

    out = av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"})
    vs = out.add_stream("libx264", rate=fps)
    vs.width, vs.height, vs.pix_fmt = OUT_W, OUT_H, "yuv420p"
    vs.options = {"crf": "23", "preset": "slow"}
    vs.codec_context.colorspace = vs.codec_context.color_primaries = 1  # BT.709
    vs.codec_context.color_trc, vs.codec_context.color_range = 1, 1
    aus = out.add_stream("aac", rate=rate)
    aus.layout, aus.bit_rate = "stereo", 96_000
    for i, rgb in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        vf = vf.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        vf.pts = i
        out.mux(vs.encode(vf))
    out.mux(vs.encode(None))
    for s in range(0, pcm.shape[1], 1024):
        af = av.AudioFrame.from_ndarray(pcm[:, s:s + 1024], format="fltp", layout="stereo")
        af.sample_rate, af.pts = rate, s
        out.mux(aus.encode(af))
    out.mux(aus.encode(None))
    out.close()


def make_photo(src: Path, dst: Path) -> None:
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    s = 512 / max(img.shape[:2])
    img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def make_frame(src: Path, t: float, dst: Path) -> None:
    """The first frame at or after ``t`` s, resized to 512 px on the long side, JPEG q90."""
    inp = av.open(str(src))
    rgb = next(f.to_ndarray(format="rgb24") for f in inp.decode(inp.streams.video[0]) if f.time >= t - 1e-6)
    inp.close()
    s = 512 / max(rgb.shape[:2])
    rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(dst), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])


def main(data: Path) -> None:
    make_clip(data / "video" / "big_buck_bunny_20s.mp4", HERE / "bunny_4s.mp4")
    for src, name in PHOTOS.items():
        make_photo(data / "content" / src, HERE / name)
    make_frame(data / "video" / "pedestrians_street_20s.mp4", STREET_AT, HERE / STREET_NAME)
    for p in sorted(HERE.iterdir()):
        if p.suffix in (".mp4", ".jpg"):
            print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
