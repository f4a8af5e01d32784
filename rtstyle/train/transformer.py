"""Train the feed-forward transformers (johnson, compact, multi, lite) with VGG19 perceptual losses.

Loss taps (VGG19; the papers used VGG16 for Johnson): content relu2_2; style relu1_1, relu2_1,
relu3_1, relu4_1. The compact family adds the spatial-shift Gram loss (δ = 4, both axes) on the
same style taps. Total = w_c·content + w_s·style (+ w_δ·shift) + w_tv·TV.

Balancing: with Caffe-scaled VGG features the Liu & Shuai 2019 style term of relu4_1 is ~10⁶× that of
relu1_1, so each tap gets a weight 1/L_l measured once, at start, between a batch of training
photos and the style (the photos score 1 per tap); the content term is divided by its value for
noise. Both scales are written into the manifest so a run can be reproduced.
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import torch

from .. import losses, ops
from ..families import VECTOR_STYLED, weights_stem
from ..weights import build_model, load_vgg19, read_manifest
from ..models.transformer import one_hot_styles
from ..models.vgg import LAYERS
from . import common
from .data import CropSampler, load_style, training_split
from .ema import WeightAverage
from .loop import TrainLoop


@dataclasses.dataclass
class TransformerConfig(common.RunConfig):
    family: str = "johnson"                       # johnson | compact | multi | lite (style-input nets: any styles)
    styles: list = dataclasses.field(default_factory=lambda: ["mosaic"])
    style_dir: str = ""                           # folder of <style>.jpg
    data: str = ""                                # folder of training photos
    out: str = "runs/johnson-mosaic"
    model: dict = dataclasses.field(default_factory=dict)   # net config (width, n_res, downsample)
    crop: int = 256
    style_size: int = 384                         # style image short side
    photo_short: int = 0                          # training photos' short side before cropping (0: 1.5 x crop)
    recalibrate: bool = False                     # with init: measure loss scales afresh, not the init's
    margin: int = 0                               # mirrored edge around each crop, cut off before the losses
    batch: int = 4
    iters: int = 10000
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 5.0
    shift_weight: float = 0.0                     # > 0 enables the spatial-shift loss
    shift_delta: int = 4
    tv_weight: float = 1.0
    ema: float = 0.0                              # > 0: ship a moving average of the weights (decay per step)
    content_tap: str = "relu2_2"
    style_taps: list = dataclasses.field(default_factory=lambda: ["relu1_1", "relu2_1", "relu3_1", "relu4_1"])
    channels_last: bool = True

    def photo_px(self) -> int:
        """Short side the training photos are held at: the stroke scale the net learns."""
        return self.photo_short or int(self.crop * 1.5)

    def net_config(self) -> dict:
        cfg = dict(self.model)
        if self.family in VECTOR_STYLED:
            cfg["n_styles"] = len(self.styles)
        return cfg


class _Targets:
    """Per-style Gram (and shift-Gram) targets, computed once, and the loss scales."""

    def __init__(self, vgg, cfg: TransformerConfig, device):
        self.grams, self.shift = [], []
        self.style_scale = {t: 1.0 for t in cfg.style_taps}
        self.shift_scale = {t: 1.0 for t in cfg.style_taps}
        # per style (multi-style): each painting's loss is normalised on its own, since one
        # painting can score far above the others (mosaic's relu3_1/relu4_1 terms are 7-9x the
        # mean of the other 19) and would otherwise dominate the shared body's gradients
        self.per_style: list[dict] | None = None
        self.per_style_shift: list[dict] | None = None
        self.content_scale = 1.0
        for name in cfg.styles:
            path = Path(cfg.style_dir) / f"{name}.jpg"
            if not path.exists():
                raise FileNotFoundError(f"style image {path} not found; --style-dir must hold <style>.jpg")
            s = load_style(path, cfg.style_size).to(device)
            with torch.no_grad():
                f = vgg(s, cfg.style_taps)
            self.grams.append({k: ops.gram(v) for k, v in f.items()})
            self.shift.append({k: (ops.shifted_gram(v, cfg.shift_delta, "x"), ops.shifted_gram(v, cfg.shift_delta, "y"))
                               for k, v in f.items()})

    @torch.no_grad()
    def calibrate(self, vgg, cfg: TransformerConfig, photos: torch.Tensor) -> None:
        """Set per-tap scales so that plain photos score 1 per tap (averaged over styles)."""
        f = vgg(photos, cfg.style_taps)
        n = len(self.grams)
        per = [losses.tap_scales(g, f, cfg.style_taps) for g in self.grams]
        per_d = [{t: 1.0 / max(losses.shift_loss(g, f, [t], cfg.shift_delta).item(), 1e-12) for t in cfg.style_taps}
                 for g in self.shift]
        for t in cfg.style_taps:   # the mean over styles (what one-style runs and older manifests use)
            self.style_scale[t] = n / sum(1.0 / p[t] for p in per)
            self.shift_scale[t] = n / sum(1.0 / p[t] for p in per_d)
        if n > 1:
            self.per_style, self.per_style_shift = per, per_d
        fx = vgg(photos, [cfg.content_tap])[cfg.content_tap]
        fn = vgg(torch.rand_like(photos), [cfg.content_tap])[cfg.content_tap]
        self.content_scale = 1.0 / max(losses.content_loss(fn, fx).item(), 1e-12)

    def scales(self) -> dict:
        out = {"content": self.content_scale, "style": self.style_scale, "shift": self.shift_scale}
        if self.per_style:
            out.update(style_per_style=self.per_style, shift_per_style=self.per_style_shift)
        return out

    def load_scales(self, scales: dict) -> None:
        self.content_scale, self.style_scale, self.shift_scale = scales["content"], scales["style"], scales["shift"]
        self.per_style, self.per_style_shift = scales.get("style_per_style"), scales.get("shift_per_style")

    def style_scales(self, sidx: int) -> tuple[dict, dict]:
        """(style, shift) per-tap scales for style ``sidx``."""
        if self.per_style:
            return self.per_style[sidx], self.per_style_shift[sidx]
        return self.style_scale, self.shift_scale


def _run(net, x, family, style, margin: int = 0):
    """``style``: one index for the whole batch, or a list with one index per image (style-input nets).
    ``margin``: px of mirrored edge painted around ``x`` and cut off (ops.paint_with_margin)."""
    if margin:
        return ops.paint_with_margin(lambda t: _run(net, t, family, style), margin, x)
    if family not in VECTOR_STYLED:
        return net(x)
    if isinstance(style, int):
        return net(x, style)
    return net(x, one_hot_styles(style, net.n_styles, x.device, x.dtype))


def _style_terms(cfg, targets, fy, style) -> dict[str, torch.Tensor]:
    """Style (and shift) loss; with one style index per image, each group of images sharing a
    style is scored against that painting and the groups are averaged by their size."""
    groups = {style: slice(None)} if isinstance(style, int) else \
        {s: [i for i, t in enumerate(style) if t == s] for s in sorted(set(style))}
    n = fy[cfg.style_taps[0]].shape[0]
    out: dict[str, torch.Tensor] = {}
    for s, rows in groups.items():
        f = fy if isinstance(rows, slice) else {k: fy[k][rows] for k in cfg.style_taps}
        share = 1.0 if isinstance(rows, slice) else len(rows) / n
        style_scale, shift_scale = targets.style_scales(s)
        terms = {"style": losses.style_loss(targets.grams[s], f, cfg.style_taps, style_scale)}
        if cfg.shift_weight > 0:
            terms["shift"] = losses.shift_loss(targets.shift[s], f, cfg.style_taps, cfg.shift_delta, shift_scale)
        for k, v in terms.items():
            out[k] = out.get(k, 0.0) + share * v
    return out


def _losses(cfg, vgg, targets, y, x, style) -> dict[str, torch.Tensor]:
    taps = set(cfg.style_taps) | {cfg.content_tap}
    fy = {k: v.float() for k, v in vgg(y, taps).items()}
    with torch.no_grad():
        fx = vgg(x, [cfg.content_tap])[cfg.content_tap].float()
    return {"content": targets.content_scale * losses.content_loss(fy[cfg.content_tap], fx),
            **_style_terms(cfg, targets, fy, style), "tv": losses.tv_loss(y.float())}


def _total(cfg, parts) -> torch.Tensor:
    total = cfg.content_weight * parts["content"] + cfg.style_weight * parts["style"] + cfg.tv_weight * parts["tv"]
    if "shift" in parts:
        total = total + cfg.shift_weight * parts["shift"]
    return total


def train(cfg: TransformerConfig, resume: bool = True) -> Path:
    """Train (resuming from ``out/ckpt.pt`` when present); returns the run's weights path."""
    device, out = common.start_run(cfg)
    train_files, val_files = training_split(cfg.data)
    sampler = CropSampler(train_files, cfg.crop, short=cfg.photo_px(), scale_max=1.0, seed=cfg.seed)
    val_x = CropSampler(val_files[:8], cfg.crop, short=cfg.photo_px()).fixed(8).to(device)

    vgg = load_vgg19(max(cfg.style_taps + [cfg.content_tap], key=LAYERS.index)).to(device)
    targets = _Targets(vgg, cfg, device)
    net = build_model(cfg.family, cfg.net_config()).to(device)
    mem = torch.channels_last if cfg.channels_last else torch.contiguous_format
    net = net.to(memory_format=mem)
    vgg = vgg.to(memory_format=mem)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    ema = WeightAverage(net, cfg.ema) if cfg.ema else None
    style_rng = random.Random(cfg.seed + 3)
    fields = ["total", "content", "style", "tv"] + (["shift"] if cfg.shift_weight > 0 else [])
    loop = TrainLoop(out, iters=cfg.iters, log_every=cfg.log_every, ckpt_every=cfg.ckpt_every,
                     max_minutes=cfg.max_minutes, fields=fields,
                     state={"net": net, "opt": opt, **({"ema": ema} if ema else {})},
                     rngs={"sampler": sampler.rng, "styles": style_rng}, desc=f"{cfg.family}:{','.join(cfg.styles)[:30]}",
                     title=f"{cfg.family} {','.join(cfg.styles)[:40]}")
    if resume and loop.resume(device):
        targets.load_scales(loop.extra["scales"])
        if ema and "ema" in loop.missing:   # a run that started without --ema: average from here
            ema.reset(net)
    else:
        if cfg.init:
            loop.step = common.init_from_weights(net, cfg.init)
        init_scales = read_manifest(Path(cfg.init)).get("loss_scales") if cfg.init and not cfg.recalibrate else None
        if init_scales:   # keep the loss the shipped weights were trained on
            targets.load_scales(init_scales)
        else:
            targets.calibrate(vgg, cfg, CropSampler(train_files[:16], cfg.crop,
                                                    short=cfg.photo_px()).fixed(16).to(device))
        loop.extra["scales"] = targets.scales()
        if ema:
            ema.reset(net)   # the average starts at the initial (e.g. shipped) weights
    shipped = ema.net if ema else net   # what validation, the sample grids and the weights file show

    prec = common.loop_precision(loop, device, cfg.precision)
    autocast = prec.autocast
    n_styles = len(cfg.styles)

    def step_fn(step: int) -> dict:
        net.train()
        # multi: every image of a batch gets its own random style. One style per step (as before)
        # pulls the whole shared body towards one painting at a time, and by step 600 2.2 % of
        # the validation pixels had saturated to white blobs; mixed batches: 0.0005 % (docs/training_history.md)
        style = [style_rng.randrange(n_styles) for _ in range(cfg.batch)] if n_styles > 1 else 0
        x = sampler.batch(cfg.batch).to(device, non_blocking=True).contiguous(memory_format=mem)
        with autocast:
            y = _run(net, x, cfg.family, style, cfg.margin)
            parts = _losses(cfg, vgg, targets, y, x, style)
        total = _total(cfg, parts)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if ema:
            ema.update(net)
        return {"total": total.item(), **{k: v.item() for k, v in parts.items()}}

    @torch.no_grad()
    def val_fn() -> float:
        shipped.eval()
        with autocast:
            vals = [_total(cfg, _losses(cfg, vgg, targets, _run(shipped, val_x, cfg.family, i, cfg.margin), val_x, i)).item()
                    for i in range(n_styles)]
        return sum(vals) / len(vals)

    @torch.no_grad()
    def samples_fn() -> list:
        shipped.eval()
        with autocast:
            return [val_x[:4].float()] + [_run(shipped, val_x[:4], cfg.family, i, cfg.margin).float() for i in range(min(n_styles, 4))]

    loop.run(step_fn, val_fn, samples_fn)
    shipped.eval()
    name = weights_stem(cfg.family, cfg.styles)
    manifest = {
        "family": cfg.family, "styles": list(cfg.styles), "config": cfg.net_config(),
        "data": f"{len(train_files)} train / {len(val_files)} val photos from {Path(cfg.data).name}/ "
                f"({cfg.crop}px crops, batch {cfg.batch})",
        "iterations": loop.step, "complete": not loop.stopped_early, **loop.manifest_losses(),
        "style_size": cfg.style_size,
        "loss_weights": {"content": cfg.content_weight, "style": cfg.style_weight, "shift": cfg.shift_weight,
                         "tv": cfg.tv_weight},
        "taps": {"content": cfg.content_tap, "style": cfg.style_taps}, "loss_scales": targets.scales(),
        "wall_time_s": round(loop.wall, 1), "device": common.device_name(device), "code_revision": common.code_revision(),
        "cpu": common.cpu_info()["model"], **prec.manifest(),
        "train_photo_short": cfg.photo_px(),   # stroke scale: Stylizer's working resolution
        "margin": cfg.margin,                  # the Stylizer paints frames with at least this edge margin
        **({"ema": cfg.ema} if cfg.ema else {}),   # the weights are the moving average, not the last step's
    }
    return common.finish_run(shipped, out / f"{name}.safetensors", manifest, loop)
