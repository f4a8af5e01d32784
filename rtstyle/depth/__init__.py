"""Depth data: synthetic scenes with exact depth (synth), ordinal point pairs (pairs), their
accuracy (metrics) and the human-judged test set kept out of training (heldout). The depth net is
rtstyle.models.depth, its training rtstyle.train.depth, depth-aware stylization
rtstyle.pipeline.depth and the command rtstyle.cli.depth."""
