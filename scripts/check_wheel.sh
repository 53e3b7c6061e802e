#!/usr/bin/env bash
# Build the wheel, install it into a scratch venv and check that npe2 finds and validates the
# manifest from there (napari.yaml sits at the repository root and must still ship in the wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

.venv/bin/python -m build --wheel --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
.venv/bin/python -m venv --without-pip "$tmp/venv"
# The scratch venv borrows the dependencies from .venv, but not its editable finder:
# paths listed in a .pth are added as they are, their own .pth files are not run.
dev_site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
scratch_site=$("$tmp/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$dev_site" > "$scratch_site/zz_dev_deps.pth"
.venv/bin/pip --python "$tmp/venv/bin/python" install -q --no-deps --no-index "$tmp"/dist/*.whl

cd "$tmp"
"$tmp/venv/bin/python" - "$root" <<'PY'
import sys
from pathlib import Path

import alges_napari
import npe2

root = Path(sys.argv[1])
pkg = Path(alges_napari.__file__).parent
assert root not in pkg.parents, f"imported the checkout, not the wheel: {pkg}"
shipped = pkg / "napari.yaml"
assert shipped.is_file() and not shipped.is_symlink(), f"no real manifest in the wheel: {shipped}"
assert shipped.read_text() == (root / "napari.yaml").read_text(), "wheel manifest differs from napari.yaml"
pm = npe2.PluginManager.instance()
pm.discover()
manifest = pm.get_manifest("alges-napari")
npe2.PluginManifest.from_file(shipped)  # validates
print(f"wheel OK: manifest '{manifest.display_name}' found by npe2 from {pkg}")
PY
