"""Depth quality: ordinal accuracy (metrics) and the held-out human-judged pairs in diw_pairs.json (heldout)."""
