"""ONNX export (with metadata, BatchNorm folding, optional fp16); TensorRT engines are built from
these files in rtstyle.export.tensorrt.

Exporter choice (torch 2.14): the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``)
is the default. Our nets pad H, W up to a stride multiple with ``if ph or pw: F.pad(...)``
(rtstyle.ops.pad_to_multiple). Traced at an odd size, the pad branch is recorded with amounts
computed from the input's shape, so one graph is right at every size (a zero pad is a no-op).
The dynamo exporter with named ``Dim`` s either refuses (the branch guards the symbolic size) or,
traced at a multiple of 4, silently drops the pad (≈120/255 error at odd sizes); with
``Dim.AUTO`` it is correct but takes ~30× longer (14–20 s vs 0.3–0.5 s for a tiny net). It stays
available as ``exporter="dynamo"`` (tested, slow) for when the TorchScript exporter is removed.
The one thing tracing bakes in is the nets' minimum-size padding (``max(h, min_size)``): graphs
are exact for H, W >= the ``min_size`` in their metadata, and the backends edge-pad smaller frames
first (:func:`pad_min_size`), which is what the nets do themselves.

Each family's ONNX input and output names come from the one table, rtstyle.families.FAMILIES,
which the backends (rtstyle.backends) check a file's metadata against.
"""
from __future__ import annotations

import copy
import hashlib
import inspect
import io
import json
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from .. import __version__, families
from ..errors import UserError
from ..files import atomic_write
from ..families import ADAIN_CHANNELS, IMAGE_RANGE, VECTOR_STYLED

DEFAULT_OPSET = 17
# Traced at odd H, W so the pad-to-multiple branch is in the graph (see module docstring).
TRACE_SIZE = (37, 53)
TRACE_BATCH = 2        # not 1: keeps the tracer from treating the batch as a broadcastable 1


# Dynamic axes of every input/output name: batch everywhere, H/W where the tensor is an image.
# alpha may be a per-pixel map (depth-aware AdaIN) so its H/W are free too.
_DYNAMIC_AXES = {
    "image": {0: "N", 2: "H", 3: "W"},
    "style": {0: "N"},
    "style_mean": {0: "N"},
    "style_std": {0: "N"},
    "alpha": {0: "N", 2: "Ha", 3: "Wa"},
    "stylized": {0: "N", 2: "H", 3: "W"},
    "depth": {0: "N", 2: "H", 3: "W"},
}


def family_inputs(family: str, image: torch.Tensor, extra: dict) -> list[torch.Tensor]:
    """The family's inputs in forward() order, shaped as the exported graph expects.

    ``image`` (N,3,H,W); ``style`` (S,) or (N,S) weights; ``style_mean``/``style_std`` (N,C) or
    (N,C,1,1); ``alpha`` a float, 0-d, (N,), or (N,1,h,w). Everything moves to ``image``'s device
    and dtype. Raises UserError naming missing or unexpected inputs.
    """
    names = families.family(family).inputs
    given = set(extra)
    missing = [n for n in names[1:] if n not in given]
    unexpected = sorted(given - set(names))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected)}")
        raise UserError(f"a {family!r} net takes inputs {', '.join(names)}: {'; '.join(parts)}")
    n = image.shape[0]
    out = [image]
    for name in names[1:]:
        t = torch.as_tensor(extra[name], device=image.device, dtype=image.dtype)
        if name == "style" and t.dim() == 1:
            t = t.expand(n, -1)
        elif name in ("style_mean", "style_std") and t.dim() == 2:
            t = t[:, :, None, None]
        elif name == "alpha" and t.dim() < 4:
            t = t.reshape(-1, 1, 1, 1).expand(n, 1, 1, 1)
        out.append(t.contiguous())
    return out


