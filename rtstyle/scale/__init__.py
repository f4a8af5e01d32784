"""Scale out (``rtstyle batch``): videos cut at keyframes (plan), stylized on Ray (worker), joined (join, driver).

``plan`` cuts videos (demux only), ``worker`` runs on Ray workers, ``join`` remuxes the segments
with the source's audio, ``driver`` ties them together. Ray is imported only when a batch runs.
"""
