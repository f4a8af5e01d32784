"""Train the relative-depth hourglass (rtstyle.models.depth) from ordinal pairs.

Each step's batch mixes:

- synthetic views (rtstyle.train.depth_data.synth) with exact depth: ranking loss on dense pairs, plus an
  optional scale-invariant log-depth loss (Eigen et al. 2014) on the non-sky pixels (``si_weight``);
- real photos with weak pairs (lower on the ground = nearer, weight ``ground_weight``; sky farther,
  weight ``sky_weight`` where the sky detector finds one);
- optionally frames of a clip with structure-from-motion pairs (``sfm_clip``, weight ``sfm_weight``);
- optionally pseudo-labels from the photo cues (``cue_weight``): on photos with a shallow depth of
  field (focus ratio >= ``cue_gate``, rtstyle.depth_cues.focus_ratio), pairs ordered by the cue map
  "sharp and central = nearer" (``PHOTO_CUES``), so the net may learn what a near subject looks like and
  use it on photos sharp all over, where the cue itself says nothing. The photos of the validation
  pairs (rtstyle/bench/depth/val_pairs.json) give no cue pairs, so that validation stays honest.

Photos of the human-judged test set (rtstyle.bench.depth.heldout) and their crops are dropped from the
weak-cue photos and from the scene textures. ``model={"prior": "rows"}`` trains the residual net
(output = prior "lower is nearer" + a correction that starts at zero); ``init`` from weights of a
plain net (no prior) loads its body and keeps the zero head, so step 0 is exactly the prior.

Synthetic views come from a replay buffer: ``buffer`` views rendered at start, ``fresh`` new ones
(never seen seeds) replacing random slots every step, so the renderer's cost is bounded and the
data keeps changing. ``workers`` > 0 renders in a process pool (GPU machines have cores to spare).
Validation: ``val_views`` held-out views from seeds no training view uses, scored by ordinal
accuracy on fixed random pairs (rtstyle.bench.depth.metrics).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import losses
from ..depth_cues import CueConfig, cue_depth, focus_ratio, sharpness, sky_mask
from ..ops import colorize, to_tensor
from ..bench.depth.metrics import merge, ordinal_accuracy
from ..bench.depth.truth import dense_pairs
from .depth_data import pairs as P
from .depth_data import real as real_data
from .depth_data import synth
from ..models.depth import build_depth_net
from . import common
from .loop import TrainLoop

# Cue map for pseudo-labels: centre + sharpness, the weights that ordered the validation pairs best
# ungated (91 of 98, docs/depth.md "B"); the gate is applied per photo by the trainer instead.
PHOTO_CUES = CueConfig(centre=0.25, sharp=0.5)
VAL_SEED0 = 1_000_000_000      # validation views: seeds VAL_SEED0 + i; training seeds stay far below


@dataclasses.dataclass
class DepthConfig(common.RunConfig):
    variant: str = "rt"                            # full | rt
    model: dict = dataclasses.field(default_factory=dict)   # overrides of the variant (width, top)
    out: str = "runs/depth-rt"
    height: int = 96
    width: int = 128
    batch: int = 8                                 # synthetic views per step
    real_batch: int = 4                            # real photos per step (0 = none)
    sfm_batch: int = 2                             # SfM frames per step (when sfm_clip is set)
    iters: int = 3000
    lr: float = 1e-3
    pairs: int = 800                               # pairs per synthetic view
    tau: float = 0.02                              # equal when |z_a / z_b - 1| < tau
    si_weight: float = 0.5                         # dense scale-invariant log-depth loss on synthetic views
    real_data: str = ""                            # folder of photos for weak pairs ("" = none)
    textures: str = ""                             # folder of photos texturing the scenes ("" = default)
    ground_weight: float = 0.05
    sky_weight: float = 0.2
    sfm_clip: str = ""                             # video with camera motion ("" = none)
    sfm_frames: tuple = (0, 300)                   # frame range used for training (the rest is for testing)
    sfm_weight: float = 0.3
    cue_weight: float = 0.0                        # pseudo-pairs from PHOTO_CUES on shallow-focus photos (0 = off)
    cue_gate: float = 1.2                          # focus ratio a photo needs to give cue pairs
    stereo_scenes: tuple = ()                      # stereodemo scenes with measured stereo pairs (never TEST)
    stereo_batch: int = 2                          # stereo scenes per step (when stereo_scenes is set)
    stereo_weight: float = 0.3
    buffer: int = 512
    fresh: int = 2                                 # new synthetic views per step
    workers: int = 0                               # render processes (0 = in this process)
    val_views: int = 48
    ckpt_every: int = 200


_POOLS: dict = {}


def _pool(textures: str):
    """The scene textures (held-out photos excluded), loaded once per process."""
    if textures not in _POOLS:
        from ..bench.depth.heldout import exclude
        _POOLS[textures] = synth.default_pool(textures or None, exclude=exclude)
    return _POOLS[textures]


def _render(args):
    seed, h, w, textures = args
    return synth.render_view(seed, h, w, _pool(textures))


class SynthBuffer:
    """Replay buffer of rendered views; ``step()`` renders ``fresh`` unseen seeds into random slots."""

    def __init__(self, cfg: DepthConfig, next_seed: int | None = None):
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed + 17)
        self.pool = self.pending = None
        if cfg.workers > 0:
            import multiprocessing as mp
            self.pool = mp.get_context("spawn").Pool(cfg.workers)
        base = cfg.seed * 100_000_000
        self.next_seed = next_seed if next_seed is not None else base + cfg.buffer
        first = range(self.next_seed - cfg.buffer, self.next_seed)
        views = self._render(first)
        self.rgb = np.stack([v.rgb for v in views])
        self.depth = np.stack([v.depth for v in views])

    def _render(self, seeds):
        jobs = [(int(s), self.cfg.height, self.cfg.width, self.cfg.textures) for s in seeds]
        if self.pool is not None:
            return self.pool.map(_render, jobs, chunksize=max(1, len(jobs) // (4 * self.cfg.workers)))
        return [_render(j) for j in jobs]

    def step(self) -> None:
        """Put ``fresh`` newly rendered views into random slots. With workers, the views rendered
        during the previous step go in and the next ones start rendering in the background."""
        if self.cfg.fresh <= 0:
            return
        seeds = range(self.next_seed, self.next_seed + self.cfg.fresh)
        self.next_seed += self.cfg.fresh
        if self.pool is not None:
            views = self.pending.get() if self.pending is not None else []
            jobs = [(int(s), self.cfg.height, self.cfg.width, self.cfg.textures) for s in seeds]
            self.pending = self.pool.map_async(_render, jobs)
        else:
            views = self._render(seeds)
        slots = self.rng.choice(len(self.rgb), size=len(views), replace=False)
        for s, v in zip(slots, views):
            self.rgb[s], self.depth[s] = v.rgb, v.depth

    def batch(self, n: int):
        idx = self.rng.choice(len(self.rgb), size=n, replace=n > len(self.rgb))
        rgb, depth = self.rgb[idx].copy(), self.depth[idx].copy()
        flip = self.rng.random(n) < 0.5
        rgb[flip], depth[flip] = rgb[flip, :, ::-1], depth[flip, :, ::-1]
        return rgb, depth

    def close(self):
        if self.pool is not None:
            self.pool.terminate()


class RealPhotos:
    """Photos kept at low resolution with their sky masks; ``batch`` = random crops + weak pairs."""

    def __init__(self, files, h: int, w: int, seed: int, cue_files=None, cue_gate: float = 1.2):
        self.h, self.w = h, w
        self.rng = np.random.default_rng(seed + 29)
        self.images, self.skies, self.cues = [], [], []
        cue_ok = {str(f) for f in cue_files or []}
        for f in files:
            bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            s = 1.3 * max(h / bgr.shape[0], w / bgr.shape[1])
            rgb = cv2.cvtColor(cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            self.images.append(rgb)
            self.skies.append(sky_mask(rgb))
            self.cues.append(_cue_map(rgb, cue_gate) if str(f) in cue_ok else None)
        if not self.images:
            raise FileNotFoundError("no readable photos for the weak pairs")

    @property
    def n_cue_photos(self) -> int:
        return sum(c is not None for c in self.cues)

    def batch(self, n: int, k: int):
        """``n`` crops; ground pairs for each, (index, pairs) for those with a sky or a cue map."""
        rgbs, ground, sky, cue = [], [], [], []
        for j in range(n):
            i = int(self.rng.integers(len(self.images)))
            img, mask, cmap = self.images[i], self.skies[i], self.cues[i]
            y = int(self.rng.integers(img.shape[0] - self.h + 1))
            x = int(self.rng.integers(img.shape[1] - self.w + 1))
            win = (slice(y, y + self.h), slice(x, x + self.w))
            crop = img[win]
            m = None if mask is None else mask[win]
            c = None if cmap is None else cmap[win]
            if self.rng.random() < 0.5:
                crop = crop[:, ::-1]
                m = None if m is None else m[:, ::-1]
                c = None if c is None else c[:, ::-1]
            rgbs.append(crop)
            ground.append(P.ground_pairs(self.h, self.w, 2 * k, self.rng).resample(k, self.rng))
            if m is not None and 0.02 < m.mean() < 0.8:
                sky.append((j, P.sky_pairs(m, k, self.rng)))
            if c is not None:
                cue.append((j, dense_pairs(np.ascontiguousarray(c), 2 * k, self.rng, tau=0.1).resample(k, self.rng)))
        return np.stack(rgbs), ground, sky, cue


def _cue_map(rgb: np.ndarray, gate: float) -> np.ndarray | None:
    """exp(PHOTO_CUES depth) (positive, for pair labels) where the photo's focus ratio reaches ``gate``."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    if focus_ratio(sharpness(grey)) < gate:
        return None
    return np.exp(cue_depth(rgb, PHOTO_CUES)).astype(np.float32)


