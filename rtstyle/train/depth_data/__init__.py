"""Depth training data: synthetic scenes with exact depth (synth), ordinal point pairs from depth and cues (pairs)."""
