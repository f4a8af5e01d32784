"""What a wider or deeper lite net costs to run: the shipped lite net of a style, grown (rtstyle.train.grow,
the same function) to each width × residual blocks, through rtstyle's CPU backends, timed round robin
so that load from other processes hits every cell alike (docs/training.md, "A wider lite net").

  python scripts/lite_size_bench.py --style starry_night --nets 16x4,24x4,32x4,16x8
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rtstyle import backends
from rtstyle.models.lite import LiteNet
from rtstyle.train import common

ROOT = Path(__file__).resolve().parent.parent
SIZES = ((256, 256), (512, 512), (480, 640))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--style", default="starry_night")
    ap.add_argument("--nets", default="16x4,24x4,32x4", help="WIDTHxBLOCKS, comma-separated")
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    weights = ROOT / "rtstyle" / "weights" / f"lite-{a.style}.safetensors"
    cache = tempfile.mkdtemp(prefix="rtstyle-widths-")
    made = {}
    for w, r in (map(int, v.split("x")) for v in a.nets.split(",")):
        net = LiteNet(1, width=w, n_res=r).eval()
        common.init_from_weights(net, str(weights))
        meta = {"config": net.config}
        made[f"{w}x{r} onnxruntime fp32"] = backends.create(backends.spec_named("onnxruntime"), net, "lite", meta, cache)
        for p in ("f32", "bf16"):
            if backends.available(backends.spec_named("openvino")):
                try:
                    made[f"{w}x{r} openvino {p}"] = backends.create(backends.spec_named("openvino"), net, "lite", meta,
                                                                 cache, precision=p)
                except Exception as exc:   # bf16 on a CPU without bf16 units
                    print(f"{w}x{r} openvino {p}: {exc}")
    style = torch.ones(1, 1)
    for h, w in SIZES:
        x = torch.rand(1, 3, h, w)
        ts = {k: [] for k in made}
        with torch.inference_mode():
            for b in made.values():
                b(x, style=style)
            for _ in range(a.rounds):
                for k, b in made.items():
                    t = time.perf_counter()
                    b(x, style=style)
                    ts[k].append(time.perf_counter() - t)
        print(f"{w}x{h} ms: " + ", ".join(f"{k} {1000 * statistics.median(v):.1f}" for k, v in ts.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
