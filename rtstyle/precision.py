"""The --precision flag (CPU backends), torch-free so argparse stays cheap; the policy behind it
is rtstyle.backends.cpu_features.choose_precision."""
from __future__ import annotations

import argparse

PRECISIONS = ("auto", "bf16", "f32", "int8")


def add_precision_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="CPU precision (openvino): auto = bf16 where the CPU has bf16 units (AMX, AVX512-BF16), "
                        "else f32; int8 = NNCF-quantized (calibrated once, cached; changes the look a little)")
