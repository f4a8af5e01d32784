"""How a case of tests/reliability_cases.py runs and is judged: ``Case`` (one row of
docs/reliability.md), ``run_case`` (in-process through ``rtstyle.cli.main`` with stdout/stderr
captured at the Python and the file-descriptor level, so a C library writing to stderr would show;
or as a real ``python -m rtstyle.cli`` process where a case needs a signal) and ``problems`` (what
is wrong with a result: exit code, the one stderr line, files left behind, the output check).
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    """One row of docs/reliability.md.

    ``build(folder) -> argv``: writes the inputs; ``exit_code`` / ``message``: the expected status
    and a substring of the one stderr line (``message=None``: a success, which may print warnings);
    ``absent``: paths that must not exist afterwards; ``check(folder)``: asserts on a success's
    output (shape, frames); ``fault(folder)``: a context manager simulating a fault during the run;
    ``sigint_after``: run as a subprocess and send SIGINT once this file (glob) appears.
    """

    id: str
    what: str
    build: Callable[[Path], list[str]]
    exit_code: int
    message: str | None = None
    absent: tuple[str, ...] = ()
    check: Callable[[Path], None] | None = None
    checks: str = ""          # what ``check`` asserts, for the doc
    fault: Callable[[Path], contextlib.AbstractContextManager] | None = None
    sigint_after: str | None = None
    env: dict = field(default_factory=dict)


@dataclass
class Result:
    argv: list[str]
    code: int
    out: str
    err: str
    seconds: float
    before: set[str] = field(default_factory=set)   # files after building the inputs, before the run

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]


# -- running -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _captured():
    """Capture stdout/stderr of Python (sys.*) and of C code (file descriptors 1 and 2)."""
    py_out, py_err = io.StringIO(), io.StringIO()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    fd_out, fd_err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    os.dup2(fd_out.fileno(), 1)
    os.dup2(fd_err.fileno(), 2)
    got = {}
    try:
        with contextlib.redirect_stdout(py_out), contextlib.redirect_stderr(py_err):
            yield got
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for f in (fd_out, fd_err):
            f.seek(0)
        got["out"] = py_out.getvalue() + fd_out.read().decode(errors="replace")
        got["err"] = py_err.getvalue() + fd_err.read().decode(errors="replace")
        fd_out.close()
        fd_err.close()


@contextlib.contextmanager
def _environment(folder: Path, env: dict):
    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in env}
    os.chdir(folder)
    os.environ.update(env)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_sigint(case: Case, argv: list[str], folder: Path, env: dict) -> Result:
    penv = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    # preexec_fn: a shell without job control starts background commands (`bash .ci/run &`) with
    # SIGINT ignored, the child inherits that and Python then installs no KeyboardInterrupt handler.
    p = subprocess.Popen([sys.executable, "-m", "rtstyle.cli", *argv], cwd=folder, env=penv,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not list(folder.glob(case.sigint_after)):   # the temporary output: frames are being written
            if p.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return Result(["rtstyle", *argv], p.returncode, out, err, time.perf_counter() - t0)


def run_case(case: Case, folder: Path, cache_dir: Path | None = None) -> Result:
    """Build ``case`` in ``folder`` (empty) and run it; ``cache_dir``: $RTSTYLE_CACHE unless the case sets it."""
    from rtstyle import cli
    env = {"RTSTYLE_CACHE": str(cache_dir)} if cache_dir else {}
    env.update(case.env)
    with _environment(folder, env):
        argv = case.build(folder)
    before = snapshot(folder)
    if case.sigint_after:
        result = _run_sigint(case, argv, folder, env)
    else:
        t0 = time.perf_counter()
        with _environment(folder, env), _captured() as got:
            with case.fault(folder) if case.fault else contextlib.nullcontext():
                code = cli.main(list(argv))
        result = Result(["rtstyle", *argv], code, got["out"], got["err"], time.perf_counter() - t0)
    result.before = before
    return result


def snapshot(folder: Path) -> set[str]:
    """Files under ``folder`` (relative), ignoring the cache and weights folders cases set up."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).parts[0] not in ("cache", "weights")}


def problems(case: Case, result: Result, folder: Path) -> list[str]:
    """What is wrong with ``result`` for ``case`` (empty: as expected)."""
    bad = []
    if result.code != case.exit_code:
        bad.append(f"exit code {result.code}, want {case.exit_code}")
    if "Traceback" in result.err:
        bad.append("a traceback on stderr")
    if case.message is not None:
        lines = result.err_lines
        if len(lines) != 1:
            bad.append(f"{len(lines)} stderr lines, want exactly 1: {lines}")
        if case.message not in result.err:
            bad.append(f"stderr lacks {case.message!r}: {result.err.strip()!r}")
        new = snapshot(folder) - result.before
        if new:
            bad.append(f"files left behind: {sorted(new)}")
    for rel in case.absent:
        if (folder / rel).exists():
            bad.append(f"{rel} exists afterwards")
    leftovers = [p.name for p in folder.rglob("*") if ".part" in p.name or p.name.endswith(".tmp")]
    if leftovers:
        bad.append(f"temporary files left: {leftovers}")
    if case.check is not None and not bad:
        try:
            case.check(folder)
        except AssertionError as exc:
            bad.append(f"output check failed: {exc}")
    return bad
