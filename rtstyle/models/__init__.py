"""Networks: plain nn.Modules, no IO. :data:`NETS` builds each family's net from its manifest config."""
from .adain import AdaINDecoder
from .depth import build_depth_net
from .lite import LiteNet
from .transformer import CompactNet, JohnsonNet, MultiStyleNet

# family (rtstyle.families) -> the constructor its manifest's ``config`` goes to
NETS = {"johnson": JohnsonNet, "compact": CompactNet, "multi": MultiStyleNet, "lite": LiteNet,
        "adain": AdaINDecoder, "depth": build_depth_net}