class FamilySignature(nn.Module):
    """Calls a family's net with the exported inputs, positionally in rtstyle.families order.

    For AdaIN the ``alpha`` input is passed as the net's ``alpha_map`` (strength 1), so one input
    takes both a per-sample strength (N,1,1,1) and a per-pixel map (N,1,h,w) such as normalised
    depth, resized onto the content exactly as in torch.

    With ``margin`` > 0 the image is mirrored outwards by that many px before the net and the
    output cut back (rtstyle.ops.paint_with_margin, as the Stylizer paints), inside the graph; the
    pad and the crop are constants, so H and W stay dynamic.
    """

    def __init__(self, net: nn.Module, family: str, margin: int = 0):
        super().__init__()
        families.family(family)
        self.net, self.family, self.margin = net, family, int(margin)
        self._alpha_map = family == "adain" and "alpha_map" in inspect.signature(net.forward).parameters

    def forward(self, *args):
        m = self.margin
        if m:
            args = (torch.nn.functional.pad(args[0], (m, m, m, m), mode="reflect"), *args[1:])
        if self._alpha_map:
            image, mean, std, alpha = args
            y = self.net(image, mean, std, 1.0, alpha_map=alpha)
        else:
            y = self.net(*args)
        return y[..., m:-m, m:-m] if m else y


def family_net(model: nn.Module, family: str) -> nn.Module:
    """The module a family's backends run: an AdaIN decoder (what its weights file holds, see
    rtstyle.weights.build_model) gets the frozen VGG encoder in front; others are as given."""
    if family == "adain" and not hasattr(model, "encoder"):
        from ..weights import adain_net
        return adain_net(model)
    return model


def pad_min_size(image: torch.Tensor, min_size: int) -> torch.Tensor:
    """Edge-pad H, W (bottom/right) up to ``min_size``, as the nets do before their stride padding.

    Exported graphs pad to the stride multiple for any size, but their minimum-size padding was
    traced at a larger frame; backends call this first so tiny frames still match torch.
    """
    h, w = image.shape[-2:]
    if h >= min_size and w >= min_size:
        return image
    return torch.nn.functional.pad(image, (0, max(0, min_size - w), 0, max(0, min_size - h)), mode="replicate")


def _example_inputs(model: nn.Module, family: str, size: tuple[int, int], batch: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, *size, generator=gen)
    extra = {}
    if family in VECTOR_STYLED:
        s = int(getattr(model, "n_styles"))
        extra["style"] = torch.softmax(torch.randn(batch, s, generator=gen), dim=1)
    elif family == "adain":
        c = int(getattr(model, "channels", ADAIN_CHANNELS))
        extra["style_mean"] = torch.rand(batch, c, 1, 1, generator=gen)
        extra["style_std"] = torch.rand(batch, c, 1, 1, generator=gen) + 0.5
        extra["alpha"] = torch.full((batch, 1, 1, 1), 0.8)
    return family_inputs(family, image, extra)


# ---------------------------------------------------------------------------------------------
# BatchNorm folding

def _last_conv(m: nn.Module) -> nn.Conv2d | None:
    """The Conv2d whose output is ``m``'s output, for the conv wrappers we know (else None)."""
    from ..models.transformer import ConvLayer, UpConv
    if isinstance(m, nn.Conv2d):
        return m
    if isinstance(m, ConvLayer):
        return m.conv
    if isinstance(m, UpConv):
        return m.conv.conv
    return None


def _foldable(bn: nn.Module) -> bool:
    # Without running stats BN normalises by batch statistics: nothing to fold.
    return isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats and bn.running_mean is not None


def _fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    from torch.nn.utils.fusion import fuse_conv_bn_weights
    w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                bn.weight, bn.bias)
    conv.weight, conv.bias = w, b


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """An eval-mode copy of ``module`` with every foldable BatchNorm merged into the conv before it.

    Folds ``_Stage`` (``.conv`` → ``.norm``), ``ResidualBlock`` (``c1``→``n1``, ``c2``→``n2``) and
    ``Conv2d`` → ``BatchNorm2d`` neighbours in ``nn.Sequential``; each folded BN becomes
    ``nn.Identity``. Equal to the original in eval mode (up to float rounding). The input is not
    modified.
    """
    from ..models.transformer import ResidualBlock, _Stage
    out = copy.deepcopy(module).eval()
    with torch.no_grad():
        for m in list(out.modules()):
            pairs = []
            if isinstance(m, _Stage):
                pairs = [("conv", "norm")]
            elif isinstance(m, ResidualBlock):
                pairs = [("c1", "n1"), ("c2", "n2")]
            for conv_name, bn_name in pairs:
                conv, bn = _last_conv(getattr(m, conv_name)), getattr(m, bn_name)
                if conv is not None and _foldable(bn):
                    _fold_into(conv, bn)
                    setattr(m, bn_name, nn.Identity())
            if isinstance(m, nn.Sequential):
                names = list(m._modules)
                for a, b in zip(names, names[1:]):
                    conv, bn = m._modules[a], m._modules[b]
                    if isinstance(conv, nn.Conv2d) and _foldable(bn):
                        _fold_into(conv, bn)
                        m._modules[b] = nn.Identity()
    return out


