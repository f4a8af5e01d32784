"""``rtstyle bench``: its flags, and the run that prints and saves the table."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..bench.measure import run_bench
from ..bench.render import render_markdown, render_text, write_output
from ..bench.specs import (DEFAULT_MODELS, DEFAULT_SIZES, MODELS, SAMPLE_CLIP, openvino_precisions, parse_sizes,
                            split_list)
from ..bench.timing import Report
from ..errors import UserError


def register(sub) -> None:
    p = sub.add_parser("bench", help="latency table: model × backend × precision at several sizes",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Time each model on each backend at each square frame size (batch 1): "
                                   "p50/p95 ms and fps, with the device and library versions.")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated: {', '.join(MODELS)}; 'none' for only the Gatys row")
    p.add_argument("--backends", default=None,
                   help="comma-separated: tensorrt, torch-cuda, openvino, onnxruntime, torch "
                        "(default: all available here)")
    p.add_argument("--precisions", default=None,
                   help="openvino rows: comma-separated bf16, f32, int8 (default f32, and bf16 where the CPU has "
                        "bf16 units; int8 calibrates once per net, then is cached)")
    p.add_argument("--sizes", default=None,
                   help="square frame sizes, comma-separated (default 256,512,1024; on CPU the slowest "
                        "cells are skipped unless --sizes is given)")
    p.add_argument("--iters", type=int, default=None,
                   help="at least this many timed iterations per cell (default 10 on CPU, 50 on CUDA; a slow "
                        "cell stops after its time budget)")
    p.add_argument("--min-time", type=float, default=None,
                   help="at least this many timed seconds per cell (default 1)")
    p.add_argument("--frame-limit", type=float, default=None,
                   help="skip a size whose frame time, predicted from the row's smaller size, exceeds this "
                        "many seconds (default: 2.5 on CPU when --sizes is not given, else never; 0 = never)")
    p.add_argument("--gatys-iters", type=int, default=0,
                   help="add a Gatys row timed over this many iterations per size (0 = none; 500 = Liu & Shuai "
                        "2019, Table 1, smaller values extrapolate the 500-iteration time)")
    p.add_argument("--pipeline", nargs="?", const=str(SAMPLE_CLIP), default=None, metavar="VIDEO",
                   help=f"also measure end-to-end decode → stylize → encode throughput on VIDEO "
                        f"(default {SAMPLE_CLIP}, in the rtstyle checkout), with the first model and backend")
    p.add_argument("--pipeline-size", default=None, help="processing size for --pipeline (512, 720p, WxH)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch and onnxruntime (default: torch's default; onnxruntime: all cores)")
    p.add_argument("--random-init", action="store_true",
                   help="time the default architectures even where trained weights are shipped")
    p.add_argument("--compile", action="store_true", help="add a torch.compile row for torch-cuda (slow to build)")
    p.add_argument("--cache-dir", type=Path, default=None, help="ONNX/engine cache (default: rtstyle's cache)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON ('-' = stdout)")
    p.add_argument("--markdown", default=None, metavar="PATH", help="also write a markdown table ('-' = stdout)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress lines")
    p.set_defaults(func=run)


def run(a) -> int:
    import torch

    from ..sizes import parse_size
    models = [] if a.models.strip().lower() == "none" else split_list(a.models)
    if not models and not a.gatys_iters:
        raise UserError("--models none needs --gatys-iters (otherwise there is nothing to time)")
    sizes = parse_sizes(a.sizes) if a.sizes else list(DEFAULT_SIZES)
    if a.iters is not None and a.iters < 1:
        raise UserError(f"--iters {a.iters} must be at least 1")
    if a.min_time is not None and a.min_time < 0:
        raise UserError(f"--min-time {a.min_time} is negative; use 0 to stop at --iters")
    frame_limit = a.frame_limit
    if frame_limit is None and a.sizes is None and not torch.cuda.is_available():
        frame_limit = 2.5
    to_stdout = "-" in (a.json, a.markdown)
    log = (lambda msg: None) if a.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    command = _command(a)

    def save(report: Report) -> None:   # after every row: a run cut short keeps what it measured
        report.settings["command"] = command
        if a.json and a.json != "-":
            write_output(a.json, json.dumps(report.to_dict(), indent=2) + "\n")
        if a.markdown and a.markdown != "-":
            write_output(a.markdown, render_markdown(report))

    report = run_bench(models, split_list(a.backends) or None, sizes, a.iters, a.gatys_iters,
                       a.pipeline, parse_size(a.pipeline_size), frame_limit or None, a.random_init,
                       a.compile, a.cache_dir, min_time=a.min_time, threads=a.threads, on_row=save, log=log,
                       precisions=openvino_precisions(a.precisions) if a.precisions else None)
    report.settings["command"] = command
    if not to_stdout:
        sys.stdout.write(render_text(report))
    if a.json == "-":
        write_output("-", json.dumps(report.to_dict(), indent=2) + "\n")
    if a.markdown == "-":
        write_output("-", render_markdown(report))
    return 0


def _command(a) -> str:
    """The bench command line these arguments stand for (options left at their defaults omitted)."""
    parts = ["rtstyle", "bench"]
    defaults = {"models": ",".join(DEFAULT_MODELS), "gatys_iters": 0}
    for key in ("models", "backends", "sizes", "iters", "min_time", "frame_limit", "gatys_iters",
                "pipeline", "pipeline_size", "threads", "precisions", "random_init", "compile"):
        value = getattr(a, key)
        if value is None or value is False or defaults.get(key) == value:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True or (key == "pipeline" and value == str(SAMPLE_CLIP)):
            parts.append(flag)
        else:
            parts += [flag, str(value)]
    return " ".join(parts)
