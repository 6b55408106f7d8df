#!/usr/bin/env bash
# Data-parallel scaling on a lent machine of 2+ GPUs (nvidia-h200-x2), in one command:
# generate pick_place demonstrations with EGL workers, then train configs/train/pick_place.yaml
# twice on them for the same number of steps and the same global batch: once on one GPU, once
# under torchrun on NPROC GPUs (DDP, NCCL), and compare throughput and loss curves
# (benchmarks/ddp_scaling.py). Both final checkpoints come back in $OUT for the success-rate
# comparison (`vla eval`, run where MuJoCo renders).
#
#   GEN_MINUTES=2.5 STEPS=1500 bash scripts/gpu_ddp.sh
#   SKIP_GPU_ENV=1 DEVICE=cpu DATA=<dataset> TEXT_CACHE= STEPS=20 BATCH=8 GEN_MINUTES=0 \
#     TRAIN_ARGS="--config configs/train/tiny_cpu.yaml" bash scripts/gpu_ddp.sh  (CPU smoke)
#
# Carry: .whl_pp/ (the .whl subset pick_place needs: av, mujoco, gymnasium, farama, glfw,
# pyopengl; pass WHEELS=.whl_pp), .gl/, .pbdata/, and a text cache covering the plan, made here:
#   vla text-cache --plan-episodes 12000 --plan-seed 0 --out .cache/text_cache.safetensors (16 MB)
# A warm machine re-running the command keeps the dataset and every finished run (FORCE=1
# retrains). NVLink multicast stays off (the machine's NCCL_NVLS_ENABLE=0 and friends are kept,
# and set here too in case a shell lost them).
set -euo pipefail
EPISODES=${EPISODES:-12000}
SEED=${SEED:-0}
GEN_MINUTES=${GEN_MINUTES:-2.5}
ACTION_NOISE=${ACTION_NOISE:-0.5}
WORKERS=${WORKERS:-30}
STEPS=${STEPS:-1500}
BATCH=${BATCH:-256}          # the global batch of both runs
NPROC=${NPROC:-2}
DEVICE=${DEVICE:-cuda}
DECODE=${DECODE:-28}         # decode processes in all (split between the ranks)
RANK_BATCH_STEPS=${RANK_BATCH_STEPS:-400}  # a 1-GPU run at the per-rank batch (0: none)
STOP_MINUTES=${STOP_MINUTES:-4}  # a guard per run (stops, does not reshape the schedule)
DATA=${DATA:-/tmp/vla_data}
RUNS=${RUNS:-/tmp/vla_ddp}
OUT=${OUT:-outputs/gpu_ddp}
TEXT_CACHE=${TEXT_CACHE-.cache/text_cache.safetensors}
TRAIN_ARGS=${TRAIN_ARGS:---config configs/train/pick_place.yaml}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
mkdir -p "$OUT" "$RUNS"
if [ "${SKIP_GPU_ENV:-0}" = 1 ]; then
  VLA="python3 -m vla.cli.main"
else
  # shellcheck source=scripts/gpu_env.sh
  source "$(dirname "$0")/gpu_env.sh"
  python3 -c "import torch; print('GPUs:', torch.cuda.device_count())"
fi

if [ "$GEN_MINUTES" != 0 ]; then
  t0=$(date +%s)
  $VLA data generate --suite pick_place --backend mujoco --episodes "$EPISODES" \
    --workers "$WORKERS" --out "$DATA" --seed "$SEED" --json "$OUT/datagen.json" --no-progress \
    --action-noise "$ACTION_NOISE" --max-minutes "$GEN_MINUTES"
  echo "datagen wall: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/timing.txt"
fi

common=(--dataset="$DATA" --output_dir=RUN --steps="$STEPS" --log_every=25 --save_every=1000000
        --progress=false --device="$DEVICE" --max_minutes="$STOP_MINUTES" --time_schedule=false)
[ -n "$TEXT_CACHE" ] && common+=(--text-cache "$TEXT_CACHE")

train_run() {  # name nproc [batch divisor] [steps]: one run, unless its final/ exists
  local name=$1 n=$2 div=${3:-$2} dir="$RUNS/$1"
  if [ -d "$dir/final" ] && [ "${FORCE:-0}" != 1 ]; then echo "$name: kept from before"; return; fi
  rm -rf "$dir"
  local args=("${common[@]/--output_dir=RUN/--output_dir=$dir}")
  args+=(--batch_size=$(( BATCH / div )) --decode_workers=$(( DECODE / n )))
  [ -n "${4:-}" ] && args+=(--steps="$4")
  local t0; t0=$(date +%s)
  if [ "$n" = 1 ]; then
    # shellcheck disable=SC2086
    CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} $VLA train $TRAIN_ARGS "${args[@]}"
  else
    # shellcheck disable=SC2086
    python3 -m torch.distributed.run --standalone --nproc_per_node "$n" -m vla.cli.main train \
      $TRAIN_ARGS "${args[@]}"
  fi
  echo "$name wall (load + train + save): $(( $(date +%s) - t0 )) s" | tee -a "$OUT/timing.txt"
}
train_run gpu1 1
train_run "gpu$NPROC" "$NPROC"
extra=()
if [ "$RANK_BATCH_STEPS" != 0 ]; then
  # one GPU at the per-rank batch, for throughput only: separates the GPU's efficiency at the
  # smaller batch from the data-parallel overhead (benchmarks/ddp_scaling.py --single-rank-batch)
  train_run gpu1_rank_batch 1 "$NPROC" "$RANK_BATCH_STEPS"
  extra=(--single-rank-batch "$RUNS/gpu1_rank_batch")
fi

python3 benchmarks/ddp_scaling.py --single "$RUNS/gpu1" --multi "$RUNS/gpu$NPROC" "${extra[@]}" \
  --json "$OUT/ddp_scaling.json" --plot "$OUT/ddp_scaling.png" | tee "$OUT/ddp_scaling.txt"
for name in gpu1 "gpu$NPROC"; do cp "$RUNS/$name/train_log.jsonl" "$OUT/train_log_$name.jsonl"; done
# at most 8 files come back: both checkpoints in <= 15 MB parts, the small files in one tar
if [ "${PACK:-1}" = 1 ]; then  # PACK=0: a throughput-only run, checkpoints stay there
  tar -C "$RUNS" -cf - gpu1/final "gpu$NPROC/final" | split -b 15m - "$OUT/ckpts.tar.part-"
fi
(cd "$OUT" && tar -cf report.tar --remove-files -- *.json *.txt *.png *.jsonl)
ls -la "$OUT"
# unpack here: cat $OUT/ckpts.tar.part-* | tar -xf - -C runs/ddp   (-> runs/ddp/gpu2/final)
