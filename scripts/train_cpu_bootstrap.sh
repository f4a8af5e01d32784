#!/usr/bin/env bash
# CPU bootstrap: one slim Johnson net (width 16) for 'mosaic', so the README command has real
# weights before any GPU run. Resumable: rerun the same command to continue from runs/.../ckpt.pt.
# Usage: bash scripts/train_cpu_bootstrap.sh [DATA_DIR] [ITERS] [MAX_MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/content}
ITERS=${2:-3000}
MINUTES=${3:-0}
python3 -m rtstyle.cli train transformer --family johnson --style mosaic \
  --data "$DATA" --style-dir rtstyle/styles --out runs/cpu-johnson16-mosaic \
  --width 16 --n-res 5 --crop 128 --style-size 256 --batch 4 --iters "$ITERS" \
  --style-weight 0.7 --lr 1e-3 --log-every 25 --ckpt-every 100 --threads 2 --max-minutes "$MINUTES"
