"""Procedural scenes with exact depth: ray casting in numpy, textured with our photos.

One view = a perspective camera (random height, pitch, yaw, roll, field of view) looking at a
ground plane, optional back and side walls of finite height, axis-aligned boxes, spheres and
people-sized upright billboards (a body + head silhouette), with sky at infinity above it all.
Every surface takes a photo from the texture pool by planar mapping (metres → texels, mirrored
tiling, a mip level per pixel against aliasing), Lambert shading under a random sun, and haze that
grows with distance (aerial perspective, a real monocular cue). Rendering is vectorised per pixel:
Python loops run over the ~10 objects only, never over pixels.

``render_view(seed, h, w)`` -> :class:`View` with ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32
z-depth in metres (distance along the optical axis; sky = :data:`SKY_DEPTH`), ``sky`` (H, W) bool.
The same seed always gives the same view. ``make_shard`` caches views to an .npz file.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

SKY_DEPTH = 1.0e4   # metres: farther than any surface (the scene ends well inside 1 km)
_FAR = np.float32(np.inf)
_TEX = 128          # texture side in texels (mip level 0)
_LEVELS = 5         # mip levels 0..4 (128 .. 8 texels)


@dataclass
class View:
    rgb: np.ndarray     # (H, W, 3) uint8 RGB
    depth: np.ndarray   # (H, W) float32 z-depth in metres, SKY_DEPTH where sky
    sky: np.ndarray     # (H, W) bool


class TexturePool:
    """Square photo crops as mip pyramids, loaded once: ``levels[l]`` is (T, 128 >> l, 128 >> l, 3) float32 [0, 1]."""

    def __init__(self, images: list[np.ndarray]):
        if not images:
            raise ValueError("the texture pool needs at least one image")
        base = np.stack([_square(im, _TEX) for im in images]).astype(np.float32) / 255.0
        self.levels = [base]
        for _ in range(1, _LEVELS):
            prev = self.levels[-1]
            self.levels.append(0.25 * (prev[:, ::2, ::2] + prev[:, 1::2, ::2] + prev[:, ::2, 1::2] + prev[:, 1::2, 1::2]))

    def __len__(self) -> int:
        return len(self.levels[0])

    @classmethod
    def from_folder(cls, folder: str | Path, limit: int = 96, seed: int = 0, exclude=None) -> "TexturePool":
        """Up to ``limit`` photos of ``folder`` (every k-th of the sorted list, reproducible);
        ``exclude(files) -> files`` drops photos first (the held-out test photos)."""
        files = sorted(p for p in Path(folder).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if exclude is not None:
            files = exclude(files)
        if not files:
            raise FileNotFoundError(f"no photos in {folder} to texture the synthetic scenes with")
        step = max(1, len(files) // limit)
        images = []
        for p in files[::step][:limit]:
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if bgr is not None:
                images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return cls(images)

    @classmethod
    def procedural(cls, n: int = 8, seed: int = 0) -> "TexturePool":
        """Noise and stripe textures, for tests and when no photos are at hand."""
        rng = np.random.default_rng(seed)
        images = []
        for i in range(n):
            noise = cv2.resize(rng.random((8 << (i % 3), 8 << (i % 3), 3)).astype(np.float32), (_TEX, _TEX),
                               interpolation=cv2.INTER_CUBIC)
            stripes = 0.5 + 0.5 * np.sin(np.arange(_TEX) / (2 + i))[None, :, None]
            images.append((np.clip(0.6 * noise + 0.4 * stripes, 0, 1) * 255).astype(np.uint8))
        return cls(images)


def _square(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(img[y:y + s, x:x + s], (side, side), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=4)
def default_pool(folder: str | None = None, exclude=None) -> TexturePool:
    """The photos of ``folder`` (default: /work/shared/data/content or $RTSTYLE_DATA/content), else
    procedural; ``exclude`` as in :meth:`TexturePool.from_folder`."""
    import os
    cands = [folder] if folder else [os.path.join(os.environ.get("RTSTYLE_DATA", "/work/shared/data"), "content")]
    for c in cands:
        if c and Path(c).is_dir():
            return TexturePool.from_folder(c, exclude=exclude)
    return TexturePool.procedural()


# -- camera -----------------------------------------------------------------------------------

def _camera(rng, h: int, w: int):
    """Ray origin (3,) and per-pixel directions (H·W, 3) with unit forward component (t = z-depth)."""
    height = rng.uniform(0.4, 3.0)
    pitch = np.radians(rng.uniform(-22, 8))
    yaw = np.radians(rng.uniform(-30, 30))
    roll = np.radians(rng.normal(0, 3))
    fov = np.radians(rng.uniform(45, 85))            # horizontal
    f = (w / 2) / np.tan(fov / 2)
    fwd = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    right = np.cross([0.0, 1.0, 0.0], fwd)
    right /= np.linalg.norm(right)
    up = np.cross(fwd, right)
    right, up = np.cos(roll) * right + np.sin(roll) * up, np.cos(roll) * up - np.sin(roll) * right
    jj, ii = np.meshgrid(np.arange(w) + 0.5 - w / 2, np.arange(h) + 0.5 - h / 2)
    d = (jj.reshape(-1, 1) / f) * right + (-ii.reshape(-1, 1) / f) * up + fwd
    return np.array([0.0, height, 0.0]), d.astype(np.float32), f, (fwd, yaw, fov)


# -- surfaces ---------------------------------------------------------------------------------

class _Hits:
    """Z-buffer over pixels: nearest t, its surface point, normal, texture coords and texture id."""

    def __init__(self, n: int):
        self.t = np.full(n, _FAR, np.float32)
        self.normal = np.zeros((n, 3), np.float32)
        self.uv = np.zeros((n, 2), np.float32)
        self.tex = np.full(n, -1, np.int32)
        self.tint = np.ones((n, 3), np.float32)

    def add(self, t, origin, d, surface_fn, tex_id: int, tint):
        """Keep ``t`` where nearer; ``surface_fn(points, idx)`` -> (normals, uv) of the kept hits."""
        m = np.isfinite(t) & (t > 1e-3) & (t < self.t)
        if not m.any():
            return
        idx = np.nonzero(m)[0]
        p = origin + t[idx, None] * d[idx]
        normal, uv = surface_fn(p, idx)
        self.t[idx] = t[idx]
        self.normal[idx] = normal
        self.uv[idx] = uv
        self.tex[idx] = tex_id
        self.tint[idx] = tint


def _plane_t(o, d, axis: int, value: float):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (value - o[axis]) / d[:, axis]
    return np.where(t > 0, t, _FAR).astype(np.float32)


def _box_t(o, d, lo, hi):
    """Slab test: entry t (inf on miss) and the entry axis of each ray."""
    tmins, tmaxs = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(3):
            inv = np.float32(1.0) / d[:, k]
            t1 = (np.float32(lo[k] - o[k])) * inv
            t2 = (np.float32(hi[k] - o[k])) * inv
            tmins.append(np.nan_to_num(np.minimum(t1, t2), nan=-np.inf))
            tmaxs.append(np.nan_to_num(np.maximum(t1, t2), nan=np.inf))
    near = np.maximum(np.maximum(tmins[0], tmins[1]), tmins[2])
    far = np.minimum(np.minimum(tmaxs[0], tmaxs[1]), tmaxs[2])
    hit = (near <= far) & (near > 0)
    axis = np.where(tmins[0] >= np.maximum(tmins[1], tmins[2]), 0, np.where(tmins[1] >= tmins[2], 1, 2))
    return np.where(hit, near, _FAR).astype(np.float32), axis


def _sphere_t(o, d, c, r):
    oc = o - c
    a = (d * d).sum(1)
    b = 2 * (d @ oc)
    disc = b * b - 4 * a * (oc @ oc - r * r)
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / (2 * a)
    return np.where((disc > 0) & (t > 0), t, _FAR).astype(np.float32)


def _person_mask(s, v):
    """Silhouette on a billboard, s across and v up in [0, 1]: a rounded body and a head."""
    body = (np.abs(s - 0.5) < 0.32 - 0.1 * np.clip((v - 0.55) / 0.25, 0, 1)) & (v < 0.8)
    head = (s - 0.5) ** 2 / 0.03 + (v - 0.89) ** 2 / 0.012 < 1
    return body | head


# -- scene ------------------------------------------------------------------------------------

def _uv_axes(normal_axis: int):
    return {0: (2, 1), 1: (0, 2), 2: (0, 1)}[normal_axis]


def render_view(seed: int, h: int = 96, w: int = 128, pool: TexturePool | None = None, supersample: int = 2,
                layout: str | None = None, objects: bool = True) -> View:
    """One random scene seen from one random camera; deterministic in ``seed``. See the module docstring.

    ``layout`` forces 'open' (ground and sky), 'back' (+ a back wall) or 'canyon' (+ side walls);
    ``objects=False`` leaves out boxes, spheres and people (both for tests and figures).
    """
    pool = pool if pool is not None else default_pool()
    rng = np.random.default_rng(seed)
    ss = max(1, supersample)
    H, W = h * ss, w * ss
    o, d, f, (fwd, yaw, fov) = _camera(rng, H, W)
    hits = _Hits(H * W)
    n_tex = len(pool)

    def tex():
        return int(rng.integers(n_tex))

    def tint():
        return rng.uniform(0.6, 1.25, 3).astype(np.float32)

    def planar(axis, sign, scale):
        a, b = _uv_axes(axis)
        nrm = np.zeros(3, np.float32)
        nrm[axis] = sign

        def fn(p, idx):
            return nrm, np.stack([p[:, a], p[:, b]], 1) * scale
        return fn

    # Ground, and walls of finite height (a street canyon, a courtyard or a room without a roof).
    hits.add(_plane_t(o, d, 1, 0.0), o, d, planar(1, 1.0, rng.uniform(0.15, 0.6)), tex(), tint())
    kind = rng.choice(["open", "back", "canyon"], p=[0.35, 0.3, 0.35])
    kind = layout or kind
    if kind != "open":
        zb = rng.uniform(8, 60)
        hb = rng.uniform(2, 25)
        tb = _plane_t(o, d, 2, zb)
        yb = o[1] + tb * d[:, 1]
        hits.add(np.where(yb < hb, tb, _FAR), o, d, planar(2, -1.0, rng.uniform(0.1, 0.4)), tex(), tint())
    if kind == "canyon":
        for side in (-1.0, 1.0):
            xs = side * rng.uniform(2.5, 12)
            hs = rng.uniform(2, 20)
            ts = _plane_t(o, d, 0, xs)
            ys = o[1] + ts * d[:, 1]
            hits.add(np.where(ys < hs, ts, _FAR), o, d, planar(0, -side, rng.uniform(0.1, 0.4)), tex(), tint())

    # Objects in front of the camera, inside the view cone.
    half = np.tan(fov / 2)

    def place(zmin, zmax):
        z = np.exp(rng.uniform(np.log(zmin), np.log(zmax)))
        x = rng.uniform(-1.1, 1.1) * half * z
        ang = yaw
        return np.array([x * np.cos(ang) + z * np.sin(ang), 0.0, -x * np.sin(ang) + z * np.cos(ang)])

    for _ in range(rng.integers(0, 7) if objects else 0):            # boxes: crates, cars, buildings
        c = place(2, 50)
        size = rng.uniform(0.3, 1.0, 3) * (np.array([6, 8, 6]) if rng.random() < 0.4 else np.array([1.5, 1.8, 1.5]))
        lift = rng.uniform(0.5, 3) if rng.random() < 0.15 else 0.0
        lo = np.array([c[0] - size[0] / 2, lift, c[2] - size[2] / 2])
        hi = np.array([c[0] + size[0] / 2, lift + size[1], c[2] + size[2] / 2])
        if np.all(o > lo - 0.3) and np.all(o < hi + 0.3):
            continue
        t, axis = _box_t(o, d, lo, hi)
        scale = rng.uniform(0.15, 0.6)

        def box_fn(p, idx, axis=axis, lo=lo, hi=hi, scale=scale):
            ax = axis[idx]
            nrm = np.zeros((len(idx), 3), np.float32)
            sign = np.where(d[idx, ax] > 0, -1.0, 1.0)
            nrm[np.arange(len(idx)), ax] = sign
            ua = np.choose(ax, [p[:, 2], p[:, 0], p[:, 0]])
            va = np.choose(ax, [p[:, 1], p[:, 2], p[:, 1]])
            return nrm, np.stack([ua, va], 1) * scale
        hits.add(t, o, d, box_fn, tex(), tint())

    for _ in range(rng.integers(0, 4) if objects else 0):            # spheres: balls, boulders, bushes
        c = place(2, 40)
        r = rng.uniform(0.2, 2.0)
        c[1] = r if rng.random() < 0.8 else r + rng.uniform(0.5, 3)
        if np.linalg.norm(o - c) < r + 0.3:
            continue
        scale = rng.uniform(1.0, 3.0)

        def sphere_fn(p, idx, c=c, r=r, scale=scale):
            nrm = (p - c) / r
            u = np.arctan2(nrm[:, 0], nrm[:, 2]) * r * scale
            v = np.arcsin(np.clip(nrm[:, 1], -1, 1)) * r * scale
            return nrm, np.stack([u, v], 1)
        hits.add(_sphere_t(o, d, c, r), o, d, sphere_fn, tex(), tint())

    for _ in range(rng.integers(0, 6) if objects else 0):            # people: upright billboards facing the camera
        c = place(1.5, 30)
        bw, bh = rng.uniform(0.45, 0.75), rng.uniform(1.5, 1.95)
        n = np.array([o[0] - c[0], 0.0, o[2] - c[2]])
        n /= np.linalg.norm(n) + 1e-9
        across = np.array([n[2], 0.0, -n[0]])
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((c - o) @ n) / (d @ n)
        p = o + np.where(np.isfinite(t), t, 0)[:, None] * d
        s = (p - c) @ across / bw + 0.5
        v = p[:, 1] / bh
        t = np.where((t > 0) & _person_mask(s, v), t, _FAR).astype(np.float32)

        def board_fn(pts, idx, c=c, n=n, across=across, bw=bw):
            return n.astype(np.float32), np.stack([(pts - c) @ across, pts[:, 1]], 1) * (1.5 / bw)
        hits.add(t, o, d, board_fn, tex(), tint())

    rgb = _shade(hits, d, pool, f, rng).reshape(H, W, 3)
    depth = np.where(np.isfinite(hits.t), hits.t, SKY_DEPTH).astype(np.float32).reshape(H, W)
    if ss > 1:
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        depth = depth[ss // 2::ss, ss // 2::ss]   # one exact sample per pixel, never a blend across an edge
    rgb = _camera_effects(rgb, rng)
    return View(rgb=rgb, depth=np.ascontiguousarray(depth), sky=depth >= SKY_DEPTH)


def _mirror(u: np.ndarray, side: int) -> np.ndarray:
    """Texel index of coordinate ``u`` under mirrored repetition (0..side-1, side-1..0, ...)."""
    k = np.floor(u).astype(np.int64) % (2 * side)
    return np.where(k < side, k, 2 * side - 1 - k)


def _shade(hits: _Hits, d, pool: TexturePool, f: float, rng) -> np.ndarray:
    dn = d / np.linalg.norm(d, axis=1, keepdims=True)
    # Sky: horizon-to-zenith gradient with soft clouds.
    el = np.clip(dn[:, 1], -1, 1)
    horizon = rng.uniform(0.7, 1.0, 3) * np.array([1.0, 0.97, 0.93])
    zenith = np.array([0.25, 0.45, 0.85]) * rng.uniform(0.6, 1.2) if rng.random() < 0.75 else horizon * rng.uniform(0.6, 0.9)
    k = np.clip(el * rng.uniform(2, 5), 0, 1)[:, None]
    sky = (1 - k) * horizon + k * zenith
    cloud_amt = rng.uniform(0, 0.5)
    if cloud_amt > 0.05:
        cu = dn[:, 0] / np.maximum(el, 0.05)
        cv = dn[:, 2] / np.maximum(el, 0.05)
        # Soft clouds: a few random sinusoids on a plane high above the camera.
        cloud = np.zeros_like(cu)
        for _ in range(4):
            fx, fz, ph = rng.normal(0, 2.0), rng.normal(0, 2.0), rng.uniform(0, 2 * np.pi)
            cloud += np.sin(fx * cu + fz * cv + ph)
        cloud = np.clip(cloud / 2, 0, 1)
        sky = sky + cloud_amt * (cloud * (1.0 - sky.mean(1)))[:, None] * np.clip(el * 4, 0, 1)[:, None]
    out = sky.astype(np.float32)

    surf = hits.tex >= 0
    if surf.any():
        idx = np.nonzero(surf)[0]
        t = hits.t[idx]
        # Texels per pixel ~ distance · texels-per-metre / focal length / cos(incidence): pick a mip level.
        cos_i = np.abs((hits.normal[idx] * dn[idx]).sum(1)).clip(0.15, 1)
        uvscale = 32.0   # texels per texture-coordinate unit
        level = np.clip(np.log2(np.maximum(t * uvscale / (f * cos_i), 1e-6)) + 0.5, 0, _LEVELS - 1).astype(np.int64)
        albedo = np.empty((len(idx), 3), np.float32)
        for lv in range(_LEVELS):
            m = level == lv
            if not m.any():
                continue
            tex = pool.levels[lv]
            side = tex.shape[1]
            uv = hits.uv[idx[m]] * (uvscale / (1 << lv))
            # Mirrored tiling: no seams where the photo repeats.
            tid = hits.tex[idx[m]]
            if lv == 0:   # magnified near surfaces: bilinear, not blocky texels
                u, v = uv[:, 0] - 0.5, -uv[:, 1] - 0.5
                fu, fv = (u - np.floor(u))[:, None], (v - np.floor(v))[:, None]
                u0, u1, v0, v1 = _mirror(u, side), _mirror(u + 1, side), _mirror(v, side), _mirror(v + 1, side)
                albedo[m] = ((1 - fv) * ((1 - fu) * tex[tid, v0, u0] + fu * tex[tid, v0, u1])
                             + fv * ((1 - fu) * tex[tid, v1, u0] + fu * tex[tid, v1, u1]))
            else:
                albedo[m] = tex[tid, _mirror(-uv[:, 1], side), _mirror(uv[:, 0], side)]
        albedo *= hits.tint[idx]
        sun = np.array([rng.uniform(-1, 1), rng.uniform(0.3, 1.0), rng.uniform(-1, 0.5)])
        sun /= np.linalg.norm(sun)
        lambert = np.clip(hits.normal[idx] @ sun, 0, 1)[:, None]
        ambient = rng.uniform(0.35, 0.6)
        col = albedo * (ambient + (1.1 - ambient) * lambert)
        # Aerial perspective: colours fade to the horizon's haze with distance.
        fog = np.exp(-t / rng.uniform(40, 400))[:, None]
        col = fog * col + (1 - fog) * horizon
        out[idx] = col
    return out.astype(np.float32)


def _camera_effects(rgb: np.ndarray, rng) -> np.ndarray:
    """Exposure, colour cast, a little blur and sensor noise; float [0, 1] -> uint8."""
    x = rgb * rng.uniform(0.75, 1.25) * rng.uniform(0.92, 1.08, 3)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 0.8))
    x = x + rng.normal(0, rng.uniform(0, 0.02), x.shape)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_batch(seeds, h: int, w: int, pool: TexturePool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views for ``seeds`` stacked: rgb (N, H, W, 3) uint8, depth (N, H, W) float32, sky (N, H, W) bool."""
    views = [render_view(int(s), h, w, pool) for s in seeds]
    return (np.stack([v.rgb for v in views]), np.stack([v.depth for v in views]), np.stack([v.sky for v in views]))


def make_shard(path: str | Path, seeds, h: int, w: int, pool: TexturePool | None = None) -> Path:
    """Render ``seeds`` into a compressed .npz (rgb, depth as float16, sky, seeds)."""
    rgb, depth, sky = render_batch(seeds, h, w, pool)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, rgb=rgb, depth=np.minimum(depth, 6.0e4).astype(np.float16), sky=sky,
                        seeds=np.asarray(list(seeds), np.int64))
    return path


def load_shard(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.load(path)
    return z["rgb"], z["depth"].astype(np.float32), z["sky"]
