"""Train the lite family by distillation: a small student copies trained teacher nets.

Targets are the teachers' outputs on the same crops (any trained family: the multi-style net
paints every style with one net; single-style Johnson/compact nets or AdaIN work too, one
teacher per style). No Gram matrices and no deep VGG pass per step, so a step costs about a
teacher forward plus a shallow VGG pass — cheap enough for a CPU.

Loss per step, each image of the batch with its own random style ``k``:

    L = w_pix·|S(x) − T_k(x)|₁ + w_feat·c·‖φ(S(x)) − φ(T_k(x))‖² + w_cons·|S(x′) − shift(S(x))|₁

with φ = VGG19 relu2_2 of the 2×-downsampled images (the light perceptual term: VGG's full-res
64-channel convs would cost more than the student and teacher together; c makes the feature term 1 for plain photos vs their teacher output at
the start), and the consistency term on x′ = shift(x) + noise: a random 1–3 px translation (not
a multiple of the net's stride 4, where a strided net is least shift-invariant) and Gaussian
noise, the two things that change between neighbouring video frames; its target is detached.
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import torch
import torch.nn.functional as F

from ..weights import build_model, load_vgg19
from ..errors import UserError
from ..families import TEACHER_ORDER, weights_stem
from ..models.transformer import one_hot_styles
from . import common
from .data import CropSampler, training_split
from .loop import TrainLoop

FEATURE_TAP = "relu2_2"


@dataclasses.dataclass
class DistillConfig(common.RunConfig):
    styles: list = dataclasses.field(default_factory=lambda: ["mosaic"])
    data: str = ""
    out: str = "runs/lite"
    teacher: str = ""                  # teacher family ('' = best available per style)
    model: dict = dataclasses.field(default_factory=lambda: {"width": 16, "n_res": 4})
    crop: int = 128
    photo_short: int = 0               # training photos' short side before cropping (0: 1.5 x crop)
    batch: int = 4
    iters: int = 4000
    lr: float = 2e-3
    pixel_weight: float = 1.0
    feature_weight: float = 0.5
    consistency_weight: float = 0.0      # > 0: trade texture for stability (docs/cpu.md)
    noise: float = 0.02                # consistency noise std (0..1 pixel range)

    def net_config(self) -> dict:
        return {"n_styles": len(self.styles), **self.model}

    def photo_px(self) -> int:
        """Short side the training photos are held at: the stroke scale the student learns."""
        return self.photo_short or int(self.crop * 1.5)


class Teachers:
    """style name -> a frozen trained net painting it: its weights (rtstyle.weights) on a torch
    backend, with the style's extra inputs (rtstyle.styles.style_inputs).

    One backend per weights file: a multi-style or AdaIN teacher paints each style by its inputs.
    ``__call__(x, style)``: (N,3,H,W) [0,1] -> the teacher's (N,3,H,W) [0,1], no grad.
    """

    def __init__(self, names: list[str], family: str, device: torch.device):
        from .. import backends, styles
        from ..weights import load_weights
        self.by_style, self.entries = {}, {}
        spec = backends.spec_named("torch-cuda" if device.type == "cuda" else "torch")
        loaded: dict = {}
        for name in names:
            entry = self._pick(styles, name, family)
            if entry.path not in loaded:
                model, _ = load_weights(entry.path)
                net = backends.create(spec, model, entry.family)
                loaded[entry.path] = net.load(), model
            net, model = loaded[entry.path]
            extra = styles.style_inputs(entry, [(name, 1.0)], model)
            self.by_style[name] = net, {k: v.to(net.device) for k, v in extra.items()}
            self.entries[name] = entry

    @staticmethod
    def _pick(styles, name: str, family: str):
        found = [e for e in styles.entries_for(name) if e.family != "lite"]
        if family:
            found = [e for e in found if e.family == family]
        if not found:
            which = f"{family} " if family else ""
            raise UserError(f"no trained {which}teacher for style {name!r}; train one first "
                            f"(rtstyle train transformer --style {name}) or drop it from --style")
        return min(found, key=lambda e: (TEACHER_ORDER.index(e.family), e.path.name))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, style: str) -> torch.Tensor:
        net, extra = self.by_style[style]
        n = x.shape[0]
        return net(x, **{k: v.expand(n, *v.shape[1:]) for k, v in extra.items()}).float().clone()

    def describe(self) -> dict:
        return {k: f"{e.family}:{e.path.name}" for k, e in self.entries.items()}

    def photo_shorts(self) -> dict[str, int]:
        """Teacher weights file -> the short side its training photos had (its stroke scale)."""
        return {e.path.name: int(e.manifest.get("train_photo_short") or 0) for e in self.entries.values()}


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate by (dy, dx) pixels with edge replication (no wrap-around)."""
    p = max(abs(dy), abs(dx))
    h, w = x.shape[-2:]
    xp = F.pad(x, (p, p, p, p), mode="replicate")
    return xp[..., p - dy:p - dy + h, p - dx:p - dx + w]


def consistency_loss(net, x: torch.Tensor, y: torch.Tensor, style, noise: float,
                     gen: torch.Generator) -> torch.Tensor:
    """|net(shift(x) + n) − shift(y)|₁ on the interior (borders excluded), y = net(x) detached;
    ``style``: what ``net`` takes (an index or (N, S) weights)."""
    d = torch.randint(1, 4, (2,), generator=gen) * (torch.randint(0, 2, (2,), generator=gen) * 2 - 1)
    dy, dx = int(d[0]), int(d[1])
    xs = _shift(x, dy, dx) + noise * torch.randn(x.shape, generator=gen).to(x.device)
    ys = net(xs.clamp(0, 1), style)
    m = 8
    return (ys - _shift(y.detach(), dy, dx))[..., m:-m, m:-m].abs().mean()


