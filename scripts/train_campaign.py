"""The CPU training campaign: what to train, in which order, with which budget, and what is done.

A session's processes end when it stops and only what is committed lasts, so every stage runs in
the background at low priority from a separate worktree (your edits on main don't disturb it),
checkpoints often, and is shipped (fp16 weights + manifest + ledger row) into the main checkout
while it runs. A stage resumes from its ckpt.pt, or, when that is gone, from the last shipped
weights (``--init``): no run starts over from scratch.

    git worktree add ../train-wt HEAD --detach && cd ../train-wt
    python scripts/train_campaign.py status                    # the plan and how far each stage is
    python scripts/train_campaign.py start multi-20 adain      # in the background, nice 19, 1 thread each
    python scripts/train_campaign.py ship multi-20 --to ../main   # snapshot into main (then commit there)

Stages (in order of what users see): the multi-style net over all 20 styles, the AdaIN decoder
(3 paintings held out), lite nets distilled from the multi-style net, and the compact net for
mosaic with and without the spatial-shift loss at equal steps.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = os.environ.get("RTSTYLE_DATA", str(ROOT.parent / "shared" / "data" / "content"))
HELD_OUT = "great_wave,the_night_cafe,girls_at_the_piano"   # AdaIN never sees these (docs/training.md)


@dataclasses.dataclass
class Stage:
    name: str
    args: list[str]           # after `python -m rtstyle.cli train`
    iters: int
    stem: str                 # shipped weights file stem
    minutes: float            # CPU budget (wall minutes at 1 thread) planned for this stage
    why: str
    init: str = ""            # weights stem to start from when neither a checkpoint nor `stem` is there


PLAN = [
    Stage("multi-20", ["transformer", "--family", "multi", "--style", "all", "--width", "16", "--crop", "128",
                       "--style-size", "256", "--batch", "4", "--style-weight", "0.7", "--lr", "3e-4",
                       "--log-every", "100", "--ckpt-every", "100"], 12000, "multi-multi", 120,
          "every style in one net: width 16, 128-px crops, each image of a batch its own style, lr 3e-4 "
          "(at 1e-3 white blobs covered 6.8 % of the validation pixels by step 1800; docs/training_history.md)"),
    Stage("adain", ["adain", "--crop", "128", "--batch", "4", "--lr", "1e-4", "--recon-steps", "300",
                    "--hold-out", HELD_OUT, "--log-every", "100", "--ckpt-every", "100"], 12000, "adain-decoder", 120,
          "any painting: full decoder, 128-px crops, batch 4, the paper's lr 1e-4 (0.3 s/step at 2 threads "
          "with AMX bf16); 300 steps of encoder inversion first"),
    Stage("lite-20", ["lite", "--style", "trained", "--teacher", "multi", "--crop", "128", "--batch", "4",
                      "--log-every", "100", "--ckpt-every", "100"], 4000, "lite-multi", 120,
          "the CPU real-time default for every style, distilled from multi-20"),
    Stage("compact-mosaic", ["transformer", "--family", "compact", "--style", "mosaic", "--downsample",
                             "--crop", "128", "--style-size", "256", "--batch", "4", "--style-weight", "0.7",
                             "--shift-weight", "0.7", "--log-every", "100", "--ckpt-every", "100"], 1500,
          "compact-mosaic", 60, "the compact net with the spatial-shift loss"),
    Stage("compact-mosaic-noshift", ["transformer", "--family", "compact", "--style", "mosaic", "--downsample",
                                     "--crop", "128", "--style-size", "256", "--batch", "4", "--style-weight",
                                     "0.7", "--shift-weight", "0", "--log-every", "100", "--ckpt-every", "100"],
          1500, "", 60, "the same at equal steps without the shift loss (comparison only, not shipped)"),
]
# Single-style Johnson nets (width 16, the recipe of the shipped mosaic/starry_night nets) for
# styles users ask for first, while the multi-style net is not good enough to ship (docs/training.md).
for _style in ("great_wave", "kandinsky_composition_viii"):
    PLAN.append(Stage(f"johnson-{_style}", ["transformer", "--family", "johnson", "--style", _style,
                                             "--width", "16", "--n-res", "5", "--crop", "128", "--style-size",
                                             "256", "--batch", "4", "--style-weight", "0.7", "--lr", "1e-3",
                                             "--log-every", "100", "--ckpt-every", "100"], 2400,
                      f"johnson-{_style}", 40, "one style, the proven CPU recipe"))
# Real-size nets: the single-style nets fine-tuned where they are judged, at a photo's real size.
# The 128-px-crop recipe learns strokes on photos held at 192 px and matches the painting read at
# 256 px with style weight 0.7; Gatys-500 and rtstyle.bench.quality read the painting at 384 px, and
# Gatys weighs style 3.0. Holding the photos at 384 px (crops of 128 at scales 1/3..1), the painting
# at 384 px and style 3.0 took mosaic from 11.5x Gatys-500's style loss to 1.5x within 150 steps
# (docs/training.md). The weights replace the shipped johnson-<style> (same net, same name).
_REAL = ["transformer", "--family", "johnson", "--width", "16", "--n-res", "5", "--crop", "128",
         "--photo-short", "384", "--style-size", "384", "--style-weight", "3.0", "--batch", "4", "--lr", "5e-4",
         "--recalibrate", "--log-every", "50", "--ckpt-every", "50"]
# starry_night and great_wave (9.6x and 7.3x after 200-300 steps) get 1000 steps more (session 7).
for _style, _iters, _init in (("mosaic", 2400, ""), ("starry_night", 3300, ""), ("great_wave", 3600, ""),
                              ("kandinsky_composition_viii", 2474, ""),
                              ("cafe_terrace_at_night", 2350, "johnson-starry_night")):
    PLAN.append(Stage(f"johnson-{_style}-real", [*_REAL, "--style", _style], _iters, f"johnson-{_style}", 25,
                      "real size: photos at 384 px, painting at 384 px, Gatys's style weight 3.0; 200-1300 steps "
                      "from the shipped net" + (f" (none: from {_init})" if _init else ""), init=_init))
PLAN.append(Stage("lite-mosaic", ["lite", "--style", "mosaic", "--teacher", "johnson", "--crop", "128", "--batch", "4",
                                   "--log-every", "100", "--ckpt-every", "100"], 4500, "lite-mosaic", 15,
                  "mosaic's CPU default, distilled again from the real-size johnson-mosaic (1500 steps on top of "
                  "the 3000 distilled from the old teacher)"))
# The multi-style net at real size (the recipe of the johnson-<style>-real stages, at the multi net's lr
# 3e-4, where 1e-3 grew white blobs). Planned to 14000; the shipped 13168 is where it ends: the last 832
# steps (session 8) raised the style loss on 4 of the 5 styles scored against Gatys-500 (mosaic 0.054 ->
# 0.089, cafe_terrace_at_night 0.071 -> 0.116) and were not shipped (docs/training_history.md).
PLAN.append(Stage("multi-20-real", ["transformer", "--family", "multi", "--style", "all", "--width", "16",
                                    "--crop", "128", "--photo-short", "384", "--style-size", "384",
                                    "--style-weight", "3.0", "--batch", "4", "--lr", "3e-4", "--recalibrate",
                                    "--log-every", "50", "--ckpt-every", "50"], 13168, "multi-multi", 50,
                  "every style at real size: 1168 steps on top of the shipped multi-multi (832 more made it worse)"))
# Real-size lite nets, the CPU defaults, trained on the style loss itself (rtstyle train transformer
# --family lite) with the real-size recipe. Distillation cannot get there: distilled again from the
# real-size johnson-mosaic at photos of 384 px, lite-mosaic moved from 13.8x to 12.8x Gatys-500's
# style loss (the pixel + feature loss averages the teacher's texture away), while 300 steps of the
# style loss took it to 2.1x (docs/training.md). mosaic continues its shipped lite net; each other
# style starts from that one (a lite net of its own is its CPU default before lite-multi); lite-multi
# continues itself at the multi net's lr.
_LITE_STYLE = ["transformer", "--family", "lite", "--width", "16", "--n-res", "4", "--crop", "128",
               "--photo-short", "384", "--style-size", "384", "--style-weight", "3.0", "--batch", "4",
               "--recalibrate", "--log-every", "50", "--ckpt-every", "50"]
PLAN.append(Stage("lite-mosaic-style", [*_LITE_STYLE, "--lr", "5e-4", "--style", "mosaic"], 7000, "lite-mosaic", 10,
                  "the CPU default at real size: 1000 style-loss steps on top of lite-mosaic distilled (4500 steps at "
                  "192 px, then 1500 at 384 px)"))
# cafe_terrace_at_night ends at its shipped 8000: 1254 more steps (session 8) lowered the content loss
# but raised the style loss at real size (0.103 -> 0.129) and were not shipped.
for _style in ("starry_night", "great_wave", "kandinsky_composition_viii", "cafe_terrace_at_night"):
    PLAN.append(Stage(f"lite-{_style}-style", [*_LITE_STYLE, "--lr", "5e-4", "--style", _style],
                      8000 if _style == "cafe_terrace_at_night" else 9500,
                      f"lite-{_style}", 15, "a lite net of its own at real size: 2500 style-loss steps from "
                      "lite-mosaic-style (its 7000 steps count as done; 12-19x Gatys-500 after the first 1000)",
                      init="lite-mosaic"))
# Session 8: each 1500 style-loss steps took 18-35 % off a lite net's style loss at real size
# (kandinsky_composition_viii 0.131 -> 0.085), so the CPU defaults furthest from Gatys-500 get more.
for _style in ("starry_night", "great_wave"):
    PLAN.append(Stage(f"lite-{_style}-style-2", [*_LITE_STYLE, "--lr", "5e-4", "--style", _style], 11000,
                      f"lite-{_style}", 35, "1500 more style-loss steps on the shipped 9500"))
PLAN.append(Stage("lite-20-style", [*_LITE_STYLE, "--lr", "3e-4", "--style", "all"], 6000, "lite-multi", 15,
                  "every style's CPU default at real size: 2000 style-loss steps on top of the distilled lite-multi"))
# Session 9: the lite nets trained on 128-px crops but paint whole frames; on 128-px crops of the
# landscape photo lite-starry_night's style loss is 0.033, on the same crops cut from its full-frame
# output 0.30 (instance-norm statistics and context differ). 1400 steps at 256-px crops (batch 2, the
# shipped loss scales) took it from 0.079 to 0.033 on the landscape and 0.078 to 0.027 on the held-out
# street photo at less content loss; 384-px crops at batch 1 lowered the style loss less and raised the
# content loss (docs/training.md). So every lite net continues at 256-px crops.
_LITE_256 = [a for a in _LITE_STYLE if a != "--recalibrate"]
_LITE_256[_LITE_256.index("--crop") + 1] = "256"
_LITE_256[_LITE_256.index("--batch") + 1] = "2"
# ... and over a 16-px mirrored margin, cut off before the losses, as the Stylizer now paints lite
# frames: without it the zero-padded convs paint a dark frame at every crop's edge, and that frame
# lowered the Gram loss (lite starry_night on the landscape: 0.032 with it, 0.122 with it cut off).
# The first ~250 steps of these stages ran without the margin (session 10, then restarted with it).
_LITE_256 += ["--margin", "16"]


def _more_steps(suffix: str, nets: tuple[tuple[str, int], ...], minutes: float, why: str) -> None:
    """One stage ``lite-<style>-crop256<suffix>`` per (style, shipped steps): 3000 steps of the 256-px
    recipe on that style's shipped lite net, with its loss scales."""
    for style, at in nets:
        PLAN.append(Stage(f"lite-{style}-crop256{suffix}", [*_LITE_256, "--lr", "5e-4", "--style", style], at + 3000,
                          f"lite-{style}", minutes, f"{why} on the shipped {at}"))


