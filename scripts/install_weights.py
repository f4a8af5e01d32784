"""Copy trained weights (and their logs) from run folders or device tarballs into the package.

    python scripts/install_weights.py runs/cpu-johnson16-mosaic            # a local run folder
    python scripts/install_weights.py /work/.device/.../multi.tar          # a GPU stage's output

Weights go to rtstyle/weights/ (fp16 safetensors + manifest); losses.csv/png and the last sample
grid go to docs/runs/<run>/. A file is replaced only by weights of the same name, so install a
better run over a worse one deliberately (commit only improvements: every version stays in git).
"""
from __future__ import annotations

import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "rtstyle" / "weights"
DOCS = ROOT / "docs" / "runs"


def install_run(run: Path) -> None:
    weights = [p for p in run.glob("*.safetensors")]
    if not weights:
        print(f"{run}: no weights (is the run finished?)")
        return
    for w in weights:
        if w.name.startswith("vgg19"):
            continue
        shutil.copy2(w, WEIGHTS / w.name)
        shutil.copy2(w.with_suffix(".json"), WEIGHTS / w.with_suffix(".json").name)
        print(f"installed {w.name} ({w.stat().st_size / 1e6:.2f} MB)")
    dest = DOCS / run.name
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("losses.csv", "losses.png"):
        if (run / name).exists():
            shutil.copy2(run / name, dest / name)
    grids = sorted(run.glob("samples_*.png"))
    if grids:
        shutil.copy2(grids[-1], dest / "samples_last.png")


def main(args: list[str]) -> int:
    if not args:
        print(__doc__)
        return 2
    for a in map(Path, args):
        if a.suffix == ".tar":
            with tempfile.TemporaryDirectory() as tmp, tarfile.open(a) as tar:
                tar.extractall(tmp, filter="data")
                for run in sorted({p.parent for p in Path(tmp).rglob("*.safetensors")}):
                    install_run(run)
        else:
            install_run(a)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
