"""Serving: the Stylizer (stylizer), the CPU and CUDA frame processors and the one frame loop
(processors, on loop's threaded stages), the image, video and export jobs (jobs), live camera
runs (live), the temporal stabiliser (temporal), depth-aware blending (depth) and Gatys (gatys)."""
