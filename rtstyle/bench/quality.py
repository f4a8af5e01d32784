"""Quality as numbers: perceptual losses of a trained net's output vs a Gatys result, per photo.

Every loss is relative, so different photos and styles compare:
- content: ‖φ(out) − φ(photo)‖² / ‖φ(noise) − φ(photo)‖² at relu2_2 (0 = the photo, 1 = as far as noise)
- style:   mean over relu1_1…relu4_1 of L_style(out, style) / L_style(photo, style)
           (1 = as unstyled as the photo; lower = closer to the painting's statistics)
- shift:   the same ratio for the spatial-shift Gram loss (δ = 4, both axes)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import losses, ops, styles
from ..weights import load_vgg19

STYLE_TAPS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
CONTENT_TAP = "relu2_2"
DELTA = 4


@dataclass
class Score:
    photo: str
    method: str
    content: float
    style: float
    shift: float
    seconds: float


class Scorer:
    """Scores images against one style image (computed once)."""

    def __init__(self, style: str, style_size: int = 384, vgg=None, device: str = "cpu"):
        self.device = torch.device(device)
        self.vgg = (vgg or load_vgg19("relu4_1")).to(self.device)
        s = _load(styles.style_image(style), style_size).to(self.device)
        with torch.no_grad():
            f = self.vgg(s, STYLE_TAPS)
        self.grams = {k: ops.gram(v) for k, v in f.items()}
        self.shift = {k: (ops.shifted_gram(v, DELTA, "x"), ops.shifted_gram(v, DELTA, "y")) for k, v in f.items()}

    @torch.no_grad()
    def _raw(self, img: torch.Tensor, photo_feat: torch.Tensor) -> tuple[float, list[float], list[float]]:
        f = self.vgg(img, STYLE_TAPS + [CONTENT_TAP])
        c = losses.content_loss(f[CONTENT_TAP], photo_feat).item()
        s = [losses.style_loss(self.grams, f, [t]).item() for t in STYLE_TAPS]
        d = [losses.shift_loss(self.shift, f, [t], DELTA).item() for t in STYLE_TAPS]
        return c, s, d

    @torch.no_grad()
    def score(self, out: torch.Tensor, photo: torch.Tensor) -> tuple[float, float, float]:
        """(content, style, shift) ratios of ``out`` (1,3,H,W) [0,1] for ``photo`` (same shape)."""
        out, photo = out.to(self.device), photo.to(self.device)
        pf = self.vgg(photo, [CONTENT_TAP])[CONTENT_TAP]
        g = torch.Generator().manual_seed(0)
        noise_c, _, _ = self._raw(torch.rand(photo.shape, generator=g).to(self.device), pf)
        _, ps, pd = self._raw(photo, pf)
        oc, os_, od = self._raw(out, pf)
        style = float(np.mean([o / max(p, 1e-12) for o, p in zip(os_, ps)]))
        shift = float(np.mean([o / max(p, 1e-12) for o, p in zip(od, pd)]))
        return oc / max(noise_c, 1e-12), style, shift


def _load(path: Path, size: int) -> torch.Tensor:
    import cv2

    from ..io.images import read_image
    rgb, _ = read_image(path)
    if size <= 0:   # the photo's real size
        return ops.to_tensor(rgb)
    h, w = rgb.shape[:2]
    f = size / min(h, w)
    rgb = cv2.resize(rgb, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
    return ops.to_tensor(rgb)


def evaluate(photos: list[Path], style: str, family: str | None = None, size: int = 256,
             gatys_iters: int = 500, log=print, device: str | None = None) -> list[Score]:
    """Score the trained net (and Gatys with ``gatys_iters`` > 0) on each photo at ``size`` short side
    (0 = its real size), on ``device`` (default: CUDA when there is one, else the CPU)."""
    from ..pipeline.gatys import gatys
    from ..pipeline.stylizer import Stylizer
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    scorer = Scorer(style, device=device)
    st = Stylizer(style, family, backend="torch-cuda" if device.startswith("cuda") else "torch")
    style_img = _load(styles.style_image(style), 384)
    out: list[Score] = []
    for p in photos:
        x = _load(p, size)
        t = time.perf_counter()
        # through Stylizer.frame, as users get it: at the default stroke scale the net paints at
        # its working resolution (rtstyle.sizes.working_short) and the result is resized back
        y = ops.to_tensor(st.frame(ops.to_uint8(x)))
        out.append(Score(p.name, f"{st.family} net", *scorer.score(y, x), time.perf_counter() - t))
        log(_fmt(out[-1]))
        if gatys_iters > 0:   # minutes to hours on a CPU: a progress bar on stderr
            from tqdm import tqdm
            with tqdm(total=gatys_iters, desc=f"gatys {p.name[:24]}", unit="it", dynamic_ncols=True,
                      mininterval=5) as bar:
                def tick(_i: int, losses: dict) -> None:
                    bar.set_postfix(loss=f"{losses['total']:.3f}", refresh=False)
                    bar.update(1)
                res = gatys(x.to(device), style_img.to(device), iters=gatys_iters, progress=tick)
            out.append(Score(p.name, f"gatys-{gatys_iters}", *scorer.score(res.image.float().cpu(), x),
                             res.total_seconds))
            log(_fmt(out[-1]))
    st.close()
    return out


def _fmt(s: Score) -> str:
    return f"{s.photo:<32} {s.method:<14} content {s.content:.3f}  style {s.style:.3f}  shift {s.shift:.3f}  {s.seconds:.2f} s"


def table(scores: list[Score]) -> str:
    """Markdown table of scores plus per-method means."""
    rows = ["| photo | method | content ↓ | style ↓ | shift ↓ | seconds |", "|---|---|---|---|---|---|"]
    rows += [f"| {s.photo} | {s.method} | {s.content:.3f} | {s.style:.3f} | {s.shift:.3f} | {s.seconds:.2f} |"
             for s in scores]
    for m in sorted({s.method for s in scores}):
        sel = [s for s in scores if s.method == m]
        rows.append(f"| **mean** | {m} | {np.mean([s.content for s in sel]):.3f} | {np.mean([s.style for s in sel]):.3f}"
                    f" | {np.mean([s.shift for s in sel]):.3f} | {np.mean([s.seconds for s in sel]):.2f} |")
    return "\n".join(rows)
