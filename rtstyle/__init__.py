"""rtstyle: real-time video style transfer."""

__version__ = "0.1.0"
