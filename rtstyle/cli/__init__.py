"""Command line: main (one-line errors), flags (shared flag groups), one module per command (set_defaults(func=run))."""
from __future__ import annotations

import argparse
import sys
import warnings

from .. import __version__
from ..errors import UserError
from . import batch, bench, depth, doctor, evaluate, export, image, styles, train, video, webcam

COMMANDS = (image, video, styles, bench, export, doctor, batch, webcam, depth, evaluate, train)   # help order


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rtstyle", description="Real-time video style transfer.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    ap.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return ap


def _one_line(exc) -> str:
    """An error's text on one line (a library's multi-line message folded), so stderr has one line."""
    return " ".join(str(exc).split())


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each, like errors (``--debug`` keeps Python's form with the source line)."""
    print(f"rtstyle: warning: {_one_line(message)}", file=sys.stderr if file is None else file)


def _out_of_memory(exc: BaseException) -> UserError | None:
    """The one line for running out of GPU (torch CUDA) or host memory, None for other errors."""
    if type(exc).__name__ == "OutOfMemoryError" and type(exc).__module__.startswith("torch"):
        from ..backends.base import out_of_memory
        return out_of_memory("stylizing", None, exc)
    if isinstance(exc, MemoryError):
        return UserError("out of memory (host RAM); use a smaller --size (e.g. --size 720p or --scale 0.5) "
                         "or close other programs", exit_code=1)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    a = ap.parse_args(argv)
    try:
        with warnings.catch_warnings():
            if not a.debug:
                warnings.showwarning = _one_line_warning
            if getattr(a, "func", None) is None:   # no command (or `train` without WHAT)
                ap.print_help()
                return 2
            return a.func(a)
    except UserError as exc:
        if a.debug:
            raise
        print(f"rtstyle: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        if a.debug:
            raise
        print("rtstyle: interrupted (Ctrl-C) before the end; no partial output was kept", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: one line, details behind --debug
        if a.debug:
            raise
        oom = _out_of_memory(exc)
        if oom is not None:
            print(f"rtstyle: error: {_one_line(oom)}", file=sys.stderr)
            return oom.exit_code
        print(f"rtstyle: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the "
              f"traceback)", file=sys.stderr)
        return 1

