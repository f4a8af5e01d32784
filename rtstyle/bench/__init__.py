"""Latency tables: model × backend × precision rows, frame sizes as columns (``rtstyle bench``).

What one cell measures: one call of a loaded :class:`rtstyle.backends.Backend` on a (1, 3, S, S)
float RGB frame already on the backend's device, i.e. the network as the stylizer runs it (input
cast, padding, output back to float32), not decode or encode. Each cell warms up first (lazy
inits, cuDNN autotuning, CUDA graph capture, compilation), then times iterations one at a time:
on a CUDA device between two CUDA events with the device synchronised before and after each
iteration, on the CPU with ``time.perf_counter``. Iterations continue until at least
``iters`` have run *and* ``min_time`` seconds have passed; a cell that is slow stops after its
``budget`` once ``min_samples`` are in (the table records how many ran). p50 is the median, p95
the 95th percentile (linear interpolation), fps = 1000 / p50.

Latency does not depend on weight values: a family without shipped weights is timed at its
default architecture with random weights, and every row names the architecture it timed.

End-to-end throughput (decode → stylize → encode through :func:`rtstyle.pipeline.loop.run`) is
measured apart, with ``--pipeline``. The Gatys baseline is timed per optimisation iteration
(``--gatys-iters``) and its 500-iteration time is either measured or extrapolated, and says which.

Modules: ``timing`` (policy, sampling, report dataclasses), ``machine`` (device and library
versions), ``specs`` (what to time), ``measure`` (running it), ``render`` (text, markdown);
the subcommand is rtstyle.cli.bench. Every name they export is importable from here (``bench.run_bench``).
"""
from __future__ import annotations

from .machine import environment, environment_lines, module_version, nvidia_driver
from .measure import run_bench, time_gatys, time_model, time_pipeline
from .render import gatys_lines, pipeline_lines, render_markdown, render_text, table, write_output
from .specs import (DEFAULT_MODELS, DEFAULT_SIZES, GATYS_CONTENT, GATYS_REFERENCE_ITERS, GATYS_STYLE, MODELS,
                    SAMPLE_CLIP, ModelSpec, Variant, backend_variants, default_backends, extra_inputs, model_specs,
                    parse_sizes, shipped, split_list)
from .timing import Cell, Policy, Report, Row, percentile, sample, timer

__all__ = [
    "environment", "environment_lines", "module_version", "nvidia_driver",
    "run_bench", "time_gatys", "time_model", "time_pipeline",
    "gatys_lines", "pipeline_lines", "render_markdown", "render_text", "table", "write_output",
    "DEFAULT_MODELS", "DEFAULT_SIZES", "GATYS_CONTENT", "GATYS_REFERENCE_ITERS", "GATYS_STYLE", "MODELS",
    "SAMPLE_CLIP", "ModelSpec", "Variant", "backend_variants", "default_backends", "extra_inputs", "model_specs",
    "parse_sizes", "shipped", "split_list",
    "Cell", "Policy", "Report", "Row", "percentile", "sample", "timer",
]
