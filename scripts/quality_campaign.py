"""The quality table of docs/training.md, one (style, photo) at a time, so that it survives interruption.

Gatys-500 at a photo's real size takes 10-30 min per (style, photo) on a 2-core CPU (fp32), more
than a session can spare at once. So each pair is scored alone (``rtstyle.bench.quality.evaluate``:
the trained nets through ``Stylizer.frame`` as users get them, then Gatys-500 from the photo) and
appended to a JSON file as soon as it is done; a rerun skips the pairs already there. ``table``
writes the markdown (per style: mean over the photos done so far; nets beside Gatys on the same
photos only).

    python scripts/quality_campaign.py run [--styles a,b] [--photos p.jpg,...] [--max-minutes 60]
    python scripts/quality_campaign.py rescore [--styles a,b]   # the nets again (new weights), Gatys kept
    python scripts/quality_campaign.py table > docs/quality_table.md
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle.files import atomic_write  # noqa: E402

STYLES = ["mosaic", "starry_night", "great_wave", "kandinsky_composition_viii", "cafe_terrace_at_night"]
PHOTOS = ["landscape_picos_de_europa.jpg", "portrait_grace_hopper.jpg", "animal_red_panda.jpg"]
FAMILIES = ["lite", "multi", "johnson"]     # every trained family of the style is scored beside Gatys
RESULTS = ROOT / "docs" / "eval" / "quality_real_size.json"   # --results


def _load() -> list[dict]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else []


def _save(rows: list[dict]) -> None:
    atomic_write(RESULTS, lambda tmp: Path(tmp).write_text(json.dumps(rows, indent=1) + "\n"))


def _score(style: str, photo: str, gatys_iters: int, threads: int) -> list[dict]:
    """Rows for every trained family of ``style`` on ``photo`` (+ Gatys when ``gatys_iters`` > 0)."""
    from rtstyle import styles
    from rtstyle.bench.quality import evaluate
    from rtstyle.train.common import cpu_info
    have = {e.family for e in styles.entries_for(style)}
    rows = []
    for i, family in enumerate(f for f in FAMILIES if f in have):
        for s in evaluate([ROOT / "samples" / photo], style, family, size=0,
                          gatys_iters=0 if i else gatys_iters, device="cpu"):
            entry = styles.choose(style, family) if s.method.endswith(" net") else None
            rows.append({"painting": style, **dataclasses.asdict(s),   # "style" is the loss ratio
                         "weights": entry.path.name if entry else None,
                         "weights_steps": entry.manifest.get("iterations") if entry else None,
                         "cpu": cpu_info()["model"], "threads": threads, "precision": "fp32"})
    return rows


def run(a) -> int:
    import torch
    torch.set_num_threads(a.threads)
    done = {(r["painting"], r["photo"]) for r in _load() if r["method"].startswith("gatys")}
    t0 = time.monotonic()
    for photo in a.photos.split(","):          # photo-major: every style gets a first photo soon
        for style in a.styles.split(","):
            if (style, photo) in done:
                continue
            if a.max_minutes and (time.monotonic() - t0) / 60 > a.max_minutes:
                print(f"stopping: {a.max_minutes} min spent")
                return 0
            rows = _score(style, photo, a.gatys_iters, a.threads)
            _save(_load() + rows)
            print(f"saved {style} / {photo} ({len(rows)} rows) to {RESULTS}", flush=True)
    return 0


def rescore(a) -> int:
    """Score the nets again where Gatys is done (after new weights shipped); Gatys rows are kept."""
    import torch
    torch.set_num_threads(a.threads)
    wanted = set(a.styles.split(","))
    pairs = [(r["painting"], r["photo"]) for r in _load() if r["method"].startswith("gatys") and r["painting"] in wanted]
    for style, photo in pairs:
        rows = _score(style, photo, 0, a.threads)
        kept = [r for r in _load() if (r["painting"], r["photo"]) != (style, photo) or r["method"].startswith("gatys")]
        _save(kept + rows)
        print(f"rescored {style} / {photo}: " + ", ".join(f"{r['method']} style {r['style']:.3f}" for r in rows),
              flush=True)
    return 0


def table(_a) -> int:
    rows = _load()
    gatys = {(r["painting"], r["photo"]): r for r in rows if r["method"].startswith("gatys")}
    print("| style | photos | method | content ↓ | style ↓ | style ÷ Gatys | seconds |")
    print("|---|---|---|---|---|---|---|")
    for style in dict.fromkeys(r["painting"] for r in rows):
        photos = sorted(p for s, p in gatys if s == style)
        for method in dict.fromkeys(r["method"] for r in rows if r["painting"] == style):
            sel = [r for r in rows if r["painting"] == style and r["method"] == method and r["photo"] in photos]
            if not sel:
                continue
            ratio = np.mean([r["style"] / gatys[(style, r["photo"])]["style"] for r in sel])
            print(f"| {style} | {len(sel)} | {method} | {np.mean([r['content'] for r in sel]):.3f} | "
                  f"{np.mean([r['style'] for r in sel]):.3f} | {ratio:.2f}× | {np.mean([r['seconds'] for r in sel]):.1f} |")
    return 0


def main(argv=None) -> int:
    global RESULTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="score the pairs not done yet, saving each as it finishes")
    p.add_argument("--styles", default=",".join(STYLES))
    p.add_argument("--photos", default=",".join(PHOTOS))
    p.add_argument("--gatys-iters", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-minutes", type=float, default=0.0, help="start no new pair after this (0 = no limit)")
    p.set_defaults(func=run)
    p = sub.add_parser("rescore", help="score the nets again where Gatys is done (Gatys rows kept)")
    p.add_argument("--styles", default=",".join(STYLES))
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=rescore)
    sub.add_parser("table", help="markdown table of what is done").set_defaults(func=table)
    ap.add_argument("--results", type=Path, default=RESULTS, help="the JSON file of scores")
    a = ap.parse_args(argv)
    RESULTS = a.results
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
