"""A :class:`~rtstyle.bench.timing.Report` as a text table, markdown, and files."""
from __future__ import annotations

import sys
from pathlib import Path

from .machine import environment_lines
from .specs import GATYS_REFERENCE_ITERS
from .timing import Report


def _config_text(config: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in config.items() if k not in ("iters",)) or "-"


def _fmt(x: float) -> str:
    if x >= 1000:
        return f"{x:.0f}"
    if x >= 100:
        return f"{x:.1f}"
    if x >= 10:
        return f"{x:.2f}"
    return f"{x:.3f}"


def table(report: Report) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the one table: rows model × backend × precision; per size p50, p95, fps."""
    sizes = report.settings["sizes"]
    header = ["model", "config", "weights", "backend", "precision", "mode"]
    for s in sizes:
        header += [f"{s}² p50 ms", f"{s}² p95 ms", f"{s}² fps"]
    body = []
    for r in report.rows:
        name = f"gatys (per iteration, k={r.config.get('iters')})" if r.family == "gatys" else r.model
        line = [name, _config_text(r.config), r.weights, r.backend, r.precision, r.mode or "-"]
        for s in sizes:
            c = r.cells.get(s)
            if c is not None:
                line += [_fmt(c.p50_ms), _fmt(c.p95_ms), f"{c.fps:.2f}" if c.fps < 10 else f"{c.fps:.1f}"]
            elif r.error:
                line += ["error", "", ""]
            else:
                line += ["skipped" if s in r.skipped else "-", "", ""]
        body.append(line)
    return header, body


def gatys_lines(report: Report) -> list[str]:
    out = []
    for r in report.rows:
        if r.family != "gatys" or not r.cells:
            continue
        parts = [f"{s}²: {c.gatys['total_500_s']:.1f} s ({c.gatys['how']})" for s, c in sorted(r.cells.items())]
        out.append(f"Gatys, {GATYS_REFERENCE_ITERS} iterations per image on {r.backend}: " + "; ".join(parts))
    return out


def pipeline_lines(p: dict | None) -> list[str]:
    if not p:
        return []
    return [f"Pipeline (end to end, decode → stylize → encode, threads overlapping; not model latency): "
            f"{Path(p['clip']).name} {p['source_size']} → {p['size']}, {p['model']} on {p['backend']} "
            f"{p['precision']} {p['mode']}: {p['frames']} frames in {p['wall_s']:.2f} s = {p['fps']:.1f} fps; "
            f"per frame decode {p['decode_ms_per_frame']:.1f} ms, stylize {p['stylize_ms_per_frame']:.1f} ms, "
            f"encode {p['encode_ms_per_frame']:.1f} ms{' (+ audio copy)' if p['audio'] else ''}"]


def _how(report: Report) -> str:
    s = report.settings
    parts = []
    for timing in dict.fromkeys(r.timing for r in report.rows if r.policy):
        p = next(r.policy for r in report.rows if r.timing == timing and r.policy)
        parts.append(f"{timing}: {p['warmup']} warm-up call(s), then at least {p['iters']} iterations and "
                     f"{p['min_time']:g} s (a slow cell stops after {p['budget']:g} s with at least {p['min_samples']})")
    return (f"batch {s['batch']}, square RGB float frames already on the backend's device; "
            + "; ".join(parts or ["nothing timed"]) + "; fps = 1000 / p50")


def render_text(report: Report) -> str:
    header, body = table(report)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["rtstyle bench: per-frame latency (ms) of each model × backend × precision"]
    if report.settings.get("command"):
        lines.append(f"command : {report.settings['command']}")
    lines += [*environment_lines(report.environment), f"method  : {_how(report)}", ""]
    lines.append("  ".join(h.rjust(w) if i >= 6 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for r in body:
        lines.append("  ".join(c.rjust(w) if i >= 6 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    extra = gatys_lines(report) + pipeline_lines(report.pipeline)
    if extra:
        lines += [""] + extra
    if report.notes:
        lines += [""] + [f"note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    header, body = table(report)
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *body]]
    lines = [f"- command: `{report.settings['command']}`"] if report.settings.get("command") else []
    lines += [f"- {line.split(':', 1)[0].strip()}: {line.split(':', 1)[1].strip()}" for line in environment_lines(report.environment)]
    lines += [f"- method: {_how(report)}", ""]
    lines.append("| " + " | ".join(esc[0]) + " |")
    lines.append("|" + "|".join(["---"] * 6 + ["---:"] * (len(header) - 6)) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    extra = gatys_lines(report) + pipeline_lines(report.pipeline)
    if extra:
        lines += [""] + [f"- {x}" for x in extra]
    if report.notes:
        lines += [""] + [f"- note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def write_output(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    from ..files import atomic_write
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))

