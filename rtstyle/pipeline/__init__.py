"""Serving: the frame loop (loop), the image/video jobs (jobs), live camera runs (live), the
temporal stabiliser (temporal) and the Gatys optimisation baseline (gatys)."""
