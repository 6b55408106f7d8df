#!/usr/bin/env bash
# Many `vla eval` runs of one checkpoint on a lent GPU machine's CPU cores, one call:
#
#   bash scripts/gpu_eval_sweep.sh                         # v5, read-out windows 0 and 8
#   RUNS="w0:0:--readout-window=0 w8:2000:--readout-window=8" CKPT=DIR WALL_S=540 \
#     EPISODES=50 WORKERS=15 EVAL_TEXT=.evaltext/eval_text.safetensors WHEELS=.whlxz \
#     bash scripts/gpu_eval_sweep.sh
#
# RUNS: space-separated NAME:SEED:ARGS (ARGS comma-separated vla eval flags), run in order; the
# report of each is reports/NAME_sSEED.json. On an H100 machine's 16 cores, 15 workers ran 400
# episodes (50 per family, both splits) in 73-81 s: seven times the 2-core CPU machine.
# Carry .whlxz .gl .pbdata and EVAL_TEXT, the MiniLM states of the evaluation seeds' instructions,
# made here with `vla text-cache --eval-episodes 50 --eval-seed 0 --eval-seed 2000 --out F`
# (without --int8: the same states as an evaluation on a machine with MiniLM).
# Every report is tarred into $OUT/reports.tar as soon as it is written, so a run cut short by
# WALL_S (or the call's limit) still brings back what finished. The policy runs on the CPU in
# each worker (one torch thread each), as on the CPU machine; only the cores differ.
set -euo pipefail
: "${OUT:?set OUT}"
source "${ENV_SCRIPT:-scripts/gpu_env.sh}"  # tests pass a stand-in
CKPT=${CKPT:-checkpoints/pick_place_v7}
EPISODES=${EPISODES:-50}
WORKERS=${WORKERS:-15}
WALL_S=${WALL_S:-540}
EVAL_TEXT=${EVAL_TEXT:-.evaltext/eval_text.safetensors}
RUNS=${RUNS:-"w0:0:--readout-window=0 w8:0:--readout-window=8"}
start=$(date +%s)
mkdir -p "$OUT/reports"
for run in $RUNS; do
  IFS=: read -r name seed args <<< "$run"
  left=$(( WALL_S - ($(date +%s) - start) ))
  if [ "$left" -lt 30 ]; then echo "skip $name (seed $seed): ${left} s left"; continue; fi
  t0=$(date +%s)
  # shellcheck disable=SC2046
  timeout "$left" $VLA eval --checkpoint "$CKPT" --backend mujoco --split both \
    --episodes-per-task "$EPISODES" --seed "$seed" --workers "$WORKERS" --device cpu \
    --text-cache "$EVAL_TEXT" --no-progress $(echo "$args" | tr ',' ' ') \
    --json "$OUT/reports/${name}_s$seed.json" | grep -E "ALL|episodes in" || echo "$name: no report"
  echo "$name (seed $seed, $args): $(( $(date +%s) - t0 )) s"
  tar -C "$OUT" -cf "$OUT/reports.tar" reports
done
rm -r "$OUT/reports"