def train(cfg: DistillConfig, resume: bool = True) -> Path:
    """Distil (resuming from ``out/ckpt.pt`` when present); returns the run's weights path."""
    device, out = common.start_run(cfg)
    teachers = Teachers(cfg.styles, cfg.teacher, device)

    short = cfg.photo_px()
    other = {f: s for f, s in teachers.photo_shorts().items() if s and s != short}
    if other:   # the student copies the teacher at a scale the teacher was not trained at
        print(f"note: teachers learnt their strokes on photos of another short side than this run's {short} px "
              f"({', '.join(f'{f}: {s}' for f, s in other.items())}); --photo-short sets it")
    train_files, val_files = training_split(cfg.data)
    sampler = CropSampler(train_files, cfg.crop, short=short, seed=cfg.seed)
    val_x = CropSampler(val_files[:8], cfg.crop, short=short).fixed(8).to(device)
    val_t = [teachers(val_x, s) for s in cfg.styles]
    vgg = load_vgg19(FEATURE_TAP).to(device)
    net = build_model("lite", cfg.net_config()).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.iters, eta_min=cfg.lr * 0.05)
    gen = torch.Generator().manual_seed(cfg.seed)
    style_rng = random.Random(cfg.seed + 3)
    fields = ["total", "pixel", "feature"] + (["consistency"] if cfg.consistency_weight > 0 else [])
    loop = TrainLoop(out, iters=cfg.iters, log_every=cfg.log_every, ckpt_every=cfg.ckpt_every,
                     max_minutes=cfg.max_minutes, fields=fields, state={"net": net, "opt": opt, "sched": sched},
                     rngs={"sampler": sampler.rng, "styles": style_rng}, desc=f"lite:{','.join(cfg.styles)[:30]}",
                     title=f"lite distilled from {', '.join(sorted(set(teachers.describe().values())))}"[:80])
    def feats(img):
        return vgg(F.avg_pool2d(img, 2), [FEATURE_TAP])[FEATURE_TAP]

    if not (resume and loop.resume(device)):
        if cfg.init:
            loop.step = common.init_from_weights(net, cfg.init)
            sched.last_epoch = loop.step
            for g, lr in zip(opt.param_groups, sched._get_closed_form_lr()):
                g["lr"] = lr
        with torch.no_grad():   # feature scale: plain photos vs their teacher output score 1
            f_x = feats(val_x)
            d = sum((feats(t) - f_x).pow(2).mean().item() for t in val_t) / len(val_t)
        loop.extra["feature_scale"] = 1.0 / max(d, 1e-12)
    scale = loop.extra["feature_scale"]
    loop.extra["teachers"] = teachers.describe()   # this start's teachers, for snapshots of a running run
    prec = common.loop_precision(loop, device, cfg.precision)

    def parts(y, t):
        fy = feats(y)
        with torch.no_grad():
            ft = feats(t)
        return (y - t).abs().mean(), scale * (fy - ft).pow(2).mean()

    def step_fn(step: int) -> dict:
        net.train()
        # each image its own style, as in the multi-style trainer (one style per step pulls the
        # shared body towards one painting at a time)
        ks = [style_rng.randrange(len(cfg.styles)) for _ in range(cfg.batch)]
        k = one_hot_styles(ks, len(cfg.styles), device, torch.float32)
        x = sampler.batch(cfg.batch).to(device)
        t = torch.cat([teachers(x[i:i + 1], cfg.styles[s]) for i, s in enumerate(ks)])
        with prec.autocast:
            y = net(x, k)
            pix, feat = parts(y, t)
        y, pix, feat = y.float(), pix.float(), feat.float()
        total = cfg.pixel_weight * pix + cfg.feature_weight * feat
        out = {"pixel": pix.item(), "feature": feat.item()}
        if cfg.consistency_weight > 0:
            cons = consistency_loss(net, x, y, k, cfg.noise, gen)
            total = total + cfg.consistency_weight * cons
            out["consistency"] = cons.item()
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        sched.step()
        return {"total": total.item(), **out}

    @torch.no_grad()
    def val_fn() -> float:
        net.eval()
        vals = []
        for k, t in enumerate(val_t):
            pix, feat = parts(net(val_x, k), t)
            vals.append((cfg.pixel_weight * pix + cfg.feature_weight * feat).item())
        return sum(vals) / len(vals)

    @torch.no_grad()
    def samples_fn() -> list:
        net.eval()
        rows = [val_x[:4]]
        for k in range(min(len(cfg.styles), 3)):
            rows += [val_t[k][:4], net(val_x[:4], k)]
        return rows

    loop.run(step_fn, val_fn, samples_fn)
    net.eval()
    manifest = {
        "family": "lite", "styles": list(cfg.styles), "config": cfg.net_config(),
        "teachers": teachers.describe(),
        "data": f"{len(train_files)} train / {len(val_files)} val photos from {Path(cfg.data).name}/ "
                f"({cfg.crop}px crops of photos at {short} px, batch {cfg.batch})",
        "iterations": loop.step, "complete": not loop.stopped_early, **loop.manifest_losses(),
        "loss_weights": {"pixel": cfg.pixel_weight, "feature": cfg.feature_weight,
                         "consistency": cfg.consistency_weight, "noise": cfg.noise},
        "taps": {"feature": FEATURE_TAP}, "loss_scales": {"feature": scale},
        "wall_time_s": round(loop.wall, 1), "device": common.device_name(device),
        "code_revision": common.code_revision(), "cpu": common.cpu_info()["model"], **prec.manifest(),
        "train_photo_short": short,   # stroke scale: Stylizer's working resolution
    }
    return common.finish_run(net, out / f"{weights_stem('lite', cfg.styles)}.safetensors", manifest, loop)
