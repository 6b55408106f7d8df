#!/usr/bin/env bash
# How the shipped checkpoint is made, in one command on a lent GPU machine (Python 3.12 + torch,
# no network): generate expert demonstrations with many EGL workers, train, pack the result.
#
#   EPISODES=4000 MINUTES=6 bash scripts/gpu_pipeline.sh        # artefacts -> $OUT
#   GEN_MINUTES=3 ACTION_NOISE=0.5 EPISODES=12000 WALL_S=560 bash scripts/gpu_pipeline.sh
#     (generate for 3 minutes at most, with DART noise injection, then train for the rest)
#   NPROC=2 WORKERS=30 ... bash scripts/gpu_pipeline.sh    (2 GPUs: train under torchrun, DDP)
#   EVAL_EPISODES=50 SEL_EPISODES=20 ... bash scripts/gpu_pipeline.sh
#     (then evaluate there: pick the execution horizon, 2 or 4, on a selection set (seed 1000,
#     SEL_EPISODES per family, seen split), store it in the checkpoint, and run the test
#     evaluation: seed 0, EVAL_EPISODES per family, both splits; needs .cache/eval_text.safetensors
#     from `vla text-cache --eval-episodes 50 --eval-seed 0 --eval-seed 1000`)
#   A run longer than one device command: bash scripts/gpu_job.sh start bash scripts/gpu_pipeline.sh
#
# Carried beside the repo (see ../shared/hooks/device-carry.sh): .whl/ (mujoco, av, gymnasium,
# pyopengl, glfw wheels), .gl/ (GL loader .debs), .pbdata/ (a pybullet_data package holding only
# franka_panda/panda.urdf + meshes/collision), .cache/text_cache.safetensors made here with
#   vla text-cache --plan-episodes $EPISODES --plan-seed $SEED --out .cache/text_cache.safetensors
# (the GPU machine has no MiniLM package; generation is seeded, so the plan's instructions are
# exactly the dataset's). Re-running on a warm machine resumes both generation and training.
# Size: .whl (46 MB, PyAV most of it) + the text caches (~17 MB for a 4500-attempt plan and the
# eval seeds) + the shipped checkpoint (25 MB, tracked) pass the 64 MiB a call carries. The
# pipeline never reads the shipped checkpoint: move its model.safetensors aside for the call
# (the v3 run did) or plan fewer attempts.
set -euo pipefail
EPISODES=${EPISODES:-4000}
SEED=${SEED:-0}
MINUTES=${MINUTES:-6}
WORKERS=${WORKERS:-16}
DATA=${DATA:-/tmp/vla_data}
RUN=${RUN:-/tmp/vla_run}
OUT=${OUT:-outputs/gpu}
TRAIN_ARGS=${TRAIN_ARGS:-}
ACTION_NOISE=${ACTION_NOISE:-0}
GEN_MINUTES=${GEN_MINUTES:-}
# the preset's `steps` (6000) is a hard stop even with time left: the time budget decides here
STEPS=${STEPS:-200000}
mkdir -p "$OUT"

# shellcheck source=scripts/gpu_env.sh
source "$(dirname "$0")/gpu_env.sh"

T_START=$(date +%s)
t0=$(date +%s)
$VLA data generate --suite pick_place --backend mujoco --episodes "$EPISODES" \
  --workers "$WORKERS" --out "$DATA" --seed "$SEED" --json "$OUT/datagen.json" --no-progress \
  --action-noise "$ACTION_NOISE" ${GEN_MINUTES:+--max-minutes "$GEN_MINUTES"}
echo "datagen wall: $(( $(date +%s) - t0 )) s"
# WALL_S (a device command's limit): train for what is left of it after generation, keeping
# LOAD_S for loading the data, saving and packing.
if [ -n "${WALL_S:-}" ]; then
  left=$(( WALL_S - ($(date +%s) - T_START) - ${LOAD_S:-100} ))
  MINUTES=$(python3 -c "print(max(0.5, round($left / 60, 2)))")
  echo "training budget: $MINUTES min"
fi

t0=$(date +%s)
# shellcheck disable=SC2086
$TRAIN --config configs/train/pick_place.yaml --dataset="$DATA" \
  --text-cache .cache/text_cache.safetensors --output_dir="$RUN" --resume=auto \
  --max_minutes="$MINUTES" --steps="$STEPS" --progress=false $DDP_ARGS $TRAIN_ARGS
echo "train wall: $(( $(date +%s) - t0 )) s"

cp "$RUN/train_log.jsonl" "$OUT/" 2>/dev/null || true
# packed before any evaluation, so a failed evaluation loses no checkpoint
tar -C "$RUN" -cf - final | split -b 15m - "$OUT/ckpt.tar.part-"

EVAL_EPISODES=${EVAL_EPISODES:-0}
if [ "$EVAL_EPISODES" -gt 0 ]; then
  t0=$(date +%s)
  CK="$RUN/final"
  EVAL_TEXT=${EVAL_TEXT:-.cache/eval_text.safetensors}
  EV=(--checkpoint "$CK" --workers "$WORKERS" --device "${EVAL_DEVICE:-cuda}" --text-cache "$EVAL_TEXT"
      --no-progress)
  mkdir -p "$OUT/reports"
  for H in 2 4; do
    $VLA eval "${EV[@]}" --episodes-per-task "${SEL_EPISODES:-20}" --seed 1000 --split train \
      --execution-horizon "$H" --json "$OUT/reports/sel_h$H.json" | tail -8
  done
  # the horizon with the higher selection-set success (ties: 4, the trained value) becomes the
  # default of the evaluated checkpoint (the packed copy keeps the trained value: apply the
  # choice, printed here, when shipping it); the test seeds never take part in the choice
  python3 - "$CK/policy_meta.json" "$OUT/reports" <<'PY'
import json, sys
meta_path, rep = sys.argv[1], sys.argv[2]
rate = {h: json.load(open(f"{rep}/sel_h{h}.json"))["success_rate"] for h in (2, 4)}
best = 2 if rate[2] > rate[4] else 4
meta = json.load(open(meta_path))
meta["execution_horizon"] = best
json.dump(meta, open(meta_path, "w"), indent=1)
print(f"selection set success by horizon: {rate} -> execution_horizon {best}")
PY
  $VLA eval "${EV[@]}" --episodes-per-task "$EVAL_EPISODES" --seed 0 --split both \
    --json "$OUT/reports/eval_mujoco.json" | tail -14
  echo "eval wall: $(( $(date +%s) - t0 )) s"
  tar -C "$OUT" -cf "$OUT/reports.tar" reports && rm -r "$OUT/reports"
fi
ls -la "$OUT"
