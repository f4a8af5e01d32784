"""Depth training data: synthetic scenes with exact depth (synth) and ordinal point pairs from
dense depth, stereo, structure from motion and weak cues (pairs), for rtstyle.train.depth."""
