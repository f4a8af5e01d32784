"""What this CPU can do for inference, and the precision rtstyle runs OpenVINO at because of it.

Torch- and OpenVINO-free (``rtstyle doctor`` and the tests read it cheaply). On Linux the flags
come from ``/proc/cpuinfo``; elsewhere from OpenVINO's ``OPTIMIZATION_CAPABILITIES`` (``BF16``,
``INT8``), when OpenVINO imports.

Policy (:func:`choose_precision`): ``auto`` = bf16 where the CPU has bf16 units (AMX-BF16 or
AVX512-BF16), else f32. int8 is never automatic: it changes the look (docs/cpu.md), so it is
asked for with ``--precision int8``.
"""
from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..precision import PRECISIONS
# Flags that matter for inference precision, in the order doctor prints them.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
SHOWN_FLAGS = ("avx2", "avx512f", *BF16_FLAGS, *INT8_FLAGS, "amx_tile")


@dataclass(frozen=True)
class CpuFeatures:
    name: str
    flags: tuple[str, ...] = ()     # the SHOWN_FLAGS this CPU has
    source: str = "unknown"         # where the flags came from
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def bf16(self) -> bool:
        return any(f in self.flags for f in BF16_FLAGS)

    @property
    def amx(self) -> bool:
        return "amx_bf16" in self.flags

    @property
    def int8_units(self) -> bool:
        return any(f in self.flags for f in INT8_FLAGS)

    def describe(self) -> str:
        found = ", ".join(self.flags) or "none of " + ", ".join(SHOWN_FLAGS)
        return f"{self.name}: {found} (from {self.source})"


def parse_cpuinfo(text: str) -> CpuFeatures:
    """CpuFeatures from the text of ``/proc/cpuinfo`` (first processor's model name and flags)."""
    name, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key in ("flags", "Features") and not flags:   # x86 / aarch64
            flags = set(value.split())
    return CpuFeatures(name or platform.processor() or "unknown CPU",
                       tuple(f for f in SHOWN_FLAGS if f in flags), "/proc/cpuinfo")


@functools.lru_cache(maxsize=1)
def detect() -> CpuFeatures:
    """This machine's CpuFeatures (cached)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        try:
            return parse_cpuinfo(cpuinfo.read_text(errors="replace"))
        except OSError:
            pass
    try:   # Windows / macOS: ask OpenVINO what its CPU plugin can run
        import openvino as ov
        core = ov.Core()
        caps = set(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        flags = (("avx512_bf16",) if "BF16" in caps else ()) + (("avx512_vnni",) if "INT8" in caps else ())
        return CpuFeatures(str(core.get_property("CPU", "FULL_DEVICE_NAME")), flags,
                           "OpenVINO OPTIMIZATION_CAPABILITIES (BF16 -> bf16 units, INT8 -> int8 units)")
    except Exception:  # no OpenVINO, or no CPU plugin: say we don't know
        return CpuFeatures(platform.processor() or "unknown CPU", (), "nothing (no /proc/cpuinfo, no OpenVINO)")


def check_precision(text: str) -> str:
    """A --precision value, lower-cased; a UserError naming the choices otherwise."""
    p = (text or "auto").strip().lower()
    if p in ("fp32", "float32"):
        p = "f32"
    if p not in PRECISIONS:
        raise UserError(f"--precision {text!r} is not one of {', '.join(PRECISIONS)}")
    return p


def choose_precision(requested: str = "auto", cpu: CpuFeatures | None = None) -> tuple[str, str]:
    """(precision OpenVINO runs at: 'bf16' | 'f32' | 'int8', the reason in one clause).

    Raises UserError for bf16 on a CPU without bf16 units (OpenVINO would quietly run f32).
    """
    requested = check_precision(requested)
    cpu = cpu or detect()
    if requested == "auto":
        if cpu.bf16:
            units = "AMX" if cpu.amx else "AVX512-BF16"
            return "bf16", f"auto: the CPU has bf16 units ({units})"
        return "f32", "auto: the CPU has no bf16 units (no AMX-BF16 / AVX512-BF16)"
    if requested == "bf16" and not cpu.bf16:
        raise UserError(f"--precision bf16 needs a CPU with bf16 units (AMX or AVX512-BF16); {cpu.name} has "
                        f"neither; use --precision f32 (or auto)")
    if requested == "int8":
        units = "with int8 units (VNNI/AMX)" if cpu.int8_units else "without int8 units: may be slow"
        return "int8", f"asked for (--precision int8), NNCF post-training quantization; CPU {units}"
    return requested, f"asked for (--precision {requested})"
