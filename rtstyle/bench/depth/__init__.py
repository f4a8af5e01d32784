"""Depth quality: ordinal accuracy on point pairs (metrics) and the human-judged test set kept out
of training (heldout, diw_pairs.json); scripts/eval_depth.py scores a depth net with them."""
