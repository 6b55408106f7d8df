# Sourced by the scripts/gpu_*.sh pipelines: makes a bare lent GPU machine (Python 3.12 + torch,
# no network) ready to simulate, render and train from what the call carried. Expects $OUT.
#   .gl/    GL loader .debs, unpacked into / (MuJoCo's EGL rendering)
#   .whl/   wheels the machine lacks, installed once per wheel set into /tmp/site ($WHEELS names
#           another folder: a subset carried where the whole set would pass the 64 MiB limit, or
#           one holding site.tar.xz from scripts/pack_wheels.sh, unpacked into /tmp/site)
#   .pbdata/ pybullet_data's Panda URDF + collision meshes (pybullet itself, 100 MB, stays home;
#            the MuJoCo model builder reads only these files)
# Sets MUJOCO_GL, the NVIDIA EGL vendor file, PYTHONPATH, VLA (the CLI), TRAIN + DDP_ARGS (one
# GPU or NPROC under torchrun); logs the GPUs.
if [ -d .gl ]; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
export MUJOCO_GL=egl PYTHONUNBUFFERED=1
if [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
WHEELS=${WHEELS:-.whl}
if [ -f "$WHEELS/site.tar.xz" ]; then  # scripts/pack_wheels.sh: the wheels' contents, xz'd
  stamp="/tmp/site/.done-$(sha1sum "$WHEELS/wheels.txt" | cut -c1-12)"
  if [ ! -f "$stamp" ]; then rm -rf /tmp/site; tar -C /tmp -xJf "$WHEELS/site.tar.xz"; touch "$stamp"; fi
elif [ -d "$WHEELS" ]; then
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
# NPROC > 1: `$TRAIN` runs `vla train` under torchrun (DDP over NPROC GPUs, NCCL, NVLink multicast
# kept off); $DDP_ARGS splits the presets' global batch (GLOBAL_BATCH, 256) and the decoders
# over the ranks, so the run optimises exactly as on one GPU, ~1.6x faster on 2 x H200
# (benchmarks/RESULTS.md, "Data-parallel training").
NPROC=${NPROC:-1}
DDP_ARGS=""
if [ "$NPROC" -gt 1 ]; then
  export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
  TRAIN="python3 -m torch.distributed.run --standalone --nproc_per_node $NPROC -m vla.cli.main train"
  DDP_ARGS="--batch_size=$(( ${GLOBAL_BATCH:-256} / NPROC )) --decode_workers=$(( 28 / NPROC ))"
else
  TRAIN="$VLA train"
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt" || true
