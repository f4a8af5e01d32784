#!/usr/bin/env bash
# GPU recipe for the relative-depth nets (rtstyle train depth): the real-time 'rt' variant and the
# paper-size 'full' hourglass, each a resumable run of under 10 minutes (one device `run` call).
# NOT the GPU command: that is scripts/gpu_run.sh (9 minutes: tests, multi + AdaIN training, bench,
# pipeline), which leaves no time for depth. Kept for a session given to depth alone. Caveat: the
# depth trainer keeps its own clock and starts it after its render buffer is full, so
# --max-minutes 8.5 here does not bound the command (rtstyle.train.loop.process_start() is the fix).
# Training data is rendered on the fly by rtstyle.train.depth_data.synth (12 render processes feed a replay
# buffer), textured with our photos, plus weak pairs on the photos: nothing large is carried.
#
#   here:   ../shared/tools/gpu-kit                      # .gpukit/: photos (+ safetensors wheel)
#   device: run(command="source .gpukit/env.sh && bash scripts/gpu_train_depth.sh rt", carry=[".gpukit"])
#           run(command="source .gpukit/env.sh && bash scripts/gpu_train_depth.sh full", carry=[".gpukit"])
#   here:   python scripts/install_weights.py /work/.device/<files_at>/depth-*.tar   # or copy by hand:
#           rtstyle/weights/depth-<variant>.safetensors + .json, then scripts/eval_depth.py for docs/depth.md
#
# To continue a run in a second call, carry its folder back: carry=[".gpukit", "runs/depth-rt"]
# (the rt checkpoint is ~16 MB; the full one ~65 MB is over the carry limit: run full in one go,
# or raise --iters and accept a fresh start). Outputs: $OUT/depth-<variant>.tar with the fp16
# weights + manifest, losses.csv/png, the last sample grid, and eval_depth.py's JSON (CPU-free sets).
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:?usage: gpu_train_depth.sh rt|full}
DATA=${RTSTYLE_DATA:-../shared/data}
OUT=${OUT:-runs/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
run=runs/depth-$variant

case "$variant" in
  rt)   size=320x240; batch=32; iters=6000 ;;
  full) size=320x240; batch=16; iters=4000 ;;
  *) echo "unknown variant $variant (rt | full)"; exit 2 ;;
esac

python3 -m rtstyle.cli train depth --variant "$variant" --out "$run" --size "$size" --batch "$batch" \
  --real-batch 8 --real-data "$DATA/content" --textures "$DATA/content" --iters "$iters" --lr 1e-3 \
  --pairs 3000 --si-weight 0.5 --buffer 2000 --fresh 12 --workers 12 --val-views 96 \
  --log-every 100 --ckpt-every 500 --max-minutes 8.5 --device cuda

python3 scripts/eval_depth.py "$run/depth-$variant.safetensors" --synth-size 320x240 --json "$run/eval.json" \
  || echo "eval_depth.py failed (data folders missing?); the weights are still written"

last=$(ls "$run"/samples_*.png | tail -1)
tar -cf "$OUT/depth-$variant.tar" "$run"/depth-"$variant".safetensors "$run"/depth-"$variant".json \
  "$run"/losses.csv "$run"/losses.png "$last" $(ls "$run"/eval.json 2>/dev/null || true)
nvidia-smi --query-gpu=name,memory.used --format=csv >> "$OUT/depth-$variant.gpu.txt" 2>/dev/null || true
echo "wrote $OUT/depth-$variant.tar"
