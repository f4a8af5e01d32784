"""``rtstyle depth``: relative depth of an image, as a colour map or a 16-bit PNG."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..sizes import DEPTH_NET_SIZE


def register(sub) -> None:
    p = sub.add_parser("depth", help="estimate relative depth of an image (colour map or 16-bit PNG)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT.png")
    p.add_argument("--raw", action="store_true",
                   help="write a 16-bit greyscale PNG of normalised depth (0 = nearest, 65535 = farthest)")
    p.add_argument("--size", type=int, default=DEPTH_NET_SIZE,
                   help="short side a depth net (--model rt|full) runs at (rounded to a multiple of 16)")
    p.add_argument("--model", dest="variant", choices=["cues", "rt", "full"], default="cues",
                   help="cues: the row prior with validated image cues, no net (on real photos within a point "
                        "of the trained net at a thirtieth of its cost, docs/depth.md); rt | full: a trained depth net")
    p.add_argument("--backend", default="auto", help="auto | tensorrt | torch-cuda | onnxruntime | torch")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(a) -> int:
    import time

    import cv2
    import numpy as np
    import torch

    from ..files import atomic_write, check_input, check_output
    from ..io.images import read_image
    from ..ops import colorize, normalize_depth, to_tensor
    from ..pipeline.depth import depth_source
    check_input(a.input)
    if a.output.suffix.lower() != ".png":
        raise UserError(f"output {a.output} must end in .png (colour map, or 16-bit with --raw)")
    check_output(a.output, a.overwrite, [a.input])
    rgb, _ = read_image(a.input)
    net = depth_source(a.variant, a.backend, a.size)
    try:
        x = to_tensor(rgb)
        t0 = time.perf_counter()
        with torch.inference_mode():
            d = net(x.to(net.device)).float().cpu()
        ms = 1000 * (time.perf_counter() - t0)
    finally:
        net.close()
    if a.raw:
        img = (normalize_depth(d)[0, 0].numpy() * 65535 + 0.5).astype(np.uint16)
    else:
        img = cv2.cvtColor(colorize(d[0, 0].numpy()), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise UserError(f"could not encode {a.output}", exit_code=1)
    atomic_write(a.output, lambda tmp: Path(tmp).write_bytes(buf.tobytes()))
    if a.variant == "cues":
        how = "row prior + image cues (rtstyle.depth_cues)"
    else:
        ph, pw = net.proc_size(*rgb.shape[:2])
        how = f"depth net {net.path.name} at {pw}x{ph} on {net.spec.name}"
    print(f"{a.input} -> {a.output} ({rgb.shape[1]}x{rgb.shape[0]}, {how}, {ms:.0f} ms)")
    return 0