def _stack(pair_list, device):
    return [torch.from_numpy(np.stack([getattr(p, a) for p in pair_list])).to(device) for a in ("ia", "ib", "r")]


def si_loss(z: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Scale-invariant log-depth error: mean(e²) − mean(e)², e = z − log d over valid pixels, per image."""
    e = (z - torch.log(depth.clamp_min(1e-3))) * valid
    n = valid.sum(dim=(1, 2, 3)).clamp_min(1)
    m1 = e.sum(dim=(1, 2, 3)) / n
    m2 = e.pow(2).sum(dim=(1, 2, 3)) / n
    return (m2 - m1.pow(2)).mean()


def validation_set(cfg: DepthConfig, n: int | None = None):
    """Held-out synthetic views (seeds VAL_SEED0 + i) and fixed uniform random pairs for each."""
    n = cfg.val_views if n is None else n
    views = [_render((VAL_SEED0 + i, cfg.height, cfg.width, cfg.textures)) for i in range(n)]
    rng = np.random.default_rng(12345)
    pairs = [dense_pairs(v.depth, 2000, rng, cfg.tau, local_frac=0.0) for v in views]
    return views, pairs


@torch.no_grad()
def predict(net, rgb: np.ndarray, device, autocast, chunk: int = 16) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H, W) float32 depth predictions."""
    net.eval()
    out = []
    for s in range(0, len(rgb), chunk):
        with autocast:
            out.append(net(to_tensor(rgb[s:s + chunk]).to(device)).float()[:, 0].cpu().numpy())
    return np.concatenate(out)


def evaluate(net, views, pairs, device, autocast) -> dict:
    pred = predict(net, np.stack([v.rgb for v in views]), device, autocast)
    return merge([ordinal_accuracy(p, pr) for p, pr in zip(pred, pairs)])


def _sample_rows(net, views, device, autocast) -> list[torch.Tensor]:
    """Sample-grid rows: the views, their true depth and the net's, colourised."""
    pred = predict(net, np.stack([v.rgb for v in views]), device, autocast)
    rows = [np.stack([v.rgb for v in views]),
            np.stack([colorize(np.log(v.depth)) for v in views]),
            np.stack([colorize(p) for p in pred])]
    return [to_tensor(r) for r in rows]


def train(cfg: DepthConfig, resume: bool = True) -> Path:
    """Train (resuming from ``out/ckpt.pt`` when present); returns the weights path."""
    if cfg.height % 16 or cfg.width % 16:
        raise ValueError(f"--size {cfg.width}x{cfg.height}: both sides must be multiples of 16")
    device, out = common.start_run(cfg)
    net = build_depth_net(cfg.variant, **cfg.model).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched_total = max(1, cfg.iters)
    loop = TrainLoop(out, iters=cfg.iters, log_every=cfg.log_every, ckpt_every=cfg.ckpt_every,
                     max_minutes=cfg.max_minutes, fields=["total", "rank_syn", "si", "ground", "sky", "sfm", "cue", "stereo"],
                     state={"model": net, "opt": opt}, desc=f"depth-{cfg.variant}",
                     title=f"depth {cfg.variant}", val_field="val_acc")
    if not (resume and loop.resume(device)) and cfg.init:
        loop.step = _init(net, cfg.init)
    step = loop.step

    t_start = time.time()
    synth_buf = SynthBuffer(cfg, loop.extra.get("next_seed"))
    real = sfm = None
    n_real_files = 0
    if cfg.real_data and cfg.real_batch > 0:
        from ..bench.depth.heldout import exclude
        from .data import list_images, split
        from ..bench.depth.heldout import VAL_PAIRS_FILE, heldout_bases
        files, _ = split(exclude(list_images(cfg.real_data)))
        n_real_files = len(files)
        cue_files = exclude(files, heldout_bases(VAL_PAIRS_FILE)) if cfg.cue_weight > 0 else []
        real = RealPhotos(files, cfg.height, cfg.width, cfg.seed + step, cue_files, cfg.cue_gate)
    if cfg.sfm_clip and cfg.sfm_batch > 0:
        sfm = real_data.sfm_frames(cfg.sfm_clip, tuple(cfg.sfm_frames), cfg.width, cfg.height, cfg.seed)
    stereo = (real_data.stereo_scenes(tuple(cfg.stereo_scenes), cfg.width, cfg.height, cfg.pairs, cfg.seed)
              if cfg.stereo_scenes and cfg.stereo_batch > 0 else None)
    val_views, val_pairs = validation_set(cfg)
    print(f"data ready in {time.time() - t_start:.0f} s: buffer {cfg.buffer} views, "
          f"{n_real_files} photos ({0 if real is None else real.n_cue_photos} with cue pairs), {0 if sfm is None else len(sfm)} SfM frames, "
          f"{0 if stereo is None else len(stereo)} stereo scenes, {len(val_views)} val views")

    prec = common.loop_precision(loop, device, cfg.precision)
    autocast = prec.autocast
    rng = np.random.default_rng(cfg.seed * 7 + step)
    parts: dict[str, float] = {}

    def step_fn(step: int) -> dict:
        net.train()
        for g in opt.param_groups:   # cosine decay to 10 % of lr over the run
            g["lr"] = cfg.lr * (0.55 + 0.45 * np.cos(np.pi * min(step, sched_total) / sched_total))
        synth_buf.step()
        loop.extra["next_seed"] = synth_buf.next_seed   # checkpointed: a resumed run renders new views
        rgb, depth = synth_buf.batch(cfg.batch)
        syn_pairs = [dense_pairs(d, cfg.pairs, rng, cfg.tau).resample(cfg.pairs, rng) for d in depth]
        imgs = [rgb]
        if real is not None:
            r_rgb, ground, sky, cue = real.batch(cfg.real_batch, cfg.pairs // 4)
            imgs.append(r_rgb)
        if sfm is not None:
            pick = rng.integers(len(sfm), size=cfg.sfm_batch)
            imgs.append(np.stack([sfm[i][0] for i in pick]))
        if stereo is not None:
            pick_st = rng.integers(len(stereo), size=cfg.stereo_batch)
            flips = rng.random(cfg.stereo_batch) < 0.5
            imgs.append(np.stack([stereo[i][1 if f else 0][0] for i, f in zip(pick_st, flips)]))
        x = to_tensor(np.concatenate(imgs)).to(device, non_blocking=True)
        with autocast:
            z = net(x)
        z = z.float()
        nb = cfg.batch
        terms = {"rank_syn": losses.ranking_loss(z[:nb], *_stack(syn_pairs, device))}
        if cfg.si_weight > 0:
            d = torch.from_numpy(depth).to(device)[:, None]
            terms["si"] = cfg.si_weight * si_loss(z[:nb], d, (d < synth.SKY_DEPTH).float())
        k = nb
        if real is not None:
            zr = z[k:k + cfg.real_batch]
            terms["ground"] = cfg.ground_weight * losses.ranking_loss(zr, *_stack(ground, device))
            if sky:
                idx = torch.tensor([j for j, _ in sky], device=device)
                terms["sky"] = cfg.sky_weight * losses.ranking_loss(zr[idx], *_stack([p for _, p in sky], device))
            if cue and cfg.cue_weight > 0:
                idx = torch.tensor([j for j, _ in cue], device=device)
                terms["cue"] = cfg.cue_weight * losses.ranking_loss(zr[idx], *_stack([p for _, p in cue], device))
            k += cfg.real_batch
        if sfm is not None:
            sp = [sfm[i][1].resample(cfg.pairs // 4, rng) for i in pick]
            terms["sfm"] = cfg.sfm_weight * losses.ranking_loss(z[k:k + cfg.sfm_batch], *_stack(sp, device))
            k += cfg.sfm_batch
        if stereo is not None:
            stp = [stereo[i][1 if f else 0][1].resample(cfg.pairs // 4, rng) for i, f in zip(pick_st, flips)]
            terms["stereo"] = cfg.stereo_weight * losses.ranking_loss(z[k:k + cfg.stereo_batch], *_stack(stp, device))
        total = sum(terms.values())
        if not torch.isfinite(total):
            raise FloatingPointError(f"loss became {total.item()} at step {step}; lower --lr")
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        parts.clear()
        parts.update({k: v.item() for k, v in terms.items()} | {"total": total.item()})
        return parts

    loop.started = time.time()   # the time limit counts from here, after the data is ready
    loop.run(step_fn, lambda: evaluate(net, val_views, val_pairs, device, autocast)["all"],
             lambda: _sample_rows(net, val_views[:6], device, autocast))
    synth_buf.close()
    last_val = evaluate(net, val_views, val_pairs, device, autocast)
    manifest = {
        "family": "depth", "styles": [], "config": dict(net.config),
        "data": (f"synthetic scenes ({cfg.width}x{cfg.height}, textures from {Path(cfg.textures).name or 'content'}/; "
                 f"buffer {cfg.buffer}, {cfg.fresh} fresh/step, {synth_buf.next_seed} seeds used), "
                 f"{n_real_files} photos from {Path(cfg.real_data).name or '-'}/ with weak pairs, "
                 f"SfM pairs from {Path(cfg.sfm_clip).name or '-'} frames {list(cfg.sfm_frames) if cfg.sfm_clip else '-'}"
                 + (f", measured stereo pairs of stereodemo scenes {', '.join(cfg.stereo_scenes)}"
                    if stereo is not None else "")),
        "iterations": loop.step, "complete": not loop.stopped_early,
        "train_loss": {k: round(v, 6) for k, v in parts.items()},
        "val_ordinal_accuracy": {k: round(v, 4) for k, v in last_val.items()},
        "val": f"{len(val_views)} held-out synthetic views (seeds {VAL_SEED0}+), 2000 uniform pairs each, "
               f"tau {cfg.tau}, equal_tol 0.02",
        "loss_weights": {"si": cfg.si_weight, "ground": cfg.ground_weight, "sky": cfg.sky_weight,
                         "sfm": cfg.sfm_weight, "cue": cfg.cue_weight,
                         **({"stereo": cfg.stereo_weight} if stereo is not None else {})},
        **({"cue_pairs": f"{real.n_cue_photos} photos with focus ratio >= {cfg.cue_gate}, cue map "
                         f"{PHOTO_CUES.to_dict()}; none from the validation-pair photos"}
           if real is not None and cfg.cue_weight > 0 else {}),
        "input": "RGB [0,1]; output (N,1,H,W) relative depth, larger = farther (~log metres on synthetic scenes)",
        "wall_time_s": round(loop.wall, 1), "device": common.device_name(device), "code_revision": common.code_revision(),
    }
    return common.finish_run(net, out / f"depth-{cfg.variant}.safetensors", manifest, loop,
                             f", val ordinal accuracy {last_val['all']:.3f}")


def _init(net, path: str) -> int:
    """Start from shipped weights. Into a residual net (prior='rows') from a plain one, load all but
    the head, which stays zero: the start is exactly the prior. Returns the steps already trained."""
    from safetensors.torch import load_file
    from ..weights import read_manifest
    man = read_manifest(Path(path))
    if getattr(net, "prior", "none") != "none" and man["config"].get("prior", "none") == "none":
        state = {k: v.float() for k, v in load_file(str(path)).items() if not k.startswith("head.")}
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("head.") and k != "prior_gain"
                   and not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"--init {path} does not fit this net (missing {missing[:3]}, unexpected {unexpected[:3]})")
        print(f"initialised the body from {path} (plain net, {man.get('iterations', 0)} steps); head at zero = the prior")
        return 0
    return common.init_from_weights(net, path)
