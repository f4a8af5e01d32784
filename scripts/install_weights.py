"""Copy trained weights (and their logs) from run folders or device tarballs into the package.

    python scripts/install_weights.py runs/cpu-johnson16-mosaic            # a local run folder
    python scripts/install_weights.py /work/.device/.../multi.tar          # a GPU stage's output
    python scripts/install_weights.py --if-better <files_at>/weights.tar   # scripts/gpu_run.sh's tar

Weights go to rtstyle/weights/ (fp16 safetensors + manifest); losses.csv/png and the last sample
grid go to docs/runs/<run>/. A file is replaced only by weights of the same name, so install a
better run over a worse one deliberately (commit only improvements: every version stays in git).

--if-better (the rule for what a GPU run brings back): weights whose name is already shipped are
installed only when they beat the shipped file on the same test: rtstyle.bench.quality's content and
style ratios (both relative, lower = better; scale-free, so runs with other crops or batches
compare) on the validation photos of --photos (every 20th, as the trainers split them; 4 used),
for up to 4 of the net's styles (AdaIN: its held-out paintings first). It installs when the new
mean (content + style) is at least 1% lower and says both numbers; a new name installs as is.
Then commit the weights with those numbers in the message.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "rtstyle" / "weights"
DOCS = ROOT / "docs" / "runs"


SCORE = r"""
import json, sys
from pathlib import Path
import numpy as np
import rtstyle.styles as S
from rtstyle.bench.quality import evaluate
family, names, size = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
wdirs, photos = sys.argv[4].split(","), [Path(p) for p in sys.argv[5:]]
out = []
for wdir in wdirs:
    S.WEIGHTS_DIR = Path(wdir)          # only this candidate (and the VGG encoder) is visible
    scores = [s for name in names for s in evaluate(photos, name, family, size, gatys_iters=0, log=lambda t: None)]
    out.append({"content": float(np.mean([s.content for s in scores])),
                "style": float(np.mean([s.style for s in scores]))})
print(json.dumps(out))
"""


def _val_photos(photos_dir: Path, n: int = 4) -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from rtstyle.train.data import list_images, split
    return split(list_images(photos_dir))[1][:n]


def _styles_to_score(manifest: dict) -> list[str]:
    if manifest["family"] == "adain":
        return (sorted(manifest.get("held_out_styles", [])) + ["mosaic", "starry_night"])[:4]
    names = list(manifest["styles"])
    return names[:: max(1, len(names) // 4)][:4]


def score(candidates: list[Path], manifest: dict, photos: list[Path], size: int = 256) -> list[dict]:
    """Mean content / style ratios of each weights file (alone in a folder) on ``photos``."""
    with tempfile.TemporaryDirectory() as tmp:
        wdirs = []
        for i, weights in enumerate(candidates):
            d = Path(tmp) / str(i)
            d.mkdir()
            for p in [weights, weights.with_suffix(".json"), *WEIGHTS.glob("vgg19*.safetensors")]:
                shutil.copy2(p, d / p.name)
            wdirs.append(str(d))
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("RTSTYLE_WEIGHTS", None)
        res = subprocess.run([sys.executable, "-c", SCORE, manifest["family"], ",".join(_styles_to_score(manifest)),
                              str(size), ",".join(wdirs), *map(str, photos)],
                             capture_output=True, text=True, env=env, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def beats_shipped(w: Path, photos_dir: Path) -> bool:
    """True when ``w`` is new, or scores at least 1% better than the shipped file of its name."""
    old = WEIGHTS / w.name
    if not old.exists():
        print(f"{w.name}: no shipped file of that name: installing")
        return True
    photos = _val_photos(photos_dir)
    if not photos:
        raise SystemExit(f"--if-better needs photos to score on: none in {photos_dir} (use --photos DIR)")
    new_m = json.loads(w.with_suffix(".json").read_text())
    old_m = json.loads(old.with_suffix(".json").read_text())
    a, b = score([w, old], old_m, photos)
    new_s, old_s = a["content"] + a["style"], b["content"] + b["style"]
    verdict = new_s < 0.99 * old_s
    print(f"{w.name}: new content {a['content']:.3f} style {a['style']:.3f} ({new_m.get('iterations')} steps) vs "
          f"shipped content {b['content']:.3f} style {b['style']:.3f} ({old_m.get('iterations')} steps): "
          f"{'better, installing' if verdict else 'not better, kept the shipped one'}")
    return verdict


def install_run(run: Path, if_better: bool = False, photos_dir: Path | None = None) -> None:
    weights = [p for p in run.glob("*.safetensors")]
    if not weights:
        print(f"{run}: no weights (is the run finished?)")
        return
    for w in weights:
        if w.name.startswith("vgg19"):
            continue
        if if_better and not beats_shipped(w, photos_dir):
            continue
        shutil.copy2(w, WEIGHTS / w.name)
        shutil.copy2(w.with_suffix(".json"), WEIGHTS / w.with_suffix(".json").name)
        print(f"installed {w.name} ({w.stat().st_size / 1e6:.2f} MB)")
    from rtstyle.train.snapshot import copy_run_docs
    copy_run_docs(run, DOCS / run.name)


def extract(tar: tarfile.TarFile, dest: str | Path) -> None:
    """Unpack a device tarball: files and folders only, every path inside ``dest``. Python 3.12
    (and 3.11.4+) have tarfile's "data" filter for this; older 3.11 releases get the same check here."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if not (m.isfile() or m.isdir()) or Path(m.name).is_absolute() or ".." in parts:
            raise SystemExit(f"{tar.name}: refusing '{m.name}' (not a plain file inside the archive); "
                             "unpack it by hand if you trust it")
    tar.extractall(dest)


def main(args: list[str]) -> int:
    if_better = "--if-better" in args
    args = [a for a in args if a != "--if-better"]
    photos_dir = ROOT.parent / "shared" / "data" / "content"
    if "--photos" in args:
        i = args.index("--photos")
        photos_dir = Path(args[i + 1])
        del args[i:i + 2]
    if not args:
        print(__doc__)
        return 2
    for a in map(Path, args):
        if a.suffix == ".tar":
            with tempfile.TemporaryDirectory() as tmp, tarfile.open(a) as tar:
                extract(tar, tmp)
                for run in sorted({p.parent for p in Path(tmp).rglob("*.safetensors")}):
                    install_run(run, if_better, photos_dir)
        else:
            install_run(a, if_better, photos_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
