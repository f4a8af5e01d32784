#!/usr/bin/env bash
# CPU bootstrap: one slim Johnson net (width 16) for a style ('mosaic' by default), so the README
# command has real weights before any GPU run. Resumable: rerun the same command to continue from
# runs/cpu-johnson16-<style>/ckpt.pt. Then `rtstyle train lite --style trained` distils the lite net.
# Usage: STYLE=starry_night bash scripts/train_cpu_bootstrap.sh [DATA_DIR] [ITERS] [MAX_MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/content}
ITERS=${2:-3000}
MINUTES=${3:-0}
STYLE=${STYLE:-mosaic}
python3 -m rtstyle.cli train transformer --family johnson --style "$STYLE" \
  --data "$DATA" --style-dir rtstyle/styles --out "runs/cpu-johnson16-$STYLE" \
  --width 16 --n-res 5 --crop 128 --style-size 256 --batch 4 --iters "$ITERS" \
  --style-weight 0.7 --lr 1e-3 --log-every 25 --ckpt-every 100 --threads 2 --max-minutes "$MINUTES"