_more_steps("", (("starry_night", 11000), ("great_wave", 11000), ("kandinsky_composition_viii", 9500),
                 ("cafe_terrace_at_night", 8000), ("mosaic", 7000)), 120, "3000 style-loss steps at 256-px crops")
# Session 11: the four lite nets still short of the target were still gaining when session 10 stopped
# (validation loss over their last 550 steps: starry_night 0.711 -> 0.664, great_wave 0.843 -> 0.795,
# kandinsky_composition_viii 0.800 -> 0.756, cafe_terrace_at_night 0.840 -> 0.730), so they go on
# with the same recipe from the shipped session-10 steps.
_more_steps("-2", (("starry_night", 13206), ("great_wave", 11813), ("kandinsky_composition_viii", 10314),
                   ("cafe_terrace_at_night", 8789)), 120, "3000 more steps at 256-px crops with the margin")
# Sessions 12-14: the styles that paint on the CPU with lite-multi (a width-16 net shared by all 20
# styles, 100 style-loss steps each) get a lite net of their own with the recipe above, started from
# the shipped lite net of the nearest style (its steps count as done), and ship only by the rule of
# docs/training.md (style below lite-multi's and content at most 0.42 on each of the three scored
# photos). Their loss scales are measured again (--recalibrate): the painting is not the one the
# starting net's scales were measured on. (style, starting lite net, its steps, style weight or None
# for the recipe's 3.0; a set weight is part of the stage name.)
_STARRY, _WAVE = ("starry_night", 14087), ("great_wave", 11813)
_OWN_LITE = [
    # session 12
    ("the_night_cafe", *_STARRY, None), ("church_at_auvers", *_STARRY, None), ("langlois_bridge", *_STARRY, None),
    ("ejiri_in_suruga", *_WAVE, None), ("the_sower", *_STARRY, None), ("harvest_at_la_crau", *_STARRY, None),
    # session 13: ejiri_in_suruga's session-12 net lost too much of the photo (content 0.464 > 0.42 on
    # the red panda at style weight 3.0), so its second run trains at half that style weight
    ("ejiri_in_suruga", *_WAVE, "1.5"), ("inokashira_pond_in_snow", *_WAVE, None),
    ("portrait_of_pere_tanguy", *_STARRY, None), ("poppies", *_STARRY, None), ("summertime", *_STARRY, None),
    # session 14: the two of the seven left with the most style loss under lite-multi (0.15-0.21 on two
    # of the three scored photos), for the session's last 35 min
    ("the_harvesters", *_STARRY, None), ("girls_at_the_piano", *_STARRY, None),
    # session 15: the last five on lite-multi; ejiri_in_suruga and poppies lost the red panda photo
    # (content > 0.42) at 3.0 and 1.5, so they train at lower style weights
    ("mona_lisa", *_STARRY, None), ("spring_arcimboldo", *_STARRY, None),
    ("bal_du_moulin_de_la_galette", *_STARRY, None), ("poppies", *_STARRY, "1.0"),
    ("ejiri_in_suruga", *_WAVE, "0.75"),
]
for _style, _from, _at, _sw in _OWN_LITE:
    _extra = ["--style-weight", _sw] if _sw else []
    PLAN.append(Stage(f"lite-{_style}-crop256" + (f"-sw{_sw}" if _sw else ""),
                      [*_LITE_256, "--recalibrate", "--lr", "5e-4", *_extra, "--style", _style],
                      _at + 3000, f"lite-{_style}", 120, f"a lite net of its own: 256-px crops with the margin "
                      f"from the shipped lite-{_from} ({_at} steps)" + (f", style weight {_sw}" if _sw else ""),
                      init=f"lite-{_from}"))
