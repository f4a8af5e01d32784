"""Train the AdaIN decoder (Huang & Belongie 2017) with the VGG19 encoder frozen.

Loss = content ‖E(D(t)) − t‖² at relu4_1 (t = AdaIN target) + λ·Σ mean/std loss over relu1_1,
relu2_1, relu3_1, relu4_1 between E(D(t)) and the style image.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .. import losses, ops
from ..models.adain import AdaINDecoder, AdaINNet
from ..weights import adain_net
from . import common
from .data import CropSampler, list_images, training_split
from .loop import TrainLoop

TAPS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]


@dataclasses.dataclass
class AdaINConfig(common.RunConfig):
    data: str = ""            # folder of content photos
    style_dir: str = ""       # folder of style paintings (random crops of these are the styles)
    out: str = "runs/adain"
    width_scale: float = 1.0
    crop: int = 256
    batch: int = 8
    iters: int = 8000
    lr: float = 1e-4
    lr_decay: float = 5e-5
    style_weight: float = 10.0
    hold_out: list = dataclasses.field(default_factory=list)   # painting stems kept out (to show unseen styles)
    recon_steps: int = 0      # first steps invert the encoder (style = the photo itself, + pixel L1)
    jitter: float = 0.2       # colour jitter of the style crops (brightness/saturation ±jitter)
    log_every: int = 50
    ckpt_every: int = 500


def _loss(net: AdaINNet, c: torch.Tensor, s: torch.Tensor, cfg: AdaINConfig,
          recon: bool = False) -> dict[str, torch.Tensor]:
    """Content + style terms; ``recon``: the style is the photo itself (t = E(c)), plus a pixel
    L1 term, so the decoder first learns to invert the encoder."""
    if recon:
        s = c
    with torch.no_grad():
        fc = net.encode(c)
        fs = net.encoder(s, TAPS)
        t = ops.adain(fc.float(), fs["relu4_1"].float())
    g = net.decoder(t)
    fg = {k: v.float() for k, v in net.encoder(g, TAPS).items()}
    parts = {"content": losses.content_loss(fg["relu4_1"], t),
             "style": losses.mean_std_loss({k: v.float() for k, v in fs.items()}, fg, TAPS)}
    if recon:
        parts["pixel"] = (g.float() - c).abs().mean()
    return parts


def colour_jitter(x: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Per-image brightness and saturation gains in [1-amount, 1+amount]; (N,3,H,W) [0,1]."""
    if amount <= 0:
        return x
    n = x.shape[0]
    b = 1 + amount * (2 * torch.rand(n, 1, 1, 1, generator=gen) - 1)
    s = 1 + amount * (2 * torch.rand(n, 1, 1, 1, generator=gen) - 1)
    grey = x.mean(dim=1, keepdim=True)
    return ((grey + (x - grey) * s) * b).clamp(0, 1)


class _GenState:
    """getstate/setstate for a torch.Generator, so TrainLoop checkpoints it like a random.Random."""

    def __init__(self, gen: torch.Generator):
        self.gen = gen

    def getstate(self):
        return self.gen.get_state()

    def setstate(self, state):
        self.gen.set_state(state)


def train(cfg: AdaINConfig, resume: bool = True) -> Path:
    """Train the decoder (resuming from ``out/ckpt.pt`` when present); returns the weights path."""
    device, out = common.start_run(cfg)
    train_files, val_files = training_split(cfg.data)
    content = CropSampler(train_files, cfg.crop, short=int(cfg.crop * 1.5), seed=cfg.seed)
    style_files = [f for f in list_images(cfg.style_dir) if f.stem not in set(cfg.hold_out)]
    unknown = set(cfg.hold_out) - {f.stem for f in list_images(cfg.style_dir)}
    if unknown:
        raise FileNotFoundError(f"--hold-out names {sorted(unknown)}, not in {cfg.style_dir}")
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    style = CropSampler(style_files, cfg.crop, short=int(cfg.crop * 1.5), seed=cfg.seed + 1)
    val_c = CropSampler(val_files[:4], cfg.crop, short=int(cfg.crop * 1.5)).fixed(4).to(device)
    val_s = style.fixed(len(val_c)).to(device)   # one painting per validation photo (fewer than 4 is fine)

    net = adain_net(AdaINDecoder(cfg.width_scale)).to(device)
    opt = torch.optim.Adam(net.decoder.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 / (1.0 + cfg.lr_decay * i))
    loop = TrainLoop(out, iters=cfg.iters, log_every=cfg.log_every, ckpt_every=cfg.ckpt_every,
                     max_minutes=cfg.max_minutes, fields=["total", "content", "style", "pixel"],
                     state={"decoder": net.decoder, "opt": opt, "sched": sched},
                     rngs={"content": content.rng, "style": style.rng, "jitter": _GenState(gen)},
                     desc="adain", title="adain decoder")
    if not (resume and loop.resume(device)) and cfg.init:
        loop.step = common.init_from_weights(net.decoder, cfg.init)
        sched.last_epoch = loop.step   # the learning-rate decay continues where the shipped run stopped
        for g in opt.param_groups:
            g["lr"] = cfg.lr / (1.0 + cfg.lr_decay * loop.step)
    prec = common.loop_precision(loop, device, cfg.precision)
    autocast = prec.autocast

    def step_fn(step: int) -> dict:
        net.decoder.train()
        c = content.batch(cfg.batch).to(device, non_blocking=True)
        s = colour_jitter(style.batch(cfg.batch), cfg.jitter, gen).to(device, non_blocking=True)
        recon = step < cfg.recon_steps
        with autocast:
            parts = _loss(net, c, s, cfg, recon)
        total = parts["content"] + cfg.style_weight * parts["style"] + parts.get("pixel", 0.0)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        sched.step()
        return {"total": total.item(), **{k: v.item() for k, v in parts.items()}}

    @torch.no_grad()
    def val_fn() -> float:
        net.decoder.eval()
        with autocast:
            v = _loss(net, val_c, val_s, cfg)
        return (v["content"] + cfg.style_weight * v["style"]).item()

    @torch.no_grad()
    def samples_fn() -> list:
        net.decoder.eval()
        with autocast:
            mean, std = net.style_stats(val_s)
            return [val_c, val_s, net(val_c, mean, std).float()]

    loop.run(step_fn, val_fn, samples_fn)
    net.decoder.eval()
    manifest = {
        "family": "adain", "styles": [], "config": {"width_scale": cfg.width_scale}, "arbitrary_style": True,
        "data": f"{len(train_files)} train photos from {Path(cfg.data).name}/, crops of {len(style_files)} "
                f"paintings ({cfg.crop}px, batch {cfg.batch})",
        "iterations": loop.step, "complete": not loop.stopped_early, **loop.manifest_losses(),
        "loss_weights": {"content": 1.0, "style": cfg.style_weight}, "held_out_styles": sorted(cfg.hold_out),
        "recon_steps": cfg.recon_steps, "colour_jitter": cfg.jitter, "taps": {"content": "relu4_1", "style": TAPS},
        "encoder": "vgg19_relu4_1.safetensors", "wall_time_s": round(loop.wall, 1),
        "device": common.device_name(device), "code_revision": common.code_revision(),
        "cpu": common.cpu_info()["model"], **prec.manifest(),
        "train_photo_short": int(cfg.crop * 1.5),   # stroke scale: Stylizer's working resolution
    }
    return common.finish_run(net.decoder, out / "adain-decoder.safetensors", manifest, loop)
