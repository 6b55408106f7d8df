#!/usr/bin/env bash
# The carried wheels as one xz archive of their unzipped contents, for a GPU-machine call that
# must also carry a warm-start checkpoint (scripts/gpu_init.py): wheels are zip-deflated, and
# xz over their contents is a third smaller (.whl 45.3 MB -> 31.0 MB for mujoco, PyAV,
# gymnasium, PyOpenGL, glfw, 2026-12-05). gpu_env.sh unpacks DEST/site.tar.xz into /tmp/site,
# which is what `pip install --target /tmp/site` of the same wheels gives (none has a .data dir).
#   bash scripts/pack_wheels.sh .whl .whlxz      # then carry .whlxz and run with WHEELS=.whlxz
set -euo pipefail
src=${1:?usage: pack_wheels.sh WHEEL_DIR DEST_DIR}
dest=${2:?usage: pack_wheels.sh WHEEL_DIR DEST_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for w in "$src"/*.whl; do
  if unzip -Z1 "$w" | grep -q '^[^/]*\.data/'; then
    echo "$w has a .data folder: unzipping it is not an install; carry the wheels instead" >&2
    exit 2
  fi
  unzip -q -o "$w" -d "$tmp/site"
done
mkdir -p "$dest"
tar -C "$tmp" -cf - site | xz -T0 -6 > "$dest/site.tar.xz"
ls "$src" > "$dest/wheels.txt"
echo "$(du -h "$dest/site.tar.xz" | cut -f1) $dest/site.tar.xz from $(ls "$src"/*.whl | wc -l) wheels"
