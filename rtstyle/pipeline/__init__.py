"""Serving: the Stylizer (stylizer), the CPU and CUDA frame processors and the one frame loop
(processors, on loop's threaded stages), image/video jobs (jobs), live camera runs (live), the
temporal stabiliser (temporal), depth-aware blending (depth) and the Gatys baseline (gatys)."""
