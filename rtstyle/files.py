"""Files: atomic writes, and the checks that refuse a bad input or output path in one line."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import UserError


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# errno values that mean "this place cannot be written" (the user's choice of output), not a fault
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.ENOENT, errno.EROFS, errno.ENOTDIR, errno.EISDIR}


def write_error(path: Path, exc: BaseException) -> UserError:
    """The one line for an OSError (or PyAV's, which subclass it) while writing ``path``, whose
    temporary file has been deleted: disk full and I/O faults exit 1, unwritable places 2."""
    code = getattr(exc, "errno", None)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if code in (errno.ENOSPC, errno.EDQUOT):
        return UserError(f"cannot write '{path}': the disk is full ({reason}); nothing was kept; "
                         f"free some space or write to another disk", exit_code=1)
    if code in _NOT_WRITABLE:
        return UserError(f"cannot write '{path}': {reason}; nothing was kept; choose a folder you can write to")
    return UserError(f"cannot write '{path}': {reason} ({type(exc).__name__}); nothing was kept; "
                     f"check the disk and the output folder", exit_code=1)


def check_input_file(path: Path, kind: str, hint: str) -> int:
    """Raise UserError unless ``path`` is a non-empty regular file; return its size in bytes."""
    if not path.exists():
        raise UserError(f"cannot read '{path}': no such file; check the path ({hint})")
    if path.is_dir():
        raise UserError(f"cannot read '{path}': it is a folder, not {kind}; {hint}")
    size = path.stat().st_size
    if size == 0:
        raise UserError(f"cannot read '{path}': the file is empty (0 bytes); {hint}")
    return size


def check_output(out: Path, overwrite: bool, inputs: list[Path] = ()) -> None:
    """Refuse outputs that would destroy work: same as an input, existing (without --overwrite),
    or in a folder that cannot be written."""
    for src in inputs:
        if src.exists() and out.exists() and os.path.samefile(src, out):
            raise UserError(f"output {out} is the input file; choose another output name")
        if src.resolve() == out.resolve():
            raise UserError(f"output {out} is the input file; choose another output name")
    if out.is_dir():
        raise UserError(f"output {out} is a folder; give a file name like {out / 'out.mp4'}")
    if out.exists() and not overwrite:
        raise UserError(f"output {out} already exists; pass --overwrite to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write {out}: {parent} is a file, not a folder; choose another output path")
    if not parent.is_dir():
        raise UserError(f"cannot write {out}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot write {out}: folder {parent} is not writable; choose another output folder")


def check_input(path: Path, what: str = "input") -> Path:
    if not path.exists():
        raise UserError(f"{what} {path} does not exist; check the path")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; give a file")
    if path.stat().st_size == 0:
        raise UserError(f"{what} {path} is empty (0 bytes); give a real file")
    return path