# Session 17: is width 16 what keeps the lite nets at 5.4-6.7x Gatys-500's style loss? Training cost
# is mostly VGG19 on the 256-px crops, so a wider lite net costs little more to train; it costs
# more to run. lite-starry_night widened to 24 (Net2Net, rtstyle.train.grow: it starts as the shipped
# 14087-step net) against a width-16 control, same recipe, side by side on the same cores and wall
# time; what ships is decided by the rule pre-registered in docs/training.md.


def _grown_and_control(suffix: str, flag: str, value: str, control: str, at: int, what: str, minutes: float) -> None:
    """Two stages of lite starry_night from the shipped ``at`` steps, 3000 steps each: one grown by
    ``flag value`` (rtstyle.train.grow, via --init) and the unchanged ``control``."""
    grown = list(_LITE_256)
    grown[grown.index(flag) + 1] = value
    for name, args, why in ((f"lite-starry_night-{suffix}", grown, f"{what} grown from the shipped {at}-step net"),
                            (control, _LITE_256, f"the control of lite-starry_night-{suffix}: the same steps on "
                                                 f"the shipped {at}")):
        PLAN.append(Stage(name, [*args, "--lr", "5e-4", "--style", "starry_night"], at + 3000,
                          "lite-starry_night", minutes, why))


