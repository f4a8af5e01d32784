"""Export parity: each runtime's output against torch fp32 on the CPU, in 8-bit levels.

For every weights file rtstyle finds (rtstyle/weights and $RTSTYLE_WEIGHTS) and, with
--architectures, the benchmark's default architectures with random weights, run real photos
(samples/) at each size through torch fp32 on the CPU (the reference) and through:

  onnxruntime       the exported ONNX file (fp32 weights), on onnxruntime's first provider
  onnxruntime-fp16  the ONNX file exported with --fp16 (fp16 weights, float32 inputs/outputs)
  torch-cuda        fp16 + channels_last + CUDA graphs (on a CUDA GPU)
  tensorrt          an FP16 engine built from the ONNX file (where TensorRT and a GPU are present)

and report max and mean |difference| × 255 (8-bit levels; a level is what one step of an 8-bit
image is) and the share of 8-bit output values that differ after rounding. Depth maps are relative,
so they are first divided by the reference's range (max − min): their levels are of the normalised map.

    python scripts/parity.py [--sizes 256,241x357] [--architectures] [--json F] [--markdown F]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle import backends  # noqa: E402
from rtstyle.bench.machine import environment, environment_lines  # noqa: E402
from rtstyle.bench.specs import DEFAULT_MODELS, ModelSpec, model_specs, shipped, split_list  # noqa: E402
from rtstyle.export.onnx import export_onnx, family_net  # noqa: E402
from rtstyle.backends.torch_backend import TorchBackend  # noqa: E402
from rtstyle.families import VECTOR_STYLED  # noqa: E402
from rtstyle.io.images import read_image  # noqa: E402

PHOTOS = ["portrait_grace_hopper.jpg", "animal_red_panda.jpg"]


def parse_size(text: str) -> tuple[int, int]:
    """'256' -> (256, 256); 'HxW' -> (H, W)."""
    h, _, w = text.lower().partition("x")
    return int(h), int(w or h)


def photos(size: tuple[int, int]) -> torch.Tensor:
    """(len(PHOTOS), 3, H, W) float RGB in [0, 1]: the sample photos resized to ``size``."""
    h, w = size
    imgs = [cv2.resize(read_image(ROOT / "samples" / p)[0], (w, h), interpolation=cv2.INTER_AREA) for p in PHOTOS]
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0


def extra_for(family: str, model, n: int) -> dict:
    """Real per-frame inputs: a style one-hot row / the mosaic painting's AdaIN statistics."""
    if family in VECTOR_STYLED:
        style = torch.zeros(n, int(model.config["n_styles"]))
        style[:, 0] = 1.0
        return {"style": style}
    if family == "adain":
        from rtstyle import styles
        from rtstyle.weights import adain_net
        rgb, _ = read_image(styles.style_image("mosaic"))
        img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            mean, std = adain_net(model).style_stats(img)
        return {"style_mean": mean.expand(n, -1, -1, -1), "style_std": std.expand(n, -1, -1, -1),
                "alpha": torch.ones(n, 1, 1, 1)}
    return {}


def run_frames(be, x: torch.Tensor, extra: dict) -> torch.Tensor:
    """One frame at a time (batch 1, as the pipeline runs and TensorRT's default profile allows)."""
    dev, outs = be.device, []
    with torch.inference_mode():
        for i in range(x.shape[0]):
            outs.append(be(x[i:i + 1].to(dev), **{k: v[i:i + 1].to(dev) for k, v in extra.items()}).float().cpu())
    return torch.cat(outs)


def levels(ref: torch.Tensor, out: torch.Tensor, family: str) -> dict:
    ref, out = ref.float().cpu(), out.float().cpu()
    if family == "depth":   # relative depth: compare on the reference's normalised scale
        lo, hi = ref.amin(dim=(1, 2, 3), keepdim=True), ref.amax(dim=(1, 2, 3), keepdim=True)
        scale = (hi - lo).clamp_min(1e-12)
        ref, out = (ref - lo) / scale, (out - lo) / scale
    d = (ref - out).abs() * 255.0
    q = lambda t: (t.clamp(0, 1) * 255.0).round()  # noqa: E731
    return {"max_levels": d.max().item(), "mean_levels": d.mean().item(),
            "differ_8bit_pct": 100.0 * (q(ref) != q(out)).float().mean().item()}