# ---------------------------------------------------------------------------------------------
# ONNX

def _to_fp16(model_proto):
    """fp16 initializers with float32 IO, via onnxruntime's bundled converter (offline)."""
    try:
        from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    except ImportError:
        return None
    # Instance-norm statistics over a large frame overflow/lose precision in fp16: keep them fp32.
    proto = convert_float_to_float16(model_proto, keep_io_types=True,
                                     op_block_list=[*DEFAULT_OP_BLOCK_LIST, "InstanceNormalization"])
    _toposort(proto.graph)   # the converter appends its input Casts after their consumers
    return proto


def _toposort(graph) -> None:
    """Reorder ``graph.node`` so every node comes after the producers of its inputs (Kahn)."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = [n for n in pending if not all(i in ready for i in n.input)]
        done = [n for n in pending if all(i in ready for i in n.input)]
        if not done:
            raise RuntimeError("ONNX graph has a cycle or a dangling input; cannot sort it")
        for n in done:
            ready.update(n.output)
        ordered += done
        pending = rest
    copies = [copy.deepcopy(n) for n in ordered]
    del graph.node[:]
    graph.node.extend(copies)


def _export_torchscript(model, args, names, output, opset, dynamic):
    buf = io.BytesIO()
    axes = {n: _DYNAMIC_AXES[n] for n in [*names, output]} if dynamic else None
    with warnings.catch_warnings():
        # Expected, and why they are harmless: shape checks in instance norm and our pad branch
        # (traced at an odd size on purpose), the legacy-exporter deprecation notice, constant
        # folding skipping reflection-pad slices, and instance norm always using instance stats.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*(Constant folding|instance_norm).*")
        torch.onnx.export(model, tuple(args), buf, dynamo=False, input_names=list(names),
                          output_names=[output], dynamic_axes=axes, opset_version=opset,
                          do_constant_folding=True)
    return buf.getvalue()


def _export_dynamo(model, args, names, output, opset, dynamic):
    from torch.export import Dim
    shapes = None
    if dynamic:
        # FamilySignature.forward(*args): torch.export sees one input, the ``args`` tuple.
        # Dim.AUTO, not named Dims: the pad branch guards the sizes (see module docstring).
        shapes = (tuple({ax: Dim.AUTO for ax in _DYNAMIC_AXES[n]} for n in names),)
    program = torch.onnx.export(model, tuple(args), dynamo=True, input_names=list(names),
                                output_names=[output], dynamic_shapes=shapes,
                                opset_version=max(opset, 18), verbose=False)
    return program.model_proto.SerializeToString()


def export_onnx(model: nn.Module, family: str, path, meta: dict | None = None, *, opset: int = DEFAULT_OPSET,
                dynamic: bool = True, size: tuple[int, int] | None = None, fold_bn: bool = True,
                fp16: bool = False, exporter: str = "torchscript", margin: int = 0) -> Path:
    """Export ``model`` to an ONNX file with rtstyle metadata; returns the path.

    Args:
        model: the family's nn.Module (any dtype/device; exported as an fp32 CPU copy).
        family: a key of rtstyle.families.FAMILIES; fixes input/output names.
        path: where to write (atomically).
        meta: recorded in the file: ``styles`` (list), ``config`` (net config dict), anything else
            JSON-able under its own key.
        opset: ONNX opset, 17 or newer.
        dynamic: dynamic N, H, W (every size works); False fixes them to 1 × ``size``.
        size: (H, W) traced at; default an odd size (see module docstring).
        fold_bn: merge BatchNorm into the preceding convs (:func:`fold_batchnorm`).
        fp16: store weights as fp16 (inputs/outputs stay float32). Needs onnxruntime's converter;
            without it the file stays fp32, with a warning and ``precision=fp32`` in its metadata.
        exporter: ``"torchscript"`` (default) or ``"dynamo"``.
        margin: px of mirrored edge painted around the image and cut off inside the graph (what the
            Stylizer does for the lite nets, rtstyle.families ``edge_margin``); 0 = the bare net.
            Frames need H, W > margin (the ``min_size`` in the metadata rises to margin + 1).
    """
    import onnx
    io_spec = families.family(family)
    if opset < 17:
        raise UserError(f"ONNX opset {opset} is too old; rtstyle needs 17 or newer (--opset 17)")
    if exporter not in ("torchscript", "dynamo"):
        raise UserError(f"unknown exporter {exporter!r}; use 'torchscript' or 'dynamo'")
    if not dynamic and not size:
        raise UserError("a fixed-size export (dynamic=False) needs a size (H, W); pass --size HxW")
    margin = int(margin)
    if margin < 0:
        raise UserError(f"margin {margin} is negative; use 0 (none) or more pixels")
    if margin and "alpha" in io_spec.inputs:
        raise UserError(f"a {family!r} net takes a per-pixel alpha input; export it without a margin")
    if margin and size and min(size) <= margin:
        raise UserError(f"a {margin}-px margin needs a frame larger than {margin} px on each side, got "
                        f"{size[0]}x{size[1]}; use a larger --size or --margin 0")
    meta = dict(meta or {})
    model = family_net(model, family)
    net = copy.deepcopy(model).float().cpu().eval()
    if fold_bn:
        net = fold_batchnorm(net)
    size = tuple(size) if size else TRACE_SIZE
    args = _example_inputs(net, family, size, TRACE_BATCH if dynamic else 1)
    export = _export_torchscript if exporter == "torchscript" else _export_dynamo
    with torch.no_grad():
        blob = export(FamilySignature(net, family, margin).eval(), args, io_spec.inputs, io_spec.output, opset,
                      dynamic)
    proto = onnx.load_from_string(blob)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset)

    precision = "fp32"
    if fp16:
        converted = _to_fp16(proto)
        if converted is None:
            warnings.warn("fp16 ONNX needs onnxruntime.transformers.float16, which is not "
                          "importable; the file keeps fp32 weights", stacklevel=2)
        else:
            proto, precision = converted, "fp16"

    props = {
        "rtstyle_version": __version__,
        "family": family,
        "styles": json.dumps(meta.pop("styles", [])),
        "config": json.dumps(meta.pop("config", getattr(model, "config", {})), sort_keys=True),
        "inputs": json.dumps(list(io_spec.inputs)),
        "outputs": json.dumps([io_spec.output]),
        "input_layout": "NCHW",
        "input_range": IMAGE_RANGE,
        "output_range": io_spec.output_range,
        "precision": precision,
        "opset": str(opset),
        "dynamic": json.dumps(bool(dynamic)),
        "exporter": exporter,
        "bn_folded": json.dumps(bool(fold_bn)),
        "multiple": str(int(getattr(model, "multiple", 1))),
        "min_size": str(max(int(getattr(model, "min_size", 1)), margin + 1 if margin else 1)),
        "margin": str(margin),
    }
    for k, v in meta.items():
        props.setdefault(k, v if isinstance(v, str) else json.dumps(v, sort_keys=True))
    onnx.helper.set_model_props(proto, props)
    proto.producer_name, proto.producer_version = "rtstyle", __version__
    onnx.checker.check_model(proto)
    path = Path(path)
    data = proto.SerializeToString()
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return path


def read_metadata(path) -> dict:
    """An exported file's metadata_props, JSON values decoded (strings stay strings)."""
    import onnx
    proto = onnx.load(str(path), load_external_data=False)
    return decode_metadata({p.key: p.value for p in proto.metadata_props})


def decode_metadata(props: dict) -> dict:
    out = {}
    for k, v in props.items():
        if k in ("styles", "config", "inputs", "outputs", "dynamic", "bn_folded", "multiple", "min_size",
                 "margin"):
            try:
                v = json.loads(v)
            except json.JSONDecodeError:
                pass
        out[k] = v
    return out


def model_digest(model: nn.Module, family: str, meta: dict | None = None, **options) -> str:
    """sha256 over the weights, family, meta and export options: names a cached ONNX export."""
    h = hashlib.sha256()
    h.update(json.dumps({"family": family, "meta": meta or {}, "options": options,
                         "rtstyle": __version__, "torch": torch.__version__},
                        sort_keys=True, default=str).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
