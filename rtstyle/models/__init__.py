"""Networks: plain nn.Modules, no IO."""
from .transformer import CompactNet, JohnsonNet, MultiStyleNet

__all__ = ["CompactNet", "JohnsonNet", "MultiStyleNet"]
