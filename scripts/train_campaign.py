"""The CPU training campaign: what to train, in which order, with which budget, and what is done.

A session's processes end when it stops and only what is committed lasts, so every stage runs in
the background at low priority from a separate worktree (your edits on main don't disturb it),
checkpoints often, and is shipped (fp16 weights + manifest + ledger row) into the main checkout
while it runs. A stage resumes from its ckpt.pt, or, when that is gone, from the last shipped
weights (``--init``): no run starts over from scratch.

    git worktree add ../train-wt HEAD --detach && cd ../train-wt
    python scripts/train_campaign.py status                    # the plan and how far each stage is
    python scripts/train_campaign.py start multi-20 adain      # in the background, nice 19, 1 thread each
    python scripts/train_campaign.py score lite-mona_lisa-crop256-2   # snapshot, score, hold to its rule
    python scripts/train_campaign.py ship multi-20 --to ../main   # snapshot into main (then commit there)

A stage with a rule (rtstyle.train.rule, set in the plan) ships only what ``score`` passed: ``score``
snapshots the checkpoint, scores it and the shipped net at the photos' real size, and writes the
verdict beside the snapshot; ``ship`` copies that very file (so the shipped bytes are the scored
ones) and refuses a snapshot that failed. ``--force`` ships the checkpoint anyway.

The stages, in the order they were planned, are in scripts/campaign_plan.py: the multi-style net
over all 20 styles, the AdaIN decoder (3 paintings held out), the lite nets, the real-size nets and
every later continuation, each with its budget and why.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = os.environ.get("RTSTYLE_DATA", str(ROOT.parent / "shared" / "data" / "content"))

sys.path.insert(0, str(ROOT / "scripts"))
from campaign_plan import BY_NAME, PLAN, Stage  # noqa: E402

from rtstyle.train.rule import PHOTOS  # noqa: E402

RUNS = ROOT / "runs"   # --runs: the training worktree's runs/ when shipping from main


def run_dir(stage: Stage) -> Path:
    return RUNS / stage.name


def _beside(stage: Stage, ext: str) -> Path:
    """The run's .pid / .log file next to its folder (not with_suffix: a stage name may hold a dot)."""
    return RUNS / f"{stage.name}{ext}"


def _step(stage: Stage) -> int:
    """Steps in the run folder's checkpoint (0 without one)."""
    ckpt = run_dir(stage) / "ckpt.pt"
    if not ckpt.exists():
        return 0
    import torch
    return int(torch.load(ckpt, map_location="cpu", weights_only=False)["step"])


def _shipped(stage: Stage, root: Path = ROOT) -> dict | None:
    m = root / "rtstyle" / "weights" / f"{stage.stem}.json"
    return json.loads(m.read_text()) if stage.stem and m.exists() else None


def _pid(stage: Stage) -> int | None:
    f = _beside(stage, ".pid")
    if not f.exists():
        return None
    pid = int(f.read_text())
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def status(_a) -> int:
    print(f"{'stage':40} {'run steps':>10} {'planned':>8} {'shipped':>8} {'budget':>7}  state")
    for s in PLAN:
        shipped = _shipped(s)
        pid = _pid(s)
        rec = _latest_score(s)
        scored = f"scored {rec['step']}: {'passes' if rec['passes'] else 'fails'}" if rec else ""
        print(f"{s.name:40} {_step(s):>10} {s.iters:>8} {shipped['iterations'] if shipped else '-':>8} "
              f"{s.minutes:>6.0f}m  {'running (pid %d)' % pid if pid else 'stopped'}  {s.why}"
              + (f"  [{scored}]" if scored else ""))
    return 0


def command(stage: Stage, threads: int, max_minutes: float) -> list[str]:
    cmd = [sys.executable, "-m", "rtstyle.cli", "train", *stage.args, "--data", DATA, "--out", str(run_dir(stage)),
           "--iters", str(stage.iters), "--threads", str(threads), "--max-minutes", str(max_minutes)]
    shipped = ROOT / "rtstyle" / "weights" / f"{stage.stem}.safetensors"
    fallback = (ROOT / stage.init if "/" in stage.init   # a kept, unshipped net (docs/runs/STAGE/...)
                else ROOT / "rtstyle" / "weights" / f"{stage.init}.safetensors")
    if not (run_dir(stage) / "ckpt.pt").exists():
        if stage.stem and shipped.exists():
            cmd += ["--init", str(shipped)]   # the optimiser state is gone: continue from what shipped
        elif stage.init and fallback.exists():
            cmd += ["--init", str(fallback)]  # nothing of this style yet: start from a related net
    return cmd


