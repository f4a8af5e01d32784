"""Networks, plain nn.Modules: transformer (Johnson, compact, multi), lite, adain, depth, vgg; cost (MACs).

:data:`NETS` builds a family's net from its manifest config (AdaINNet given no encoder reads the VGG19 file)."""
from .adain import AdaINDecoder
from .depth import build_depth_net
from .lite import LiteNet
from .transformer import CompactNet, JohnsonNet, MultiStyleNet

# family (rtstyle.families) -> the constructor its manifest's ``config`` goes to
NETS = {"johnson": JohnsonNet, "compact": CompactNet, "multi": MultiStyleNet, "lite": LiteNet,
        "adain": AdaINDecoder, "depth": build_depth_net}
