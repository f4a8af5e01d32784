"""The --precision values of the CPU backends, torch-free so argparse stays cheap; the policy
behind them is rtstyle.backends.cpu_features.choose_precision."""

PRECISIONS = ("auto", "bf16", "f32", "int8")
