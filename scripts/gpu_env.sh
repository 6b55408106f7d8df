# Sourced by the scripts/gpu_*.sh pipelines: makes a bare lent GPU machine (Python 3.12 + torch,
# no network) ready to simulate, render and train from what the call carried. Expects $OUT.
#   .gl/    GL loader .debs, unpacked into / (MuJoCo's EGL rendering)
#   .whl/   wheels the machine lacks, installed once per wheel set into /tmp/site ($WHEELS names
#           another folder: a subset carried where the whole set would pass the 64 MiB limit)
#   .pbdata/ pybullet_data's Panda URDF + collision meshes (pybullet itself, 100 MB, stays home;
#            the MuJoCo model builder reads only these files)
# Sets MUJOCO_GL, the NVIDIA EGL vendor file, PYTHONPATH and VLA (the CLI); logs the GPU.
if [ -d .gl ]; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
export MUJOCO_GL=egl PYTHONUNBUFFERED=1
if [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
WHEELS=${WHEELS:-.whl}
if [ -d "$WHEELS" ]; then
  # a warm machine keeps /tmp/site between calls: reinstall only when the wheel set changed
  stamp="/tmp/site/.done-$(ls "$WHEELS" | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site \
      "$WHEELS"/*.whl
    touch "$stamp"
  fi
fi
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ -d .pbdata ]; then export PYTHONPATH=$PYTHONPATH:$PWD/.pbdata; fi
VLA="python3 -m vla.cli.main"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt" || true
