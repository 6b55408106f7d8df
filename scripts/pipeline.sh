#!/usr/bin/env bash
# The whole recipe on one CUDA machine set up with the README's commands (`make setup`, with a
# CUDA build of torch): generate demonstrations -> train on 1..N GPUs -> evaluate.
#
#   bash scripts/pipeline.sh                                  # pick_place, one GPU
#   NPROC=4 WORKERS=60 bash scripts/pipeline.sh               # train on 4 GPUs (torchrun, DDP)
#   ACTION_NOISE=0.5 bash scripts/pipeline.sh                 # DART recovery data
#   LEARNER=checkpoints/pick_place_v7 INIT_FROM=checkpoints/pick_place_v7 \
#     bash scripts/pipeline.sh                                # one DAgger round, warm-started
#   GROW_S=20 GEN_MINUTES=6 bash scripts/pipeline.sh          # train while generating
#   SUITE=mt50 EPISODES=2500 bash scripts/pipeline.sh         # Meta-World MT50 (.[metaworld])
#   GEN_ARGS="--randomize 1.0 --randomize-fraction 0.5" ACTION_NOISE=0.5 \
#     TRAIN_ARGS="--camera_dropout=0.3 --instruction_aug=0.3" bash scripts/pipeline.sh
#                                                          # robustness levers (issue 33)
#
# Every stage resumes: generation skips the episodes already committed to $DATA and training
# goes on from $RUN's last checkpoint (--resume=auto), so re-running after an interruption
# continues. Outputs: $DATA (LeRobot v3), $RUN/final (the checkpoint), $RUN/eval.json.
set -euo pipefail
SUITE=${SUITE:-pick_place}
EPISODES=${EPISODES:-4000}      # generation attempts (failed ones are not kept)
SEED=${SEED:-0}                 # demonstrations' seed; evaluation uses seed 0's held-out seeds
WORKERS=${WORKERS:-$(nproc)}    # simulator processes for generation and evaluation
NPROC=${NPROC:-1}               # GPUs to train on
MINUTES=${MINUTES:-30}          # training time budget (the cosine schedule follows it)
GLOBAL_BATCH=${GLOBAL_BATCH:-256}
ACTION_NOISE=${ACTION_NOISE:-0}
EVAL_EPISODES=${EVAL_EPISODES:-50}  # per task (MT50: the published protocol is 10)
DEVICE=${DEVICE:-cuda}
CONFIG=${CONFIG:-configs/train/$SUITE.yaml}
DATA=${DATA:-data/$SUITE}
RUN=${RUN:-runs/$SUITE}
TRAIN_ARGS=${TRAIN_ARGS:-}      # extra `vla train` overrides, e.g. "--label_sigma=8"
GEN_ARGS=${GEN_ARGS:-}          # extra `vla data generate` flags, e.g. "--randomize 1.0"
export MUJOCO_GL=${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1
VLA=(python3 -m vla.cli.main)

gen_args=(--suite "$SUITE" --episodes "$EPISODES" --workers "$WORKERS" --out "$DATA"
          --seed "$SEED" --no-progress ${GEN_MINUTES:+--max-minutes "$GEN_MINUTES"})
[ "$SUITE" = mt50 ] || gen_args+=(--action-noise "$ACTION_NOISE")
# shellcheck disable=SC2206
gen_args+=($GEN_ARGS)
if [ -n "${LEARNER:-}" ]; then  # DAgger: the policy drives, the scripted expert labels
  gen_args+=(--learner "$LEARNER" --expert-prob "${EXPERT_PROB:-0.5}" --learner-device "$DEVICE")
fi
train_args=(--config "$CONFIG" --dataset="$DATA" --output_dir="$RUN" --resume=auto
            --max_minutes="$MINUTES" --steps=1000000 --device="$DEVICE" --progress=false
            --batch_size=$(( GLOBAL_BATCH / NPROC )) ${INIT_FROM:+--init_from="$INIT_FROM"})
if [ -n "${GROW_S:-}" ]; then  # start training on the first episodes, take in new ones
  train_args+=(--grow_s="$GROW_S" --grow_min_episodes="${GROW_MIN:-200}")
  nice -n 10 "${VLA[@]}" data generate "${gen_args[@]}" &
  gen_pid=$!
else
  "${VLA[@]}" data generate "${gen_args[@]}"
fi

# shellcheck disable=SC2086
if [ "$NPROC" -gt 1 ]; then
  python3 -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m vla.cli.main \
    train "${train_args[@]}" $TRAIN_ARGS
else
  "${VLA[@]}" train "${train_args[@]}" $TRAIN_ARGS
fi
if [ -n "${gen_pid:-}" ]; then wait "$gen_pid"; fi

eval_args=(--checkpoint "$RUN/final" --suite "$SUITE" --episodes-per-task "$EVAL_EPISODES"
           --seed 0 --workers "$WORKERS" --device "$DEVICE" --json "$RUN/eval.json" --no-progress)
[ "$SUITE" = mt50 ] || eval_args+=(--split both)
# shellcheck disable=SC2086
"${VLA[@]}" eval "${eval_args[@]}" ${EVAL_ARGS:-}
