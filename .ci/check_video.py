"""Check the README main job's output against its input: same frame count and frame rate,
H.264 video, and an audio stream when the input has one. Prints one line; exit 1 on a mismatch."""
from __future__ import annotations

import sys

import av


def probe(path: str) -> dict:
    with av.open(path) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        with av.open(path) as c2:
            has_audio = bool(c2.streams.audio)
        return {"frames": frames, "fps": float(v.average_rate), "codec": v.codec_context.name,
                "audio": has_audio, "size": (v.width, v.height)}


def main(src: str, out: str) -> int:
    a, b = probe(src), probe(out)
    problems = []
    if b["frames"] != a["frames"]:
        problems.append(f"frames {b['frames']} != {a['frames']}")
    if abs(b["fps"] - a["fps"]) > 0.01:
        problems.append(f"fps {b['fps']:.3f} != {a['fps']:.3f}")
    if b["codec"] != "h264":
        problems.append(f"codec {b['codec']} (expected h264)")
    if a["audio"] and not b["audio"]:
        problems.append("audio stream lost")
    if problems:
        print(f"CI: {out} does not match {src}: " + "; ".join(problems))
        return 1
    print(f"CI: {out}: {b['frames']} frames at {b['fps']:.2f} fps, {b['codec']} {b['size'][0]}x{b['size'][1]}, "
          f"audio {'kept' if b['audio'] else 'none (input has none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
