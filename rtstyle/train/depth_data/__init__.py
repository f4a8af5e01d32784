"""Depth training data: synthetic scenes with exact depth (synth), ordinal point pairs from motion and weak cues (pairs; pairs from measured depth are in rtstyle.bench.depth.truth)."""