def start(a) -> int:
    for name in a.stages:
        stage = BY_NAME[name]
        if _pid(stage):
            print(f"{name}: already running")
            continue
        run_dir(stage).parent.mkdir(parents=True, exist_ok=True)
        log = open(_beside(stage, ".log"), "ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(["nice", "-n", "19", *command(stage, a.threads, a.max_minutes)], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _beside(stage, ".pid").write_text(str(proc.pid))
        _low_priority_group(proc.pid)
        print(f"{name}: started pid {proc.pid}, log {_beside(stage, '.log')}")
    return 0


def _low_priority_group(pid: int) -> None:
    """A new session is a new scheduler autogroup on Linux (sched_autogroup_enabled), and nice only
    ranks processes inside their group: without this the "nice 19" trainer gets as much CPU as all
    of the user's other work together. Best effort (no such file elsewhere)."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text("19")
    except OSError:
        pass


def _precision_from_log(stage: Stage) -> dict:
    log = _beside(stage, ".log")
    if log.exists():
        m = re.findall(r"precision: (\S+) \((.*?)\)\n", log.read_text(errors="replace"))
        if m:
            return {"precision": m[-1][0], "precision_reason": m[-1][1]}
    return {}


LEDGER_HEAD = "| date (UTC) | stage | steps shipped | wall time | CPU | precision | train loss | val loss |"


def ledger_row(stage: Stage, manifest: dict) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    train = manifest.get("train_loss", {}).get("total", float("nan"))
    return (f"| {date} | {stage.name} | {manifest['iterations']} / {stage.iters} | "
            f"{manifest['wall_time_s'] / 60:.0f} min | {manifest.get('cpu', '?')} | {manifest.get('precision', '?')} | "
            f"{train:.4g} | {manifest.get('val_loss', float('nan')):.4g} |")


def add_ledger_row(doc: Path, row: str) -> None:
    text = doc.read_text()
    if LEDGER_HEAD not in text:
        text += ("\n## Ledger\n\nEvery shipped snapshot of a campaign stage (`scripts/train_campaign.py ship`), "
                 "newest last.\n\n" + LEDGER_HEAD + "\n|---|---|---|---|---|---|---|---|\n")
    lines = text.rstrip("\n").split("\n")
    end = max(i for i, ln in enumerate(lines) if ln.startswith("|") and
              i >= lines.index(LEDGER_HEAD))
    lines.insert(end + 1, row)
    doc.write_text("\n".join(lines) + "\n")


def _scored_dir(stage: Stage) -> Path:
    return RUNS / f"{stage.name}.scored"


def _latest_score(stage: Stage) -> dict | None:
    found = [json.loads(f.read_text()) for f in _scored_dir(stage).glob("step-*/score.json")]
    return max(found, key=lambda r: r["step"]) if found else None


def _scores_of(style: str, family: str, weights_dir: Path | None, threads: int) -> dict:
    """{photo: (content, style)} of the net ``family`` paints ``style`` with, at the photos' real size
    through the Stylizer; ``weights_dir`` first on the weights path (None: the shipped weights)."""
    import torch
    from rtstyle.bench.quality import evaluate
    torch.set_num_threads(threads)
    old = os.environ.pop("RTSTYLE_WEIGHTS", None)
    if weights_dir is not None:
        os.environ["RTSTYLE_WEIGHTS"] = str(weights_dir)
    try:
        got = evaluate([ROOT / "samples" / p for p in PHOTOS], style, family, size=0, gatys_iters=0, log=lambda *_: None)
    finally:
        os.environ.pop("RTSTYLE_WEIGHTS", None)
        if old is not None:
            os.environ["RTSTYLE_WEIGHTS"] = old
    return {s.photo: (round(s.content, 5), round(s.style, 5)) for s in got}


def _cells(scores: dict | None) -> str:
    return " | ".join(f"{scores[p][0]:.4f} / {scores[p][1]:.4f}" if scores and p in scores else "–" for p in PHOTOS)


def _trained_beside(stage: Stage, out: Path, manifest: dict, threads: int) -> dict | None:
    """A stage that ships a moving average (``--ema``): the scores of the trained net of the same
    checkpoint, for the comparison only (it does not ship); None when the checkpoint moved on since."""
    from rtstyle.train.snapshot import snapshot
    _, m = snapshot(run_dir(stage), out / "trained", trained=True)
    if m["iterations"] != manifest["iterations"]:
        print(f"  (checkpoint moved on to step {m['iterations']}: trained net not compared)")
        shutil.rmtree(out / "trained")
        return None
    return _scores_of(manifest["styles"][0], manifest["family"], out / "trained", threads)


def score(a) -> int:
    from rtstyle.train.snapshot import snapshot
    bad = 0
    for name in a.stages:
        stage = BY_NAME[name]
        if not (run_dir(stage) / "ckpt.pt").exists():
            print(f"{name}: no checkpoint yet")
            bad += 1
            continue
        tmp = _scored_dir(stage) / "incoming"
        tmp.mkdir(parents=True, exist_ok=True)
        path, manifest = snapshot(run_dir(stage), tmp, extra={"campaign_stage": name, **_precision_from_log(stage)})
        out = _scored_dir(stage) / f"step-{manifest['iterations']}"
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        style, family = manifest["styles"][0], manifest["family"]
        new = _scores_of(style, family, out, a.threads)
        old = _shipped(stage)
        shipped = (_scores_of(style, family, None, a.threads)
                   if old and stage.rule is not None and stage.rule.needs_shipped else None)
        fails = stage.rule.check(new, shipped) if stage.rule is not None else None
        trained = _trained_beside(stage, out, manifest, a.threads) if manifest.get("ema") else None
        record = {"stage": name, "step": manifest["iterations"], "weights": path.name, "trained": trained,
                  "rule": repr(stage.rule), "new": new, "shipped": shipped, "fails": fails,
                  "passes": fails == [], "threads": a.threads,
                  "scored_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")}
        (out / "score.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"{name} at step {record['step']} ({family} {style}; content / style on {', '.join(new)}):")
        print(f"  | {style} {record['step']} | {_cells(new)} |")
        if trained is not None:
            print(f"  | trained net, step {record['step']} (the average's; comparison only) | {_cells(trained)} |")
        if shipped is not None:
            print(f"  | shipped {old['iterations']} | {_cells(shipped)} |")
        if fails is None:
            print("  no rule in the plan for this stage: see docs/training.md")
        elif fails:
            bad += 1
            print(f"  FAILS {stage.rule}:\n" + "\n".join(f"    {f}" for f in fails))
        else:
            print(f"  passes {stage.rule}")
    return 1 if bad else 0


def _ship_scored(stage: Stage, rec: dict | None, to: Path):
    """The snapshot ``score`` passed (``rec``, its newest score record), copied into ``to``'s weights;
    (path, manifest) or None with the reason printed."""
    if rec is None:
        print(f"{stage.name}: not scored yet: run `score {stage.name}` first (or ship --force)")
        return None
    if not rec["passes"]:
        print(f"{stage.name}: its newest scored snapshot (step {rec['step']}) fails {rec['rule']}: "
              + "; ".join(rec["fails"] or ["no rule"]) + "; nothing shipped")
        return None
    src = _scored_dir(stage) / f"step-{rec['step']}" / rec["weights"]
    dest = to / "rtstyle" / "weights" / src.name
    shutil.copyfile(src, dest)
    shutil.copyfile(src.with_suffix(".json"), dest.with_suffix(".json"))
    return dest, json.loads(dest.with_suffix(".json").read_text())


def ship(a) -> int:
    from rtstyle.train.snapshot import copy_run_docs, snapshot
    to = Path(a.to).resolve()
    for name in a.stages:
        stage = BY_NAME[name]
        if not stage.stem:
            print(f"{name}: a comparison run, not shipped")
            continue
        if not (run_dir(stage) / "ckpt.pt").exists():
            print(f"{name}: no checkpoint yet")
            continue
        old = _shipped(stage, to)
        rec = _latest_score(stage) if stage.rule is not None and not a.force else None
        steps = rec["step"] if rec else _step(stage)
        if old and old.get("iterations", 0) >= steps and not a.force:
            print(f"{name}: shipped weights already have {old['iterations']} steps (run: {steps}); nothing to do")
            continue
        if stage.rule is not None and not a.force:
            got = _ship_scored(stage, rec, to)
            if got is None:
                continue
            path, manifest = got
        else:
            path, manifest = snapshot(run_dir(stage), to / "rtstyle" / "weights",
                                      extra={"campaign_stage": name, **_precision_from_log(stage)})
        copy_run_docs(run_dir(stage), to / "docs" / "runs" / name)
        add_ledger_row(to / "docs" / "training.md", ledger_row(stage, manifest))
        print(f"{name}: shipped {path} ({manifest['iterations']} steps, {path.stat().st_size / 1e6:.2f} MB)")
    return 0


def main(argv=None) -> int:
    global RUNS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default=str(RUNS), help="folder of the stages' run folders")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status", help="the plan and how far each stage is").set_defaults(func=status)
    p = sub.add_parser("start", help="start stages in the background (nice 19)")
    p.add_argument("stages", nargs="+", choices=list(BY_NAME))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-minutes", type=float, default=0.0)
    p.set_defaults(func=start)
    p = sub.add_parser("score", help="snapshot stages' checkpoints, score them beside the shipped nets, apply their rules")
    p.add_argument("stages", nargs="+", choices=list(BY_NAME))
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=score)
    p = sub.add_parser("ship", help="snapshot stages' checkpoints into a checkout as fp16 weights + ledger row")
    p.add_argument("stages", nargs="+", choices=list(BY_NAME))
    p.add_argument("--to", default=str(ROOT), help="the checkout to ship into (e.g. the main worktree)")
    p.add_argument("--force", action="store_true",
                   help="ship the checkpoint even if the shipped weights have as many steps or its rule failed")
    p.set_defaults(func=ship)
    a = ap.parse_args(argv)
    RUNS = Path(a.runs).resolve()
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
