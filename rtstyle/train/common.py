"""What every trainer shares: seeds, resumable checkpoints, CSV loss log, plots, sample grids."""
from __future__ import annotations

import csv
import dataclasses
import json
import random
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..files import atomic_write


@dataclasses.dataclass
class RunConfig:
    """The fields every trainer's config has (rtstyle.cli.flags.run_flags): seed, log / checkpoint
    schedule, time limit (0 = none; stops with a checkpoint), device, torch CPU threads (0 = torch's
    default), precision (auto | bf16 | fp32, :func:`choose_precision`) and shipped weights to start
    from when the run folder has no ckpt.pt."""
    seed: int = 0
    log_every: int = 25
    ckpt_every: int = 250
    max_minutes: float = 0.0
    device: str = "auto"
    threads: int = 0
    precision: str = "auto"
    init: str = ""


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def code_revision() -> str:
    """Short git revision of the source tree (+ '-dirty' with uncommitted changes), or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev + ("-dirty" if dirty else "")) if rev else "unknown"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


class LossLog:
    """Append-only CSV of (step, name=value, ...) rows that survives resumes."""

    def __init__(self, path: Path, fields: list[str]):
        self.path = Path(path)
        self.fields = ["step", *fields]
        if not self.path.exists():
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.fields)

    def add(self, step: int, **values: float) -> None:
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([step, *(f"{values.get(k, float('nan')):.6g}" for k in self.fields[1:])])

    def last(self) -> dict[str, float]:
        """The last logged row as {column: value} (empty before the first row)."""
        with self.path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        return {k: float(v) for k, v in rows[-1].items() if v not in ("", "nan")} if rows else {}

    def truncate_after(self, step: int) -> None:
        """Drop rows past ``step`` (after resuming from an older checkpoint)."""
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        with self.path.open("w", newline="") as f:
            csv.writer(f).writerows(keep)


def plot_losses(csv_path: Path, png_path: Path, title: str) -> bool:
    """Plot every column of a loss CSV against step (log y). False if matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    with Path(csv_path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in rows[0]:
        if key == "step":
            continue
        pts = [(int(r["step"]), float(r[key])) for r in rows if r[key] not in ("", "nan")]
        if pts:
            ax.plot(*zip(*pts), label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(Path(png_path), lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return True


def save_grid(rows: list[torch.Tensor], path: Path) -> None:
    """Write rows of (N, 3, H, W) [0, 1] images as one PNG grid (row-major)."""
    tiles = []
    for row in rows:
        arr = (row.detach().float().clamp(0, 1).cpu().permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        tiles.append(np.concatenate(list(arr), axis=1))
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles]
    grid = cv2.cvtColor(np.concatenate(tiles, axis=0), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", grid)
    atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(buf.tobytes()))


def save_checkpoint(path: Path, **state) -> None:
    """torch.save the state (model/optimiser dicts, step, RNG states) atomically."""
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def device_for(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else as given ('cpu', 'cuda:1')."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def start_run(cfg) -> tuple[torch.device, Path]:
    """What every trainer does first: pick the device, set CPU threads, make the run folder,
    write its config.json, seed every RNG. ``cfg``: a dataclass with device, threads, out, seed."""
    device = device_for(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")
    seed_all(cfg.seed)
    return device, out


def finish_run(net, weights: Path, manifest: dict, loop, note: str = "") -> Path:
    """Save the trained net as fp16 safetensors + manifest and say how the run ended (``note``
    after the step, e.g. the validation score)."""
    from ..weights import save_weights
    save_weights(net.cpu().float(), weights, manifest)
    print(f"{'stopped at time limit' if loop.stopped_early else 'finished'}: step {loop.step}{note}, weights {weights}")
    return weights


def cpu_info() -> dict:
    """The CPU's model name and the bf16 units it has (rtstyle.backends.cpu_features)."""
    from ..backends.cpu_features import BF16_FLAGS, detect
    cpu = detect()
    return {"model": cpu.name, "bf16_units": [f for f in BF16_FLAGS if f in cpu.flags]}


def _probe_ms(reps: int = 4) -> tuple[float, float]:
    """(fp32, bf16-autocast) ms of one fwd+bwd of a 3×3 64→64 conv pair at 64², batch 4, on the CPU.

    CPU time of this process, not wall time, with the two kinds interleaved and the best of ``reps``
    each: a trainer started beside others at nice 19 waits for the cores, and wall time then measured
    the wait (a compact run beside six lite runs probed fp32 129.6 ms, bf16 126.6 ms and trained in
    fp32, where the same probe alone had given 193.9 / 94.8 ms)."""
    g = torch.Generator().manual_seed(0)   # no global RNG draw: a resumed run stays bit-identical
    net = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(64, 64, 3, padding=1))
    x = torch.rand(4, 64, 64, 64, generator=g).contiguous(memory_format=torch.channels_last)
    net = net.to(memory_format=torch.channels_last)
    best = {False: float("inf"), True: float("inf")}
    for i in range(reps + 1):
        for bf16 in (False, True):
            t0 = time.process_time()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = net(x)
            y.float().square().mean().backward()
            if i:  # the first of each is warm-up
                best[bf16] = min(best[bf16], time.process_time() - t0)
    return best[False] * 1e3, best[True] * 1e3


@dataclasses.dataclass
class Precision:
    """How a trainer runs its forward passes: ``autocast`` (a reusable context manager), the
    ``name`` written into manifests ('bf16-autocast' or 'fp32'; master weights are always fp32) and
    ``why`` it was chosen."""
    autocast: torch.autocast
    name: str
    why: str

    def manifest(self) -> dict:
        return {"precision": self.name, "precision_reason": self.why}


def loop_precision(loop, device: torch.device, mode: str = "auto") -> Precision:
    """:func:`choose_precision` for a run on ``loop``: a resumed run with ``mode`` auto keeps the
    precision it started with (the probe is a timing, and a loaded machine can flip it, so a
    resumed run would not end where an uninterrupted one does); recorded in ``loop.extra``."""
    prec = choose_precision(device, mode, loop.extra.get("precision"))
    loop.extra["precision"] = prec.manifest()   # checkpointed, and in snapshots of a running run
    return prec


def choose_precision(device: torch.device, mode: str = "auto", previous: dict | None = None) -> Precision:
    """bf16 autocast or fp32 for ``device``; ``mode`` is auto | bf16 | fp32.

    CUDA: auto = bf16. CPU: auto = bf16 only where the CPU has bf16 units (AMX or AVX-512 BF16)
    *and* a short conv probe runs at least 15 % faster with it; otherwise fp32. bf16 autocast keeps
    some ops (reflection padding, mse_loss) in fp32, which the probe does not see, so the choice and
    the probe's numbers are printed and recorded in the manifest. ``previous`` (a
    :meth:`Precision.manifest` of the same run) is kept when ``mode`` is auto.
    """
    if mode not in ("auto", "bf16", "fp32"):
        raise ValueError(f"--precision {mode!r}: choose auto, bf16 or fp32")
    kind = device.type
    if mode == "fp32":
        name, why = "fp32", "--precision fp32"
    elif mode == "bf16":
        name, why = "bf16-autocast", "--precision bf16"
    elif previous and previous.get("precision") in ("fp32", "bf16-autocast"):
        name, why = previous["precision"], previous.get("precision_reason", "")
        print("precision: kept from the run's checkpoint")
    elif kind == "cuda":
        name, why = "bf16-autocast", "CUDA"
    else:
        info = cpu_info()
        if not info["bf16_units"]:
            name, why = "fp32", f"{info['model']}: no bf16 units (amx_bf16 / avx512_bf16)"
        else:
            f32, b16 = _probe_ms()
            fast = b16 < 0.85 * f32
            name = "bf16-autocast" if fast else "fp32"
            why = (f"{info['model']} has {'+'.join(info['bf16_units'])}; conv probe fp32 {f32:.1f} ms, "
                   f"bf16 {b16:.1f} ms -> {name}")
    autocast = torch.autocast("cuda" if kind == "cuda" else "cpu", dtype=torch.bfloat16,
                              enabled=name == "bf16-autocast")
    print(f"precision: {name} ({why})")
    return Precision(autocast, name, why)


def _grown(net: torch.nn.Module, state: dict, config: dict, path) -> dict:
    """``state`` grown to ``net`` when ``net`` is a lite net wider and/or deeper than the one that
    made ``state`` (same styles): the grown net starts as exactly that net (rtstyle.train.grow)."""
    from ..models.lite import LiteNet
    from .grow import deepen_lite, widen_lite
    want = getattr(net, "config", {})
    if not isinstance(net, LiteNet) or not config.get("width") or config.get("n_styles") != want["n_styles"]:
        return state
    (w0, w1), (r0, r1) = (config["width"], want["width"]), (config.get("n_res", 0), want["n_res"])
    if w1 < w0 or r1 < r0 or (w0, r0) == (w1, r1):
        return state   # not a growth: the shape check below says what does not fit
    print(f"grew {path} from width {w0}, {r0} residual blocks to width {w1}, {r1} (the same function to start)")
    return deepen_lite(widen_lite(state, w0, w1, r0), r0, r1)


def init_from_weights(net: torch.nn.Module, path: str) -> int:
    """Start ``net`` from shipped fp16 weights (when a run's ckpt.pt is gone): load them into the
    fp32 master copy and return the steps they had already trained (their manifest's iterations).
    A lite net wider or deeper than the one that made the weights starts as that net, grown."""
    from safetensors.torch import load_file
    from ..weights import read_manifest
    state = load_file(str(path))
    manifest = read_manifest(Path(path))
    state = _grown(net, state, manifest.get("config", {}), path)
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    bad = [k for k in state if k not in own or own[k].shape != state[k].shape]
    if missing or bad:
        raise ValueError(f"--init {path} does not fit this net (missing {missing[:3]}, mismatched {bad[:3]}); "
                         f"use the same --width/--n-res/styles as the run that made it")
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False)
    steps = int(manifest.get("iterations", 0))
    print(f"initialised from {path} ({steps} steps already trained)")
    return steps