_grown_and_control("w24", "--width", "24", "lite-starry_night-crop256-3", 14087, "width 24", 120)
# Session 17, after those two: width 24 lowered the content loss and raised the style loss (0.046 /
# 0.045 / 0.032 against the control's 0.039 / 0.035 / 0.027) and was not shipped; the control was.
# The shipped net falls short in the deep VGG layers (relu3_1, relu4_1), which see more of the image
# than its 77-px receptive field: 8 residual blocks (141 px; rtstyle.train.grow appends 4 identity
# blocks) against a 4-block control, both from the shipped 17087 steps (docs/training.md).
_grown_and_control("r8", "--n-res", "8", "lite-starry_night-crop256-4", 17087, "8 residual blocks", 75)
# Result: 8 blocks 0.041 / 0.038 / 0.028 against the control's 0.037 / 0.035 / 0.024: not shipped;
# the control was (docs/training.md).
# Session 17's last 20 minutes: the two lite nets furthest from Gatys-500 continue at bf16 speed,
# shipped only by the rule of docs/training.md (style lower on all three photos, content at most + 0.01).
_more_steps("-3", (("kandinsky_composition_viii", 11182), ("cafe_terrace_at_night", 9652)), 20,
            "more steps at 256-px crops with the margin")
# Session 18: the four lite nets of their own with the fewest steps of their painting (580-870 on top of
# the starting net) continue with the same recipe and their shipped loss scales, side by side, shipped
# only by the rule of docs/training.md (style lower on all three photos, content at most + 0.01).
_more_steps("-2", (("the_sower", 14679), ("harvest_at_la_crau", 14668), ("the_harvesters", 14957),
                   ("girls_at_the_piano", 14957)), 120, "more steps at 256-px crops with the margin")
