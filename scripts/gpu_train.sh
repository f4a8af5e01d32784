#!/usr/bin/env bash
# GPU training recipe (one H100): every network family in ~25 GPU-minutes, as resumable stages of
# under 10 minutes each, one device `run` call per stage. Run from the repo root on the GPU machine:
#
#   here:   ../shared/tools/gpu-kit                      # .gpukit/: photos + paintings + safetensors wheel
#   device: run(command="source .gpukit/env.sh && bash scripts/gpu_train.sh multi", carry=[".gpukit"])
#           run(command="source .gpukit/env.sh && bash scripts/gpu_train.sh single", carry=[".gpukit"])
#           run(command="source .gpukit/env.sh && bash scripts/gpu_train.sh adain", carry=[".gpukit"])
#           run(command="source .gpukit/env.sh && bash scripts/gpu_train.sh lite", carry=[".gpukit"])
#             (lite distils from the multi-style net: runs/multi on a still-warm machine, else the
#              installed weights — install the multi stage's tar first)
#   here:   python scripts/install_weights.py /work/.device/<files_at>/*.tar   # copies weights + logs in
#
# Each stage stops itself before the 10-minute limit (--max-minutes) with a checkpoint; rerunning a
# stage with its runs/ folder carried back resumes it. Outputs: $OUT/<stage>.tar with the weights
# (fp16 safetensors + manifest), losses.csv/png and the last sample grid of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
stage=${1:?usage: gpu_train.sh multi|single|adain|lite}
DATA=${RTSTYLE_DATA:-../shared/data}/content
OUT=${OUT:-runs/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
train() { python3 -m rtstyle.cli train "$@" --data "$DATA" --device cuda; }

case "$stage" in
  multi)   # all bundled styles in one conditional-instance-norm net
    train transformer --family multi --style all --out runs/multi --width 32 --crop 256 --style-size 384 \
      --batch 8 --iters 12000 --lr 1e-3 --style-weight 0.7 --log-every 100 --ckpt-every 1000 --max-minutes 8.5
    runs=(runs/multi) ;;
  single)  # Johnson nets for mosaic and starry_night; compact net + spatial-shift loss for mosaic
    train transformer --family johnson --style mosaic --out runs/johnson-mosaic --width 32 --crop 256 \
      --batch 8 --iters 3000 --style-weight 0.7 --log-every 100 --ckpt-every 1000 --max-minutes 2.8
    train transformer --family johnson --style starry_night --out runs/johnson-starry_night --width 32 \
      --crop 256 --batch 8 --iters 3000 --style-weight 0.7 --log-every 100 --ckpt-every 1000 --max-minutes 2.8
    train transformer --family compact --style mosaic --out runs/compact-mosaic --width 64 --downsample \
      --crop 256 --batch 10 --iters 3000 --lr 5e-4 --style-weight 0.7 --shift-weight 0.7 --log-every 100 \
      --ckpt-every 1000 --max-minutes 2.8
    runs=(runs/johnson-mosaic runs/johnson-starry_night runs/compact-mosaic) ;;
  adain)   # decoder only; the VGG19 encoder is frozen and shared
    train adain --out runs/adain --crop 256 --batch 8 --iters 20000 --log-every 100 --ckpt-every 1000 \
      --max-minutes 8.5
    runs=(runs/adain) ;;
  lite)    # CPU real-time tier: distilled from the best trained teacher of every trained style
    export RTSTYLE_WEIGHTS="runs/multi${RTSTYLE_WEIGHTS:+:$RTSTYLE_WEIGHTS}"
    train lite --style trained --out runs/lite --crop 256 --batch 16 --iters 8000 --log-every 100 \
      --ckpt-every 1000 --max-minutes 8
    runs=(runs/lite) ;;
  *) echo "unknown stage $stage (multi | single | adain | lite)"; exit 2 ;;
esac

files=()
for r in "${runs[@]}"; do
  last=$(ls "$r"/samples_*.png | tail -1)
  files+=("$r"/*.safetensors "$r"/*.json "$r"/losses.csv "$r"/losses.png "$last")
done
tar -cf "$OUT/$stage.tar" "${files[@]}"
nvidia-smi --query-gpu=name,memory.used --format=csv >> "$OUT/$stage.gpu.txt" 2>/dev/null || true
echo "wrote $OUT/$stage.tar"
