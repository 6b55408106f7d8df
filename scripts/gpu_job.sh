#!/usr/bin/env bash
# Run one long job on a lent GPU machine across several device commands (each lasts at most
# 10 minutes; the machine stays held while calls follow each other within ~30 s):
#
#   bash scripts/gpu_job.sh start bash scripts/gpu_pipeline.sh   # detach (setsid), return at once
#   bash scripts/gpu_job.sh wait 570                              # next calls: follow the log
#
# `start` runs the command in a new process session, so it outlives the device command that
# started it (the tool ends only the command's own process group). Its output goes to
# $JOB/log, its exit status to $JOB/rc, and the files it writes under $JOB/out (exported to it
# as OUT) are copied into the calling command's $OUT by every `wait`, which returns when the
# job ends or after SECONDS, whichever is first, and fails at once (rc 4) on a machine that has
# no job. A machine lost between calls loses the job: keep what matters small and copy it out at
# every call (gpu_pipeline.sh's SNAP_S). Twice on 2026-12-04 a gap between calls outlasted the
# idle release and the job was lost: a job that must finish should fit one call.
set -euo pipefail
JOB=${JOB:-/tmp/vla_job}
mode=${1:?usage: gpu_job.sh start CMD... | wait SECONDS}
shift
case "$mode" in
  start)
    if [ -f "$JOB/pid" ] && [ ! -f "$JOB/rc" ] && kill -0 "$(cat "$JOB/pid")" 2>/dev/null; then
      echo "a job is already running (pid $(cat "$JOB/pid")); wait for it or kill it" >&2
      exit 1
    fi
    rm -rf "$JOB"; mkdir -p "$JOB/out"
    OUT="$JOB/out" setsid nohup bash -c '"$@"; echo $? > "'"$JOB"'/rc"' job "$@" \
      > "$JOB/log" 2>&1 < /dev/null &
    echo $! > "$JOB/pid"
    echo "started job pid $(cat "$JOB/pid"): $*; log $JOB/log"
    ;;
  wait)
    limit=${1:?wait needs SECONDS}
    if [ ! -f "$JOB/pid" ]; then
      # a machine released between calls comes back bare: waiting out SECONDS would only spend
      # device time on a job that no longer exists
      echo "no job on this machine ($JOB/pid missing): it was lost with the machine that ran" \
        "it (the calls must follow each other within the ~30 s idle release); start it again" >&2
      exit 4
    fi
    t0=$(date +%s)
    seen=0
    while :; do
      if [ -f "$JOB/log" ]; then
        n=$(wc -l < "$JOB/log")
        if [ "$n" -gt "$seen" ]; then sed -n "$((seen + 1)),${n}p" "$JOB/log"; seen=$n; fi
      fi
      [ -f "$JOB/rc" ] && break
      [ $(( $(date +%s) - t0 )) -ge "$limit" ] && break
      sleep 5
    done
    if [ -n "${OUT:-}" ] && [ -d "$JOB/out" ]; then cp -r "$JOB/out/." "$OUT/"; fi
    if [ -f "$JOB/rc" ]; then echo "job finished: rc $(cat "$JOB/rc")"; exit "$(cat "$JOB/rc")"; fi
    echo "job still running after ${limit} s (elapsed since start of this wait)"
    ;;
  *) echo "unknown mode '$mode': use start or wait" >&2; exit 2 ;;
esac
