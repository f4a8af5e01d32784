"""Measurement: latency tables (timing, specs, measure, render, machine), style scores (quality), depth (depth).

The latency table (``rtstyle bench``): model × backend × precision rows, frame sizes as columns.

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
versions), ``specs`` (what to time), ``measure`` (running it), ``render`` (text, markdown), the
subcommand rtstyle.cli.bench; ``quality`` (perceptual losses against Gatys, rtstyle.cli.evaluate);
``depth`` (ordinal accuracy and the held-out human-judged pairs, scripts/eval_depth.py).
"""
