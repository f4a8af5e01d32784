"""Depth quality: ordinal accuracy (metrics), our human-judged pairs (heldout), and the real test sets fetched from public packages (stereodemo, packaged; pinned downloads in fetch)."""
