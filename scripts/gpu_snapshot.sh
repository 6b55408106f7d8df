#!/usr/bin/env bash
# Weight snapshots of running trainings, for gpu_pipeline.sh's SNAP_S: the newest complete step
# checkpoint of each variant, without optimizer state or the instruction-state copy (~25 MB),
# goes into OUT as snap_<variant>_step_N.tar.part-* (15 MB parts: what a device call brings
# back), replacing the variant's older snapshot, so a machine lost between calls leaves a model.
#
#   bash scripts/gpu_snapshot.sh once RUN OUT VARIANT...        # one pass
#   bash scripts/gpu_snapshot.sh every SECONDS RUN OUT VARIANT...  # a pass every SECONDS
# Unpack: cat snap_main_step_N.tar.part-* | tar -x   (a Policy folder: vla eval --checkpoint)
set -euo pipefail

pack() {  # pack PARENT DIRNAME PREFIX: DIRNAME's weights and metadata as 15 MB parts
  tar -C "$1" --exclude=training_state.pt --exclude=text_cache.safetensors -cf - "$2" \
    | split -b 15m - "$3"
}

pass() {  # pass RUN OUT VARIANT...
  local run=$1 out=$2 v d s name old
  shift 2
  for v in "$@"; do
    # step_N names are zero-padded; training_state.pt is written after the weights, so its
    # presence marks a complete save: take the newest one that has it
    d=""
    for s in $(ls -d "$run/$v"/checkpoints/step_* 2>/dev/null | sort -r); do
      if [ -f "$s/training_state.pt" ]; then d=$s; break; fi
    done
    [ -n "$d" ] || continue
    name="snap_${v}_$(basename "$d")"
    [ -f "$out/$name.tar.part-aa" ] && continue
    old=$(ls "$out"/snap_"${v}"_step_* 2>/dev/null || true)
    rm -rf "$run/snap_tmp" && mkdir -p "$run/snap_tmp"
    # built aside and moved in whole: a copy of OUT taken meanwhile never holds half a part
    pack "$(dirname "$d")" "$(basename "$d")" "$run/snap_tmp/$name.tar.part-" || continue
    mv "$run/snap_tmp/"* "$out/"
    # shellcheck disable=SC2086
    rm -f $old
  done
}

mode=${1:?usage: gpu_snapshot.sh once RUN OUT VARIANT... | every SECONDS RUN OUT VARIANT...}
shift
case "$mode" in
  once) pass "$@" ;;
  every)
    # the pause runs as a child this shell waits on, so a TERM (gpu_pipeline.sh stopping the
    # snapshots) ends it too: an orphaned `sleep` kept the device command's output pipe open,
    # and the call ran to its time limit after its work was done (2026-12-06, twice)
    s=$1; shift; nap=""
    trap '[ -n "$nap" ] && kill "$nap" 2>/dev/null; exit 0' TERM INT
    while :; do sleep "$s" & nap=$!; wait "$nap"; pass "$@"; done ;;
  *) echo "unknown mode '$mode': use once or every" >&2; exit 2 ;;
esac
