"""Serving: stylizer, processors (the one frame loop, CPU and CUDA), loop, jobs, live, temporal, depth, gatys."""
