#!/usr/bin/env bash
# The GPU figures of BENCHMARKS.md, in one short run on a machine with a CUDA GPU (issue 4 item 6, preset timings):
#   1. full-scene prediction of the CNN on generated 200-band scenes of two sizes (speed, peak RSS and GPU memory);
#   2. the synthesis presets' training and sampling times on SalinasA (`full` capped and projected);
#   3. one whole Augment & Classify benchmark run on SalinasA (N = 5, seed 0) against its CPU wall time.
# Usage, from the repo root:
#   HYPERSYNTH_DATA_DIR=../shared/data OUT=gpu-out bash scripts/gpu_figures.sh
# Knobs (environment): PY (default .venv/bin/python), DEVICE (cuda), SIZES ("512 1024"), TILE (256),
# BATCH (8192), PRESETS ("fast full"), CAPS ("full=24/5": 24 VAE epochs so the discriminator, which joins after
# epoch 20, is in the projection, and 5 denoiser epochs), BENCH_METHODS (rf,augment), and a time limit per step
# (LIMIT_SCALE, LIMIT_PRESETS, LIMIT_BENCH, seconds) so one slow step cannot starve the others.
# Each step writes its JSON and log into OUT even when a later step fails.
# Session 17 ran it on a lent H200 machine whose Python lacks diffusers, open_clip, rasterio and skops: their wheels
# (pip download --no-deps for CPython 3.12 manylinux) and a copy of the SalinasA folder travelled with the checkout,
# were installed with `pip install --no-deps --target /tmp/site`, and the import name came from a link
# /tmp/ir/hypersynth -> the checkout, with PYTHONPATH=/tmp/site:/tmp/ir and PY=python3 (BENCHMARKS.md sections 3, 5).
set -u
OUT=${OUT:-gpu-out}
PY=${PY:-.venv/bin/python}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

step() {  # step NAME LIMIT command...: run with a time limit, log to OUT/NAME.log, note the exit status
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "step $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/steps.txt"
  tail -n 25 "$OUT/$name.log"
}

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
  "$PY" -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
  grep -m1 "model name" /proc/cpuinfo; nproc; free -g | head -2; } >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

step scale "${LIMIT_SCALE:-200}" "$PY" scripts/bench_scale.py --classifier cnn --device "$DEVICE" \
  --sizes ${SIZES:-512 1024} --tile-size "${TILE:-256}" --batch-size "${BATCH:-8192}" --json "$OUT/bench_scale_gpu.json"

step presets "${LIMIT_PRESETS:-170}" "$PY" scripts/preset_timings.py --dataset salinasA --presets ${PRESETS:-fast full} \
  --max-epochs ${CAPS:-full=24/5} --json "$OUT/preset_timings_gpu.json"

step bench "${LIMIT_BENCH:-160}" "$PY" -m hypersynth bench --datasets salinasA --labels-per-class 5 --seeds 0 \
  --methods "${BENCH_METHODS:-rf,augment}" --splits random --preset fast --device "$DEVICE" --quiet \
  --overwrite --json "$OUT/bench_gpu.json" --markdown "$OUT/bench_gpu.md"
