"""Frame sizes: ``--size`` text, the processing size of a frame, the size a net paints at
(``--style-scale``), a camera's capture size."""
from __future__ import annotations

import re

from .errors import UserError

# Short side a depth net runs at by default: on a 320x240 frame 160x112, about 30 ms on 2 CPU cores
# through OpenVINO, where 192 px takes about 4x that; the validation pairs rank equally at 112 and 192
# (docs/depth.md, "Net input size").
DEPTH_NET_SIZE = 112

_SIZE_NAMES = {"240p": 240, "360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080, "1440p": 1440,
               "2160p": 2160, "4k": 2160}


def parse_size(text: str | None) -> tuple[int, int] | int | None:
    """'512' -> 512 (short side), '720p' -> 720, '640x480' -> (640, 480) (W, H); None passes through."""
    if text is None:
        return None
    t = text.strip().lower()
    if t in _SIZE_NAMES:
        return _SIZE_NAMES[t]
    if re.fullmatch(r"\d+", t) and int(t) > 0:
        return int(t)
    m = re.fullmatch(r"(\d+)x(\d+)", t)
    if m and int(m[1]) > 0 and int(m[2]) > 0:
        return int(m[1]), int(m[2])
    raise UserError(f"--size {text!r} is not a size; use a short side in pixels (512), a name (720p) or WxH (640x480)")


def target_size(w: int, h: int, size=None, scale: float | None = None) -> tuple[int, int]:
    """Processing size (W, H) for a w×h input: --size wins, else --scale, else unchanged.
    Both sides are kept even (video encoders need it) and at least 2."""
    if isinstance(size, tuple):
        tw, th = size
    elif isinstance(size, int):
        f = size / min(w, h)
        tw, th = w * f, h * f
    elif scale is not None:
        if not 0 < scale <= 8:
            raise UserError(f"--scale {scale} is outside (0, 8]; use e.g. 0.5 to halve the size")
        tw, th = w * scale, h * scale
    else:
        return w, h
    return max(2, int(round(tw / 2)) * 2), max(2, int(round(th / 2)) * 2)


def working_short(short: int, train_short: int | None, style_scale: float | None) -> int:
    """Short side the net paints at, for a frame of short side ``short``.

    A feed-forward net's strokes have a fixed size in pixels: the size they had in its training
    photos (short side ``train_short``, from the manifest). On a large frame they become tiny and
    the painting's look is lost, so by default (``style_scale`` None) the net paints at most at
    2·``train_short`` and the result is scaled up to the frame. ``style_scale`` S sets it: the net
    paints at 2·``train_short``/S (S = 2: strokes twice as large on the frame, S = 0.5: half as large).
    Without ``train_short`` (weights that don't record it) the frame's own size is used.
    """
    if style_scale is not None and not 0.1 <= style_scale <= 10:
        raise UserError(f"--style-scale {style_scale} is outside [0.1, 10]; 2 paints strokes twice as large, "
                        f"0.5 half as large")
    if not train_short:
        return short
    if style_scale is None:
        return min(short, 2 * train_short)
    return max(16, min(4096, int(round(2 * train_short / style_scale))))


def capture_size(text: str) -> tuple[int, int]:
    """A camera's (W, H) from --capture-size text: WxH as given, a short side (or 720p) as 16:9."""
    size = parse_size(text)
    if isinstance(size, tuple):
        return size
    return int(round(size * 16 / 9 / 2)) * 2, size  # a short side: 16:9 landscape, as webcams are
