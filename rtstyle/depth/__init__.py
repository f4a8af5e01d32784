"""Relative depth: synthetic scenes (synth), ordinal pairs (pairs), accuracy (metrics), inference and
depth-aware stylization (apply), command-line parts (cli). Training lives in rtstyle.train.depth."""
