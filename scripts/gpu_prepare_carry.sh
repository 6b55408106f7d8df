#!/usr/bin/env bash
# Everything a one-call GPU round carries (scripts/gpu_pipeline.sh with INIT_PACK), made here on
# the CPU machine from the project's own files, in one command:
#
#   bash scripts/gpu_prepare_carry.sh [SEED] [PLAN_EPISODES] [INIT_CKPT]
#     (defaults: 11, 16000, checkpoints/pick_place_v7; v7 trained on seed 10, v6 on 6 and 7, v5 on 4 and 5,
#     v4 on seed 3, v3 on seed 0: a new run takes a seed none of them saw)
#
#   .whl/ -> .whlxz/site.tar.xz  mujoco, PyAV, gymnasium, PyOpenGL, glfw for cp312 (the device's
#                                Python), their contents xz'd (scripts/pack_wheels.sh)
#   .gl/                         GL loader .debs (MuJoCo's EGL rendering there)
#   .pbdata/                     pybullet_data's Panda URDF + collision meshes (the MuJoCo model
#                                is built from them; pybullet itself stays here)
#   .cache/text_cache.safetensors   MiniLM states of the generation plan (seed SEED, int8) and of
#                                   the validation set's (seed SEED + 1000)
#   .cache/eval_text.safetensors    ... of the evaluation seeds 0 and 1000 (int8)
#   .init/                       INIT_CKPT as int8 (scripts/gpu_init.py pack)
#
# The tracked shipped weights (25 MB) travel with every call and do not fit beside these: move
# them out of the tree for the call and back after it (the script prints the two commands).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
SEED=${1:-11}
PLAN=${2:-16000}
INIT=${3:-checkpoints/pick_place_v7}
PY=${PY:-.venv/bin/python}
export MUJOCO_GL=${MUJOCO_GL:-egl}
[ -x "$PY" ] || { echo "no $PY: run 'make setup' first" >&2; exit 2; }

# the versions this venv runs, so both machines simulate and encode alike
pins=$($PY -c "import importlib.metadata as m; print(' '.join(f'{p}=={m.version(p)}' for p in
  ('mujoco', 'av', 'gymnasium', 'farama-notifications', 'glfw', 'pyopengl')))")
# shellcheck disable=SC2086
bash ../shared/hooks/device-carry.sh $pins >/dev/null 2>&1
sel=$(mktemp -d)
trap 'rm -rf "$sel"' EXIT
for pin in $pins; do  # only these versions (.whl may hold other wheels, e.g. gpu_metaworld.sh's)
  name=$(echo "${pin%%==*}" | tr 'A-Z-' 'a-z_')
  cp .whl/"$name-${pin##*==}"-*.whl "$sel"/
done
bash scripts/pack_wheels.sh "$sel" .whlxz

pb=$($PY -c "import pybullet_data; print(pybullet_data.getDataPath())")
rm -rf .pbdata && mkdir -p .pbdata/pybullet_data/franka_panda/meshes
cp "$pb/franka_panda/panda.urdf" .pbdata/pybullet_data/franka_panda/
cp -r "$pb/franka_panda/meshes/collision" .pbdata/pybullet_data/franka_panda/meshes/
printf 'import os\n\n\ndef getDataPath():\n    return os.path.dirname(__file__)\n' \
  > .pbdata/pybullet_data/__init__.py

mkdir -p .cache
# the plan's and the validation set's instructions (gpu_pipeline.sh VAL_EPISODES, seed SEED + 1000)
$PY -m vla.cli.main text-cache --plan-episodes "$PLAN" --plan-seed "$SEED" \
  --plan-seed "$((SEED + 1000))" --int8 \
  --out .cache/text_cache.safetensors 2>&1 | grep -v "Loading weights"
$PY -m vla.cli.main text-cache --eval-episodes 50 --eval-seed 0 --eval-seed 1000 --int8 \
  --out .cache/eval_text.safetensors 2>&1 | grep -v "Loading weights"
$PY scripts/gpu_init.py pack "$INIT" .init

for d in .whlxz .init; do grep -qx "/$d/" .git/info/exclude || echo "/$d/" >> .git/info/exclude; done
total=$(du -cb .whlxz .gl .pbdata .cache .init | tail -1 | cut -f1)
tree=$(git ls-files -z | grep -zv "^$INIT/model.safetensors$" | du -cb --files0-from=- | tail -1 | cut -f1)
echo "carry [.whlxz .gl .pbdata .cache .init]: $((total / 1000000)) MB + tree without the shipped" \
  "weights $((tree / 1000000)) MB (limit 67 MB); pass WHEELS=.whlxz INIT_PACK=.init to the pipeline"
echo "before the call: mv $INIT/model.safetensors /tmp/  after it: mv /tmp/model.safetensors $INIT/"
