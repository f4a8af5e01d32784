"""Train the AdaIN decoder (Huang & Belongie 2017) with the VGG19 encoder frozen.

Loss = content ‖E(D(t)) − t‖² at relu4_1 (t = AdaIN target) + λ·Σ mean/std loss over relu1_1,
relu2_1, relu3_1, relu4_1 between E(D(t)) and the style image.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .. import losses, ops
from ..checkpoints import save_weights
from ..models.adain import AdaINDecoder, AdaINNet
from . import common
from .data import CropSampler, list_images, split

TAPS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]


@dataclasses.dataclass
class AdaINConfig:
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
    seed: int = 0
    log_every: int = 50
    ckpt_every: int = 500
    max_minutes: float = 0.0
    device: str = "auto"
    amp: bool = True
    threads: int = 0


def _loss(net: AdaINNet, c: torch.Tensor, s: torch.Tensor, cfg: AdaINConfig) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        fc = net.encode(c)
        fs = net.encoder(s, TAPS)
        t = ops.adain(fc.float(), fs["relu4_1"].float())
    g = net.decoder(t)
    fg = {k: v.float() for k, v in net.encoder(g, TAPS).items()}
    return {"content": losses.content_loss(fg["relu4_1"], t),
            "style": losses.mean_std_loss({k: v.float() for k, v in fs.items()}, fg, TAPS)}


def train(cfg: AdaINConfig, resume: bool = True) -> Path:
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if cfg.device == "auto" else cfg.device))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")
    common.seed_all(cfg.seed)
    train_files, val_files = split(list_images(cfg.data))
    content = CropSampler(train_files, cfg.crop, short=int(cfg.crop * 1.5), seed=cfg.seed)
    style_files = list_images(cfg.style_dir)
    style = CropSampler(style_files, cfg.crop, short=int(cfg.crop * 1.5), seed=cfg.seed + 1)
    val_c = CropSampler(val_files[:4], cfg.crop, short=int(cfg.crop * 1.5)).fixed(4).to(device)
    val_s = style.fixed(4).to(device)

    net = AdaINNet(AdaINDecoder(cfg.width_scale)).to(device)
    opt = torch.optim.Adam(net.decoder.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 / (1.0 + cfg.lr_decay * i))
    log = common.LossLog(out / "losses.csv", ["total", "content", "style", "val_total"])
    ckpt = out / "ckpt.pt"
    step, wall0 = 0, 0.0
    if resume and ckpt.exists():
        st = torch.load(ckpt, map_location=device, weights_only=False)
        net.decoder.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        step, wall0 = st["step"], st["wall"]
        common.set_rng_state(st["rng"])
        content.rng.setstate(st["content_rng"])
        style.rng.setstate(st["style_rng"])
        log.truncate_after(step)
        print(f"resumed {ckpt} at step {step}")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda")
    t0 = time.time()
    last_val = float("nan")
    parts = {}

    def checkpoint():
        common.save_checkpoint(ckpt, model=net.decoder.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                               step=step, wall=wall0 + time.time() - t0, rng=common.rng_state(),
                               content_rng=content.rng.getstate(), style_rng=style.rng.getstate())
        with torch.no_grad(), autocast:
            mean, std = net.style_stats(val_s)
            y = net(val_c, mean, std)
        common.save_grid([val_c, val_s, y.float()], out / f"samples_{step:06d}.png")
        common.plot_losses(out / "losses.csv", out / "losses.png", "adain decoder")

    bar = tqdm(total=cfg.iters, initial=step, desc="adain", unit="it", dynamic_ncols=True)
    stopped_early = False
    while step < cfg.iters:
        net.decoder.train()
        c = content.batch(cfg.batch).to(device, non_blocking=True)
        s = style.batch(cfg.batch).to(device, non_blocking=True)
        with autocast:
            parts = _loss(net, c, s, cfg)
        total = parts["content"] + cfg.style_weight * parts["style"]
        if not torch.isfinite(total):
            raise FloatingPointError(f"loss became {total.item()} at step {step}; lower --lr")
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        sched.step()
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            net.decoder.eval()
            with torch.no_grad(), autocast:
                v = _loss(net, val_c, val_s, cfg)
            last_val = (v["content"] + cfg.style_weight * v["style"]).item()
            log.add(step, total=total.item(), content=parts["content"].item(), style=parts["style"].item(),
                    val_total=last_val)
            bar.set_postfix(loss=f"{total.item():.3g}", val=f"{last_val:.3g}")
        if step % cfg.ckpt_every == 0:
            checkpoint()
        if cfg.max_minutes and time.time() - t0 > cfg.max_minutes * 60 and step < cfg.iters:
            stopped_early = True
            break
    bar.close()
    net.decoder.eval()
    checkpoint()
    manifest = {
        "family": "adain", "styles": [], "config": {"width_scale": cfg.width_scale}, "arbitrary_style": True,
        "data": f"{len(train_files)} train photos from {Path(cfg.data).name}/, crops of {len(style_files)} "
                f"paintings ({cfg.crop}px, batch {cfg.batch})",
        "iterations": step, "complete": not stopped_early,
        "train_loss": {k: round(v.item(), 6) for k, v in parts.items()}, "val_loss": round(last_val, 6),
        "loss_weights": {"content": 1.0, "style": cfg.style_weight}, "taps": {"content": "relu4_1", "style": TAPS},
        "encoder": "vgg19_relu4_1.safetensors", "wall_time_s": round(wall0 + time.time() - t0, 1),
        "device": common.device_name(device), "code_revision": common.code_revision(),
    }
    weights = out / "adain-decoder.safetensors"
    save_weights(net.decoder.cpu().float(), weights, manifest)
    print(f"{'stopped at time limit' if stopped_early else 'finished'}: step {step}, weights {weights}")
    return weights
