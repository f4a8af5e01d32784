"""Shippable weights from a run's latest checkpoint, while the run goes on.

A CPU training run can be stopped at any moment and only what is committed lasts, so progress is
shipped as it is made: :func:`snapshot` reads ``run/ckpt.pt`` (written atomically by TrainLoop)
and ``run/config.json`` and writes fp16 safetensors + manifest, marked ``"complete": false``
until the run reaches its planned steps. The running trainer is not touched.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import torch

from ..families import VECTOR_STYLED, weights_stem
from ..files import atomic_write
from ..weights import build_model, save_weights
from . import common

# run kind -> the key of the stylizing net in ckpt.pt's "state"
_KINDS = {
    "transformer": "net",
    "adain": "decoder",
    "lite": "net",
}


def _kind(cfg: dict) -> str:
    if "family" in cfg:
        return "transformer"
    if "width_scale" in cfg:
        return "adain"
    if "teacher" in cfg:
        return "lite"
    raise ValueError("run folder's config.json is not a transformer, adain or lite run")


def describe(run: Path) -> dict:
    """Family, styles, net config and weights stem of the run in ``run``."""
    cfg = json.loads((Path(run) / "config.json").read_text())
    kind = _kind(cfg)
    if kind == "transformer":
        net_cfg = dict(cfg["model"])
        if cfg["family"] in VECTOR_STYLED:
            net_cfg["n_styles"] = len(cfg["styles"])
        return {"kind": kind, "family": cfg["family"], "styles": cfg["styles"], "config": net_cfg,
                "stem": weights_stem(cfg["family"], cfg["styles"]), "cfg": cfg}
    if kind == "adain":
        return {"kind": kind, "family": "adain", "styles": [], "config": {"width_scale": cfg["width_scale"]},
                "stem": "adain-decoder", "cfg": cfg}
    styles = cfg["styles"]
    return {"kind": kind, "family": "lite", "styles": styles, "config": {"n_styles": len(styles), **cfg["model"]},
            "stem": weights_stem("lite", styles), "cfg": cfg}


def _revision(run: Path) -> str:
    """The git revision of the checkout the run folder is in (the training worktree), or 'unknown'."""
    import subprocess
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=run, capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def snapshot(run: Path, dest: Path, extra: dict | None = None, trained: bool = False) -> tuple[Path, dict]:
    """Write ``dest/<stem>.safetensors`` + manifest from ``run/ckpt.pt``; returns (path, manifest).
    A run trained with ``--ema`` ships its moving average; ``trained=True`` takes the trained net."""
    run = Path(run)
    info = describe(run)
    cfg = info["cfg"]
    saved = torch.load(run / "ckpt.pt", map_location="cpu", weights_only=False)
    net = build_model(info["family"], info["config"])
    key = _KINDS[info["kind"]]
    if info["kind"] == "transformer" and "ema" in saved["state"] and not trained:   # --ema: the average ships
        key = "ema"
    net.load_state_dict(saved["state"][key])
    log = common.LossLog(run / "losses.csv", [])
    last = log.last()
    steps = int(saved["step"])
    manifest = {
        "family": info["family"], "styles": list(info["styles"]), "config": info["config"],
        "data": f"photos from {Path(cfg['data']).name}/ ({cfg['crop']}px crops, batch {cfg['batch']})",
        "iterations": steps, "planned_iterations": int(cfg["iters"]), "complete": steps >= int(cfg["iters"]),
        "train_loss": {k: round(v, 6) for k, v in last.items() if k not in ("step", "val_total")},
        "val_loss": round(last.get("val_total", float("nan")), 6), "logged_at_step": int(last.get("step", 0)),
        "wall_time_s": round(float(saved["wall"]), 1), "snapshot_of": run.name,
        "train_photo_short": int(cfg.get("photo_short") or cfg["crop"] * 1.5),   # as TransformerConfig.photo_px
        "margin": int(cfg.get("margin", 0)),   # as TransformerConfig.margin: the Stylizer paints with at least it
        "device": f"cpu ({cfg.get('threads') or 'default'} threads)" if cfg.get("device") in ("cpu", "auto") and
                  not torch.cuda.is_available() else str(cfg.get("device")),
        "code_revision": _revision(run),
        "cpu": common.cpu_info()["model"], **saved.get("extra", {}).get("precision", {}),
        **(extra or {}),
    }
    if info["kind"] == "transformer":
        manifest["loss_scales"] = saved.get("extra", {}).get("scales")
        manifest["loss_weights"] = {k: cfg[f"{k}_weight"] for k in ("content", "style", "shift", "tv")}
        manifest["taps"] = {"content": cfg["content_tap"], "style": cfg["style_taps"]}
        manifest["style_size"] = cfg["style_size"]
        if key == "ema":
            manifest["ema"] = cfg["ema"]
    if info["kind"] == "lite":   # as rtstyle.train.distill's own manifest
        from .distill import FEATURE_TAP
        extra_state = saved.get("extra", {})
        if "teachers" in extra_state:
            manifest["teachers"] = extra_state["teachers"]
        manifest["loss_weights"] = {"pixel": cfg["pixel_weight"], "feature": cfg["feature_weight"],
                                    "consistency": cfg["consistency_weight"], "noise": cfg["noise"]}
        manifest["taps"] = {"feature": FEATURE_TAP}
        manifest["loss_scales"] = {"feature": extra_state.get("feature_scale")}
    if info["kind"] == "adain":
        manifest.update({"arbitrary_style": True, "encoder": "vgg19_relu4_1.safetensors",
                         "held_out_styles": sorted(cfg.get("hold_out", [])), "loss_weights":
                         {"content": 1.0, "style": cfg["style_weight"]}})
    path = Path(dest) / f"{info['stem']}.safetensors"
    save_weights(net.eval(), path, manifest)
    return path, manifest


def copy_run_docs(run: Path, dest: Path, quality: int = 85) -> list[Path]:
    """Copy what a shipped run shows in ``docs/runs/<stage>/``: its loss curves (``losses.csv``,
    ``losses.png``) and its last sample grid as ``samples_last.jpg`` (JPEG at ``quality``: the PNG
    grids are about 1 MB each and every ship of a stage committed one more). A ``samples_last.png``
    left by an earlier ship of the same stage is removed, so the folder shows one grid, the newest."""
    run, dest = Path(run), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("losses.csv", "losses.png"):
        if (run / name).exists():
            shutil.copy2(run / name, dest / name)
            written.append(dest / name)
    grids = sorted(run.glob("samples_*.png"))
    if grids:
        img = cv2.imread(str(grids[-1]), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{grids[-1]}: not a readable sample grid")
        _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        atomic_write(dest / "samples_last.jpg", lambda tmp: Path(tmp).write_bytes(buf.tobytes()))
        (dest / "samples_last.png").unlink(missing_ok=True)
        written.append(dest / "samples_last.jpg")
    return written
