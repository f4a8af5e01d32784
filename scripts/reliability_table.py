"""Run every case of tests/reliability_cases.py and write the table of docs/reliability.md.

Each row: the case, the command (run in a fresh folder holding the inputs the case builds), the
exact stderr it printed and the exit code, and whether the case's checks passed (the same checks
tests/test_reliability.py makes). The soak section of docs/reliability.md is kept as it is.

    python scripts/reliability_table.py [--doc docs/reliability.md] [--json F]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

BEGIN, END = "<!-- cases: begin (scripts/reliability_table.py) -->", "<!-- cases: end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    """Inline code for a table cell; text holding a backtick gets a double-backtick span."""
    return f"`` {_cell(text)} ``" if "`" in text else f"`{_cell(text)}`"


def table(rows: list[dict]) -> str:
    lines = ["| case | what | command | stderr (exact) | exit | checked |", "|---|---|---|---|---|---|"]
    for r in rows:
        err = "<br>".join(_code(ln) for ln in r["stderr"]) or "(nothing)"
        ok = "✓ " + r["checks"] if not r["problems"] else "✗ " + "; ".join(r["problems"])
        lines.append(f"| `{r['id']}` | {_cell(r['what'])} | {_code(r['command'])} | {err} | {r['exit']} | "
                     f"{_cell(ok)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "reliability.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = ap.parse_args(argv)

    from reliability_cases import CASES
    from reliability_harness import problems, run_case
    rows = []
    with tempfile.TemporaryDirectory(prefix="rtstyle-reliability-") as tmp:
        cache = Path(tmp) / "engines"
        for case in CASES:
            folder = Path(tmp) / case.id
            folder.mkdir()
            r = run_case(case, folder, cache)
            bad = problems(case, r, folder)
            rows.append({"id": case.id, "what": case.what, "command": shlex.join(r.argv),
                         "stderr": r.err_lines, "exit": r.code, "problems": bad,
                         "checks": case.checks or ("one line, nothing written" if case.message else ""),
                         "seconds": round(r.seconds, 2)})
            last = r.err_lines[-1] if r.err_lines else ""
            print(f"{'ok ' if not bad else 'BAD'} {case.id:<24} exit {r.code:<3} {last}" + (f"  <- {bad}" if bad else ""),
                  flush=True)
    text = table(rows)
    machine = (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPU cores, "
               f"user {'root' if hasattr(os, 'geteuid') and os.geteuid() == 0 else 'non-root'}; "
               f"generated {time.strftime('%Y-%m-%d')}")
    block = f"{BEGIN}\nMachine: {machine}.\n\n{text}\n{END}"
    doc = a.doc.read_text() if a.doc.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{a.doc} lacks the markers {BEGIN} ... {END}")
    head, rest = doc.split(BEGIN, 1)
    a.doc.write_text(head + block + rest.split(END, 1)[1])
    print(f"wrote {a.doc} ({len(rows)} cases, {sum(1 for r in rows if r['problems'])} failing)")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if any(r["problems"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
