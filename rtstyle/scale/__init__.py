"""Scale out: stylize videos on a Ray cluster, split into segments at keyframes (``rtstyle batch``).

``plan`` cuts videos (demux only), ``worker`` runs on Ray workers, ``join`` remuxes the segments
with the source's audio, ``driver`` ties them together. Ray is imported only when a batch runs.
"""
