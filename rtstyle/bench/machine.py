"""The machine a table was measured on: device, CPU, GPU, driver and library versions
(also used by ``rtstyle doctor``)."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def module_version(module: str) -> str:
    """``module.__version__``, 'not installed', or 'broken (<error>)' when the import fails."""
    import importlib
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return "not installed"
    except Exception as exc:  # present but unusable (missing shared libraries, ...)
        return f"broken ({type(exc).__name__}: {exc})"
    return str(getattr(mod, "__version__", "unknown"))


def nvidia_driver() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def environment() -> dict:
    """Device, CPU, cores, GPU, driver and library versions, and the load when measured."""
    import torch
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            gpus.append({"name": p.name, "capability": f"{p.major}.{p.minor}",
                         "memory_gib": round(p.total_memory / 2**30, 1)})
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    from .. import __version__
    env = {
        "device": f"CUDA: {gpus[0]['name']}" if gpus else f"CPU: {_cpu_model()}",
        "cpu": _cpu_model(),
        "cpu_flags": list(_cpu_flags()),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "gpus": gpus,
        "driver": nvidia_driver(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if gpus and torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"rtstyle": __version__, "torch": torch.__version__,
                     "onnxruntime": module_version("onnxruntime"), "onnx": module_version("onnx"),
                     "openvino": module_version("openvino"), "nncf": module_version("nncf"),
                     "tensorrt": module_version("tensorrt"), "av (PyAV)": module_version("av"),
                     "numpy": module_version("numpy")},
        "loadavg_1min_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    return env


def _cpu_flags() -> tuple[str, ...]:
    """The inference-relevant CPU flags (rtstyle.backends.cpu_features: avx512_bf16, amx_bf16, ...)."""
    from ..backends.cpu_features import detect
    return detect().flags


def environment_lines(env: dict) -> list[str]:
    gpu = "; ".join(f"{g['name']} (sm {g['capability']}, {g['memory_gib']} GiB)" for g in env["gpus"]) or "none"
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return [
        f"device  : {env['device']}",
        f"cpu     : {env['cpu']} ({', '.join(env.get('cpu_flags') or []) or 'no bf16/int8 flags'}), "
        f"{env['cores']} cores ({env['cores_usable']} usable), "
        f"threads: torch {env['torch_threads']}, onnxruntime {env.get('onnxruntime_threads', env['cores'])}; "
        f"load avg {env['loadavg_1min_at_start']} at start",
        f"gpu     : {gpu}; driver {env['driver'] or '-'}, CUDA (torch build) {env['cuda'] or '-'}, "
        f"cuDNN {env['cudnn'] or '-'}",
        f"software: Python {env['python']}, {versions}",
        f"platform: {env['platform']}, {env['date_utc']}",
    ]