def runtimes(model, family: str, meta: dict, work: Path) -> tuple[dict, dict]:
    """({name: loaded Backend} for each comparison that can run here, {name: why not} for the rest)."""
    out, why = {}, {}
    fp32 = export_onnx(model, family, work / f"{family}.onnx", meta)
    fp16 = export_onnx(model, family, work / f"{family}-fp16.onnx", meta, fp16=True)
    from rtstyle.backends.onnxruntime_backend import OnnxRuntimeBackend
    out["onnxruntime"] = OnnxRuntimeBackend(fp32, family=family).load()
    out["onnxruntime-fp16"] = OnnxRuntimeBackend(fp16, family=family).load()
    for name in ("torch-cuda", "tensorrt"):
        spec = backends.spec_named(name)
        reason = backends.unavailable_reason(spec)
        if reason:
            why[name] = reason
            continue
        try:
            out[name] = backends.create(spec, model, family, meta, work)
        except Exception as exc:  # a runtime that fails is reported, the others still run
            why[name] = f"{type(exc).__name__}: {exc}"
    return out, why


def models(architectures: bool) -> list[ModelSpec]:
    specs = [ModelSpec(m["family"], m["family"], m["config"], p)
             for fam in ("johnson", "compact", "multi", "lite", "adain", "depth") for p, m in shipped(fam)]
    if architectures:
        specs += model_specs(list(DEFAULT_MODELS) + ["compact-down", "depth-rt"], random_init=True)
    return specs


def save(a, env: dict, rows: list[dict], notes: dict) -> None:
    if a.json:
        a.json.write_text(json.dumps({"environment": env, "rows": rows, "unavailable": notes}, indent=2) + "\n")
    if a.markdown:
        lines = [f"- {line}" for line in environment_lines(env)]
        lines += ["- reference: torch fp32 on the CPU; inputs: " + ", ".join(PHOTOS) + " resized to each size (HxW)", ""]
        lines += ["| model | config | weights | runtime | size | max Δ (levels) | mean Δ (levels) | 8-bit values differing |",
                  "|---|---|---|---|---|---:|---:|---:|"]
        for r in rows:
            cfg = " ".join(f"{k}={v}" for k, v in r["config"].items())
            lines.append(f"| {r['model']} | {cfg} | {r['weights']} | {r['runtime']} | {r['size']} | "
                         f"{r['max_levels']:.3f} | {r['mean_levels']:.4f} | {r['differ_8bit_pct']:.2f}% |")
        if notes:
            lines += [""] + [f"- {k} not compared: {v}" for k, v in notes.items()]
        a.markdown.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256,241x357", help="sizes: S or HxW, comma-separated (odd sizes test padding)")
    ap.add_argument("--architectures", action="store_true",
                    help="also the default architectures with random weights (labelled so)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None)
    a = ap.parse_args(argv)
    sizes = [parse_size(s) for s in split_list(a.sizes)]
    specs = models(a.architectures)
    if not specs:
        print("no weights found and --architectures not given: nothing to compare", file=sys.stderr)
        return 1
    rows, notes = [], {}
    env = environment()
    for spec in specs:
        model, config = spec.build()
        meta = {"config": config, "styles": []}
        with tempfile.TemporaryDirectory(prefix="rtstyle-parity-") as tmp:
            runs, why = runtimes(model, spec.family, meta, Path(tmp))
            notes.update(why)
            ref_be = TorchBackend(family_net(model, spec.family), family=spec.family).load()
            for size in sizes:
                x = photos(size)
                extra = extra_for(spec.family, model, x.shape[0])
                ref = run_frames(ref_be, x, extra)
                for name, be in runs.items():
                    y = run_frames(be, x, extra)
                    provider = getattr(be, "session", None)
                    label = name + (f" ({provider.get_providers()[0].replace('ExecutionProvider', '')})"
                                    if provider is not None else "")
                    rows.append({"model": spec.name, "family": spec.family, "config": config,
                                 "weights": spec.weights_label, "runtime": label, "size": f"{size[0]}x{size[1]}",
                                 **levels(ref, y, spec.family)})
                    r = rows[-1]
                    print(f"{spec.name:<12} {label:<28} {r['size']:>8}: max {r['max_levels']:.3f} "
                          f"mean {r['mean_levels']:.4f} levels, {r['differ_8bit_pct']:.2f}% of 8-bit values differ",
                          flush=True)
            for be in runs.values():
                be.close()
        save(a, env, rows, notes)   # after every model: a run cut short keeps what it compared
    return 0


if __name__ == "__main__":
    sys.exit(main())
