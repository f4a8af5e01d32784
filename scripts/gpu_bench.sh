#!/usr/bin/env bash
# GPU latency table + export parity in ONE device `run` call (~9 minutes). Every step has a timeout
# and the bench saves its JSON/markdown after each cell, so a slow step keeps what it measured.
#
#   here:   ../shared/tools/gpu-kit --data none av      # .gpukit/: the PyAV wheel (not on the GPU image;
#                                                       # torch, onnx, onnxruntime, cv2, safetensors are)
#   device: run(command="bash scripts/gpu_bench.sh", carry=[".gpukit"], timeout_s=600)
#   here:   put files_at/bench.md + compile.md into docs/benchmarks.md ("On a CUDA GPU") and
#           parity.md into docs/export.md ("On a CUDA GPU"), with the device line they print.
#
# What it measures (rows model × backend × precision, columns 256/512/1024, p50/p95 ms + fps,
# CUDA events on a synchronised device):
#   1. bench: johnson, compact, multi, adain, depth on torch-cuda {fp32 eager, fp16 channels_last,
#      fp16 channels_last + CUDA graphs}, onnxruntime (its best provider there) and tensorrt when it
#      imports; a Gatys row with 500 iterations measured at each size (seed 000 Table 1);
#      end-to-end decode → stylize → encode of samples/bunny_4s.mp4 upscaled to 720p.
#   2. parity: scripts/parity.py (onnxruntime fp32/fp16, torch-cuda fp16, tensorrt vs torch fp32 CPU).
#   3. compile: johnson and compact again with a torch.compile row (first call per shape compiles).
# Files in $OUT (8, the most that come back): log.txt doctor.txt bench.json bench.md parity.json
# parity.md compile.json compile.md.
#
# A CPU dry run of the plumbing (tiny, seconds):
#   OUT=/tmp/gb SIZES=32,48 GATYS_ITERS=2 MODELS=johnson ITERS=2 PIPE_SIZE=64 PARITY_SIZES=32 \
#     PARITY_ARGS= bash scripts/gpu_bench.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_bench}
mkdir -p "$OUT"
if [ -f .gpukit/env.sh ]; then source .gpukit/env.sh; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export RTSTYLE_CACHE=${RTSTYLE_CACHE:-/tmp/rtstyle-cache}
SIZES=${SIZES:-256,512,1024}
MODELS=${MODELS:-johnson,compact,multi,adain,depth}
GATYS_ITERS=${GATYS_ITERS:-500}
PIPE_SIZE=${PIPE_SIZE:-720}            # the sample clip (432x240) upscaled to 720p: a realistic frame
PARITY_SIZES=${PARITY_SIZES:-256,255x341}
PARITY_ARGS=${PARITY_ARGS---architectures}
BUDGET=${BUDGET:-570}                  # seconds for everything, inside run's 600 s limit
iters=(); [ -n "${ITERS:-}" ] && iters=(--iters "$ITERS")
exec > >(tee "$OUT/log.txt") 2>&1

left() { echo $(( BUDGET - SECONDS )); }
step() {   # step SECONDS CMD...: run CMD under a timeout; never stop the script
  local t=$1; shift
  if [ "$t" -lt 20 ]; then echo "== skipped, no time left: $*"; return; fi
  echo "== $* (timeout ${t}s, at ${SECONDS}s)"
  timeout "$t" "$@"; local rc=$?
  [ $rc -eq 0 ] || echo "== exit $rc (124 = timed out; partial results kept): $*"
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || echo "no nvidia-smi"
python3 - <<'EOF' || { echo "missing packages: run ../shared/tools/gpu-kit --data none av here and carry .gpukit"; exit 1; }
import av, onnx, onnxruntime, safetensors, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "| av", av.__version__,
      "| onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
EOF
python3 -m rtstyle.cli doctor > "$OUT/doctor.txt" 2>&1; cat "$OUT/doctor.txt"

step $(( $(left) - 200 )) python3 -m rtstyle.cli bench --models "$MODELS" --sizes "$SIZES" \
  --backends tensorrt,torch-cuda,onnxruntime "${iters[@]}" --gatys-iters "$GATYS_ITERS" \
  --pipeline --pipeline-size "$PIPE_SIZE" --json "$OUT/bench.json" --markdown "$OUT/bench.md"
step $(( $(left) - 120 )) python3 scripts/parity.py $PARITY_ARGS --sizes "$PARITY_SIZES" \
  --json "$OUT/parity.json" --markdown "$OUT/parity.md"
step "$(left)" python3 -m rtstyle.cli bench --models johnson,compact --sizes "$SIZES" --backends torch-cuda \
  "${iters[@]}" --compile --json "$OUT/compile.json" --markdown "$OUT/compile.md"
echo "== done in ${SECONDS}s; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
