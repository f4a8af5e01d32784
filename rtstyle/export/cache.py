"""TensorRT engine cache: one file per (ONNX, profile, GPU, TensorRT version, precision).

An engine only runs on the GPU model and TensorRT version that built it, for the shapes of its
optimisation profile, so all of those go into the key. Each ``<key>.engine`` has a
``<key>.json`` sidecar holding the key, its parts, and the engine's byte size and sha256. A file
whose sidecar is missing, unreadable, for another key, or whose bytes no longer match (truncated,
overwritten) is deleted on lookup and reported as a miss, so the caller rebuilds it: a damaged or
foreign engine is never handed to TensorRT.

Pure Python: no TensorRT needed to key, store or validate.
"""
from __future__ import annotations

import hashlib
import os
import json
import time
from pathlib import Path
from typing import Callable, Iterable

from ..files import atomic_write

ENGINE_SUFFIX = ".engine"
SIDECAR_SUFFIX = ".json"


def _canonical(value):
    """Tuples -> lists, dict keys -> str, recursively, so equal values give equal JSON."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def key_parts(onnx_sha256: str, profile, gpu_name: str, compute_capability, trt_version: str,
              precision: str) -> dict:
    """The key's parts as a JSON-ready dict (what the sidecar records)."""
    return _canonical({
        "onnx_sha256": onnx_sha256,
        "profile": profile,
        "gpu_name": gpu_name,
        "compute_capability": compute_capability,
        "trt_version": trt_version,
        "precision": precision,
    })


def engine_key(onnx_sha256: str, profile, gpu_name: str, compute_capability, trt_version: str,
               precision: str) -> str:
    """sha256 (64 hex chars) of the canonical JSON of all parts.

    Args:
        onnx_sha256: hex digest of the ONNX file the engine is built from.
        profile: the optimisation profile, e.g. ``{"image": [[1,3,32,32], [1,3,720,1280], [1,3,1920,1920]]}``.
        gpu_name: ``torch.cuda.get_device_name()``.
        compute_capability: ``(major, minor)``.
        trt_version: ``tensorrt.__version__``.
        precision: ``'fp16'`` or ``'fp32'``.
    """
    return cache_key(key_parts(onnx_sha256, profile, gpu_name, compute_capability, trt_version, precision))


def cache_key(parts: dict) -> str:
    """sha256 (64 hex chars) of the canonical JSON of any key ``parts`` (e.g. an OpenVINO compiled
    model's: ONNX sha256, precision, OpenVINO version, CPU)."""
    text = json.dumps(_canonical(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class EngineCache:
    """A folder of ``<key>.engine`` files with ``<key>.json`` sidecars (see module docstring).

    ``suffix``: the compiled files' suffix (``.engine`` for TensorRT, ``.ovblob`` for OpenVINO).
    """

    def __init__(self, directory: Path, suffix: str = ENGINE_SUFFIX):
        self.dir = Path(directory)
        self.suffix = suffix
        self.last_rejection: str | None = None   # why the last lookup threw an entry away

    def path_for(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"engine key must be 64 lowercase hex chars (engine_key()), got {key!r}")
        return self.dir / f"{key}{self.suffix}"

    def sidecar_for(self, key: str) -> Path:
        return self.path_for(key).with_suffix(SIDECAR_SUFFIX)

    def _check(self, key: str) -> str | None:
        """Why the cached entry for ``key`` can't be used, or None when it is intact."""
        path, side = self.path_for(key), self.sidecar_for(key)
        try:
            info = json.loads(side.read_text())
        except FileNotFoundError:
            return "sidecar missing"
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"sidecar unreadable ({exc})"
        if not isinstance(info, dict) or info.get("key") != key:
            return "sidecar is for another key"
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return "engine file missing"
        if size != info.get("size"):
            return f"engine has {size} bytes, sidecar says {info.get('size')} (truncated or overwritten)"
        if sha256_file(path) != info.get("sha256"):
            return "engine bytes do not match the sidecar's sha256"
        return None

    def lookup(self, key: str, validator: Callable[[Path], bool] | None = None) -> Path | None:
        """The engine path for ``key`` if present and intact, else None (and any damaged files removed).

        ``validator(path) -> bool`` is an extra check (e.g. TensorRT deserialises it); False or an
        exception also removes the entry.
        """
        path = self.path_for(key)
        if not path.exists() and not self.sidecar_for(key).exists():
            return None
        reason = self._check(key)
        if reason is None and validator is not None:
            try:
                ok = validator(path)
            except Exception as exc:  # a validator failing for any reason means: rebuild
                ok, reason = False, f"validator raised {exc!r}"
            if not ok:
                reason = reason or "validator rejected it"
        if reason is not None:
            self.remove(key)
            self.last_rejection = reason
            return None
        return path

    def store(self, key: str, data: bytes, info: dict | None = None) -> Path:
        """Write ``data`` as the engine for ``key`` (atomically), then its sidecar.

        ``info``: the key's parts (see :func:`key_parts`) and anything else worth recording.
        The sidecar is written last, so an interrupted store leaves an entry that lookup rejects.
        """
        path = self.path_for(key)
        data = bytes(data)
        self.sidecar_for(key).unlink(missing_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        sidecar = {
            **_canonical(dict(info or {})),
            "key": key,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        text = json.dumps(sidecar, indent=2, sort_keys=True) + "\n"
        atomic_write(self.sidecar_for(key), lambda tmp: Path(tmp).write_text(text))
        return path

    def remove(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)
        self.sidecar_for(key).unlink(missing_ok=True)

    def keys(self) -> Iterable[str]:
        return sorted(p.stem for p in self.dir.glob(f"*{self.suffix}"))


def default_cache_dir() -> Path:
    """Where exported ONNX files and TensorRT engines are cached: $RTSTYLE_CACHE, else ./engines
    where it exists and can be written (an rtstyle checkout has one), else ~/.cache/rtstyle/engines."""
    env = os.environ.get("RTSTYLE_CACHE")
    if env:
        return Path(env)
    here = Path("engines")
    if here.is_dir() and os.access(here, os.W_OK):
        return here.resolve()
    return Path.home() / ".cache" / "rtstyle" / "engines"
