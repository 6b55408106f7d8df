#!/usr/bin/env bash
# Installs the Debian packages offscreen rendering needs, only if they are missing.
# MuJoCo renders with MUJOCO_GL=egl (Mesa's libEGL + libGL: required); OSMesa (libosmesa6) is
# the optional fallback for MUJOCO_GL=osmesa.
set -uo pipefail
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
need=(); want=()
have_lib 'libEGL.so.1' || need+=(libegl1 libegl-mesa0)
have_lib 'libGL.so.1' || need+=(libgl1)
have_lib 'libgbm.so.1' || need+=(libgbm1)
have_lib 'libOSMesa.so' || want+=(libosmesa6)
[ ${#need[@]} -eq 0 ] && [ ${#want[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    if [ ${#need[@]} -gt 0 ]; then
      echo "error: offscreen GL libraries missing; run: sudo apt-get install -y ${need[*]}" >&2; exit 1
    fi
    echo "note: ${want[*]} not installed (only needed for MUJOCO_GL=osmesa)" >&2; exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing offscreen GL packages: ${need[*]} ${want[*]}"
$SUDO apt-get update -qq >/dev/null 2>&1 || true
if ! $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" "${want[@]}" >/dev/null; then
  if [ ${#need[@]} -gt 0 ]; then
    echo "error: could not install ${need[*]} (needed for MUJOCO_GL=egl)" >&2; exit 1
  fi
  echo "note: could not install ${want[*]} (only needed for MUJOCO_GL=osmesa); continuing" >&2
fi
exit 0
