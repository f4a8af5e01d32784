"""docs/benchmarks.png: `rtstyle bench --json` results next to Liu & Shuai 2019, Table 1 (GTX 1060).

    python scripts/bench_plot.py docs/bench/*.json -o docs/benchmarks.png

Left: seconds per frame (p50, log scale) against frame size for every model × backend row
(colour = architecture, line style = backend), with Liu & Shuai 2019's Johnson and compact-net figures. Right: Gatys, 500 iterations per image (hollow
markers: extrapolated from fewer measured iterations), with Liu & Shuai 2019's figures. Needs matplotlib
(the 'train' extra).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

# Liu & Shuai 2019, Table 1: seconds per image on a GTX 1060, at 256², 512², 1024².
SEED_SIZES = [256, 512, 1024]
SEED = {"Johnson": [0.027, 0.073, 0.246], "compact net": [0.021, 0.052, 0.193],
        "Gatys-500": [21.78, 58.34, 225.43]}


def rows(paths: list[Path]) -> tuple[list[dict], list[dict]]:
    """(feed-forward rows, Gatys rows) across files; a row seen twice keeps the one with more sizes."""
    best: dict[tuple, dict] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        if "settings" not in data:   # not an `rtstyle bench --json` file (e.g. scripts/parity.py output)
            continue
        device = data["environment"]["device"].split(":", 1)[-1].strip()
        for r in data["rows"]:
            if not r["cells"]:
                continue
            cfg = " ".join(f"{k}={v}" for k, v in r["config"].items() if k != "iters")
            key = (r["model"], cfg, r["backend"], r["mode"], device)
            r = {**r, "device": device, "cfg": cfg}
            if key not in best or len(r["cells"]) > len(best[key]["cells"]):
                best[key] = r
    ff = [r for r in best.values() if r["family"] != "gatys"]
    return ff, [r for r in best.values() if r["family"] == "gatys"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path, default=Path("docs/benchmarks.png"))
    ap.add_argument("--title", default=None, help="a line above both panels (the machine, what else ran)")
    a = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.ticker import NullFormatter
    ff, gatys = rows(a.json)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 7), gridspec_kw={"width_ratios": [1.5, 1]})
    # colour = architecture, line style = backend
    archs = list(dict.fromkeys((r["model"], r["cfg"]) for r in ff))
    colours = dict(zip(archs, plt.get_cmap("tab10").colors))
    styles = {"onnxruntime": "-", "torch": "--", "torch-cuda": "-.", "tensorrt": ":"}
    for r in ff:
        sizes = sorted(int(s) for s in r["cells"])
        secs = [r["cells"][str(s)]["p50_ms"] / 1000 for s in sizes]
        ax.plot(sizes, secs, styles.get(r["backend"], "-"), marker="o", lw=1.3, ms=4,
                color=colours[(r["model"], r["cfg"])],
                label=f"{r['model']} ({r['cfg']}) · {r['backend']} {r['mode']} · {r['device']}")
    for (name, secs), style in zip(list(SEED.items())[:2], ("--", ":")):
        ax.plot(SEED_SIZES, secs, "k" + style, marker="s", ms=5, label=f"Liu & Shuai 2019 {name}, GTX 1060")
    ax.set(xscale="log", yscale="log", xlabel="frame size (square, px)", ylabel="seconds per frame (p50)",
           title="Feed-forward nets: latency per frame (batch 1)")
    ax.set_xticks(SEED_SIZES, [f"{s}²" for s in SEED_SIZES])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)

    bx.plot(SEED_SIZES, SEED["Gatys-500"], "k--", marker="s", label="Liu & Shuai 2019, GTX 1060")
    for r in gatys:
        sizes = sorted(int(s) for s in r["cells"])
        total = [r["cells"][str(s)]["gatys"]["total_500_s"] for s in sizes]
        measured = [r["cells"][str(s)]["gatys"]["measured"] for s in sizes]
        k = r["config"].get("iters")
        line, = bx.plot(sizes, total, lw=1.2, label=f"rtstyle {r['backend']} · {r['device']}"
                        + ("" if all(measured) else f" (extrapolated from {k} iterations)"))
        for s, t, m in zip(sizes, total, measured):
            bx.plot([s], [t], marker="o", color=line.get_color(), mfc=line.get_color() if m else "none")
    bx.set(xscale="log", yscale="log", xlabel="image size (square, px)", ylabel="seconds per image",
           title="Gatys, 500 iterations")
    bx.set_xticks(SEED_SIZES, [f"{s}²" for s in SEED_SIZES])
    bx.xaxis.set_minor_formatter(NullFormatter())
    bx.grid(True, which="both", alpha=0.3)
    bx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    if a.title:
        fig.suptitle(a.title, fontsize=9)
    fig.tight_layout()
    a.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.output, dpi=120, bbox_inches="tight")
    print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