# Session 19: six of the other eleven lite nets of their own (1037-1102 steps of their painting on top of
# the starting net; the session-18 four took a third off their style loss in about 1900 more), same
# recipe and shipped loss scales, side by side, shipped only by the rule of docs/training.md.
_more_steps("-2", (("the_night_cafe", 15176), ("church_at_auvers", 15189), ("langlois_bridge", 15173),
                   ("inokashira_pond_in_snow", 12853), ("portrait_of_pere_tanguy", 15124), ("summertime", 15131)),
            120, "more steps at 256-px crops with the margin")
# Session 18: the compact net (Liu & Shuai 2019) at real size, with and without the spatial-shift Gram
# loss at equal steps and equal total style weight (session 5 compared style 0.7 + shift 0.7 against
# style 0.7 alone, so the shift run had twice the style pressure): style 1.5 + shift 1.5 against style
# 3.0, each from scratch with the real-size recipe of the johnson-<style>-real stages (photos held at
# 384 px, 128-px crops, the painting at 384 px). Only the shift net may ship, by the rule of
# docs/training.md.
_COMPACT_REAL = ["transformer", "--family", "compact", "--style", "mosaic", "--downsample", "--crop", "128",
                 "--photo-short", "384", "--style-size", "384", "--batch", "4", "--lr", "1e-3", "--recalibrate",
                 "--log-every", "50", "--ckpt-every", "50"]
PLAN.append(Stage("compact-mosaic-real", [*_COMPACT_REAL, "--style-weight", "1.5", "--shift-weight", "1.5"], 1500,
                  "compact-mosaic", 120, "the compact net at real size, style 1.5 + spatial-shift 1.5"))
PLAN.append(Stage("compact-mosaic-real-noshift", [*_COMPACT_REAL, "--style-weight", "3.0", "--shift-weight", "0"],
                  1500, "", 120, "its control at equal steps: style 3.0, no shift loss (comparison only, not shipped)"))
BY_NAME = {s.name: s for s in PLAN}


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
        print(f"{s.name:40} {_step(s):>10} {s.iters:>8} {shipped['iterations'] if shipped else '-':>8} "
              f"{s.minutes:>6.0f}m  {'running (pid %d)' % pid if pid else 'stopped'}  {s.why}")
    return 0


def command(stage: Stage, threads: int, max_minutes: float) -> list[str]:
    cmd = [sys.executable, "-m", "rtstyle.cli", "train", *stage.args, "--data", DATA, "--out", str(run_dir(stage)),
           "--iters", str(stage.iters), "--threads", str(threads), "--max-minutes", str(max_minutes)]
    shipped = ROOT / "rtstyle" / "weights" / f"{stage.stem}.safetensors"
    fallback = ROOT / "rtstyle" / "weights" / f"{stage.init}.safetensors"
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
        steps = _step(stage)
        if old and old.get("iterations", 0) >= steps and not a.force:
            print(f"{name}: shipped weights already have {old['iterations']} steps (run: {steps}); nothing to do")
            continue
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
    p = sub.add_parser("ship", help="snapshot stages' checkpoints into a checkout as fp16 weights + ledger row")
    p.add_argument("stages", nargs="+", choices=list(BY_NAME))
    p.add_argument("--to", default=str(ROOT), help="the checkout to ship into (e.g. the main worktree)")
    p.add_argument("--force", action="store_true", help="ship even if the shipped weights have as many steps")
    p.set_defaults(func=ship)
    a = ap.parse_args(argv)
    RUNS = Path(a.runs).resolve()
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
