#!/usr/bin/env bash
# Meta-World MT50 in one command on a lent GPU machine (16 cores + one H100; Python 3.12 + torch,
# no network, no mujoco/metaworld/MiniLM): Meta-World's scripted policies -> demonstrations (50
# attempts per task, 16 EGL workers) -> train configs/train/mt50.yaml for what is left of the
# command's time -> the checkpoint, split into <= 15 MB parts, in $OUT.
#
#   WALL_S=580 bash scripts/gpu_metaworld.sh          # generate + train + pack (one 10-min call)
#   NPROC=2 WORKERS=30 WALL_S=580 bash scripts/gpu_metaworld.sh   # on 2 GPUs + 32 cores
#   bash scripts/gpu_metaworld.sh eval                 # next call on the warm machine: MT50 eval
#   CKPT=DIR bash scripts/gpu_metaworld.sh eval        #   ... of a checkpoint folder carried in
#   (EVAL_DEVICE=cpu EVAL_ARGS="--task reach-v3 --max-steps 20": a smoke run on a CPU box)
#
# Re-running on a warm machine resumes: generation skips the attempts already made, training
# continues from its last save (--resume=auto) for another budget. When generation plus the
# estimated dataset load leave under a minute of WALL_S, the call stops after generation (no
# checkpoint yet): run the same command again to load and train for the whole next call.
# Sizing (CPU here, 2 cores): one MT50 demo episode is ~83 steps at 80 Hz; the expert alone
# takes ~1.2 ms/step, rendering scene + wrist at 128x128 with Mesa ~0.25 s/step. 2500 attempts
# give ~2460 episodes, ~205k frames (x2 cameras: ~20 GB uint8 in GPU memory for training).
#
# Carry (the `carry` list; the whole tree must stay under 64 MiB):
#   .whl/  bash ../shared/hooks/device-carry.sh mujoco==3.3.0 gymnasium==1.4.0 \
#              farama-notifications pyopengl av      (mujoco 6.3 MiB, gymnasium 0.5, farama 0.0,
#                                                     pyopengl 3.0, av 34.1)
#          .venv/bin/python scripts/metaworld_slim_wheel.py --out .whl    (metaworld 11.9 MiB:
#              the official 35 MiB wheel less the assets no MT50 model loads)
#   .gl/   the GL loader .debs (device-carry.sh)
#   .cache/mt50_text.safetensors  (0.7 MiB) made here, where MiniLM is installed:
#          vla text-cache --suite mt50 --plan-episodes 50 --out .cache/mt50_text.safetensors
set -euo pipefail
STAGE=${1:-all}
EPISODES=${EPISODES:-2500}   # attempts: 50 per task (round-robin); ~98% succeed and are kept
SEED=${SEED:-0}
WORKERS=${WORKERS:-16}
# NPROC=2: train on 2 GPUs (torchrun + DDP, set up by gpu_env.sh; nvidia-h200-x2)
WALL_S=${WALL_S:-580}        # this command's limit, less a margin
GEN_MINUTES=${GEN_MINUTES:-4}  # generation stops starting attempts after this (resumable)
# kept back from training for decoding the dataset into GPU memory, saving and packing; by
# default from the dataset's frame count at LOAD_FPS camera frames/s (pick_place on this machine:
# 2 x 77,221 frames decoded in 109 s by 12 processes, benchmarks/RESULTS.md) + 60 s for
# start-up (imports, CUDA), saving and packing
LOAD_S=${LOAD_S:-}
LOAD_FPS=${LOAD_FPS:-1400}
IMAGE=${IMAGE:-128}
DATA=${DATA:-/tmp/vla_mt50_data}
RUN=${RUN:-/tmp/vla_mt50_run}
OUT=${OUT:-outputs/gpu_mt50}
TEXT_CACHE=${TEXT_CACHE:-.cache/mt50_text.safetensors}
TRAIN_ARGS=${TRAIN_ARGS:-}
mkdir -p "$OUT"
T_START=$(date +%s)

# shellcheck source=scripts/gpu_env.sh
source "$(dirname "$0")/gpu_env.sh"
# fail in seconds, not minutes, when a carried wheel is missing
python3 -c "import mujoco, metaworld, metaworld.policies, gymnasium, av, scipy; \
print('mujoco', mujoco.__version__, 'metaworld', metaworld.__file__)"

if [ "$STAGE" = eval ]; then
  CKPT=${CKPT:-$RUN/final}
  # the published protocol (configs/eval/mt50.yaml): 10 episodes per task, 500-step horizon
  # shellcheck disable=SC2086
  $VLA eval --checkpoint "$CKPT" --suite mt50 --episodes-per-task 10 --seed 0 \
    --workers "$WORKERS" --device "${EVAL_DEVICE:-cuda}" --json "$OUT/eval_mt50.json" \
    --video-dir "$OUT/videos" --videos-per-outcome 1 --no-progress ${EVAL_ARGS:-} \
    | tee "$OUT/eval_mt50.txt"
  echo "eval wall: $(( $(date +%s) - T_START )) s"
  exit 0
fi
[ "$STAGE" = all ] || { echo "unknown stage '$STAGE': use 'all' (default) or 'eval'" >&2; exit 2; }
[ -f "$TEXT_CACHE" ] || { echo "missing $TEXT_CACHE: make it where MiniLM is installed:" \
  "vla text-cache --suite mt50 --plan-episodes 50 --out $TEXT_CACHE (and carry it)" >&2; exit 2; }

t0=$(date +%s)
$VLA data generate --suite mt50 --episodes "$EPISODES" --workers "$WORKERS" --out "$DATA" \
  --seed "$SEED" --image-size "$IMAGE" "$IMAGE" --max-minutes "$GEN_MINUTES" \
  --json "$OUT/datagen.json" --no-progress
echo "datagen wall: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/timing.txt"

FRAMES=$(python3 -c "import json; print(json.load(open('$OUT/datagen.json'))['frames_in_dataset'])")
LOAD_S=${LOAD_S:-$(( FRAMES * 2 / LOAD_FPS + 60 ))}
left=$(( WALL_S - ($(date +%s) - T_START) - LOAD_S ))
echo "dataset: $FRAMES frames; load + save allowance ${LOAD_S} s; ${left} s left to train" \
  | tee -a "$OUT/timing.txt"
if [ "$left" -lt 60 ]; then
  # loading alone would run past this command's limit: stop cleanly; the same command on the
  # warm machine skips generation and spends the whole call on loading + training
  echo "not enough time left to load and train in this call: re-run the same command" \
    | tee -a "$OUT/timing.txt"
  exit 0
fi
MINUTES=$(python3 -c "print(round($left / 60, 2))")
echo "training budget: $MINUTES min" | tee -a "$OUT/timing.txt"
t0=$(date +%s)
# shellcheck disable=SC2086
$TRAIN --config configs/train/mt50.yaml --dataset="$DATA" --text-cache "$TEXT_CACHE" \
  --output_dir="$RUN" --resume=auto --max_minutes="$MINUTES" --progress=false $DDP_ARGS $TRAIN_ARGS
echo "train wall: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/timing.txt"

cp "$RUN/train_log.jsonl" "$OUT/" 2>/dev/null || true
tar -C "$RUN" -cf - final | split -b 15m - "$OUT/ckpt.tar.part-"
echo "total wall: $(( $(date +%s) - T_START )) s" | tee -a "$OUT/timing.txt"
ls -la "$OUT"
# unpack here: cat $OUT/ckpt.tar.part-* | tar -xf - -C runs/mt50   (-> runs/mt50/final)
