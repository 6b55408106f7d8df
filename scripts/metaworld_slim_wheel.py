"""Write a trimmed copy of the metaworld wheel for the GPU machine's carry (64 MiB in all).

metaworld-3.1.1-py3-none-any.whl is 35 MiB, 39 MB of it assets (textures, meshes, XML) of
which the 50 MT50 models load about a third. This keeps every Python file, every XML reachable
through <include> from the 50 models' XML files, and every asset file such an XML names, then
proves the result by compiling all 50 models from the trimmed tree with MuJoCo (a missing file
fails the script). Unreferenced files only are dropped, so the models, and the images rendered
from them, are the same as with the full wheel.

    .venv/bin/python scripts/metaworld_slim_wheel.py --out .whl
    # -> .whl/metaworld-3.1.1-0slim-py3-none-any.whl (build tag 0slim: a trimmed copy)

Needs mujoco here (the .venv); downloads the official wheel with pip unless --wheel is given.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

VERSION = "3.1.1"
BUILD_TAG = "0slim"
ASSET_DIR = "metaworld/assets/"


def mt50_model_files(root: Path) -> list[Path]:
    """The XML file of each MT50 environment, inside the extracted wheel at ``root``: read
    from the installed metaworld (model_name is a property of each env class) and mapped to
    the same relative path."""
    import metaworld
    from metaworld.env_dict import MT50_V3

    installed = Path(metaworld.__file__).parent
    out = []
    for cls in MT50_V3.values():
        path = Path(cls.model_name.fget(None))  # full_V3_path_for(...), no instance needed
        out.append(root / "metaworld" / path.relative_to(installed))
    return out


def reachable(models: list[Path]) -> tuple[set[Path], set[str]]:
    """(XML files reachable through <include>, basenames of every file="..." they name)."""
    seen: set[Path] = set()
    names: set[str] = set()
    todo = list(models)
    while todo:
        xml = todo.pop().resolve()
        if xml in seen:
            continue
        seen.add(xml)
        for el in ET.parse(xml).iter():
            ref = el.get("file")
            if not ref:
                continue
            names.add(Path(ref).name)
            if el.tag == "include":
                todo.append(xml.parent / ref)
    return seen, names


def record_line(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the trimmed wheel")
    ap.add_argument("--wheel", type=Path, help="the official wheel (default: pip download)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mw_slim_"))
    wheel = args.wheel
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        f"metaworld=={VERSION}", "-d", str(tmp)], check=True)  # fmt: skip
        wheel = next(tmp.glob("metaworld-*.whl"))
    root = tmp / "tree"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(root)
        members = [n for n in zf.namelist() if not n.endswith("/")]
    xmls, names = reachable(mt50_model_files(root))
    dist_info = f"metaworld-{VERSION}.dist-info/"
    keep = []
    for name in members:
        path = (root / name).resolve()
        if name.startswith(ASSET_DIR) and path not in xmls and path.name not in names:
            continue
        if name != dist_info + "RECORD":
            keep.append(name)

    # proof: every MT50 model compiles from the trimmed tree alone
    slim = tmp / "slim"
    for name in keep:
        (slim / name).parent.mkdir(parents=True, exist_ok=True)
        (slim / name).write_bytes((root / name).read_bytes())
    import mujoco

    for xml in mt50_model_files(slim):
        mujoco.MjModel.from_xml_path(str(xml))

    # the wheel: WHEEL gains the build tag, RECORD is rewritten for the kept files
    wheel_meta = (root / dist_info / "WHEEL").read_text()
    wheel_meta = re.sub(r"(?m)^Build:.*\n", "", wheel_meta).rstrip("\n") + f"\nBuild: {BUILD_TAG}\n"
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"metaworld-{VERSION}-{BUILD_TAG}-py3-none-any.whl"
    rows = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in keep:
            data = (
                wheel_meta.encode() if name == dist_info + "WHEEL" else (root / name).read_bytes()
            )
            zf.writestr(name, data)
            rows.append(record_line(name, data))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([*rows, [dist_info + "RECORD", "", ""]])
        zf.writestr(dist_info + "RECORD", buf.getvalue())
    dropped = len(members) - 1 - len(keep)
    print(f"{target}: {target.stat().st_size / 2**20:.1f} MiB (official {wheel.stat().st_size / 2**20:.1f} MiB); "
          f"kept {len(keep)} files, dropped {dropped} unreferenced assets; all 50 MT50 models compile")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
