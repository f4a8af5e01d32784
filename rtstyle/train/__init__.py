"""Training: transformer, adain, distill (lite) and depth trainers on common, loop, data, ema (weight averaging); depth_data; snapshot; rule (when a net may ship).

Needs the 'train' extra for plots and progress bars."""
