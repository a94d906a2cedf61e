#!/usr/bin/env bash
# Idempotent set-up: Debian's QGIS/GDAL stack, a venv with system site packages, pinned Python deps,
# and the `hypersynth` import name pointing at this checkout (whatever the folder is called).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

# 1. System packages (QGIS 3.22, GDAL-backed rasterio, scipy/h5py/matplotlib built on numpy 1.x, Xvfb).
debs=(python3-qgis qgis qgis-providers python3-rasterio python3-pyproj python3-scipy python3-h5py python3-matplotlib
      python3-venv python3-pip xvfb xauth)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The venv, made from Debian's python3 so that QGIS, PyQt5 and GDAL are importable.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import qgis.core" >/dev/null 2>&1; then
  echo "setup: creating .venv (system site packages)"
  rm -rf .venv
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

# 3. Pinned deps. --isolated and an empty PIP_FIND_LINKS keep pip away from locally placed
#    '+cpu' torch wheels, which cannot serve torchvision/open_clip.
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch's CUDA build and its libraries: 5 GB installed, about 8 GB at the install's peak (measured: the venv
  # plus the unpacked wheels in the temporary folder). pip's own "No space left on device" names neither.
  need_gb=9
  pinned=$(sed -n 's/^torch==\([^ #]*\).*/\1/p' requirements.txt)
  installed=$(ls -d .venv/lib/python3*/site-packages/torch-"$pinned".dist-info 2>/dev/null || true)
  [ -n "$pinned" ] && [ -n "$installed" ] && need_gb=1  # the pinned torch in place: the other packages' changes
  for where in "$here" "${TMPDIR:-/tmp}"; do
    if [ ! -d "$where" ]; then
      echo "setup: the temporary folder $where (TMPDIR) does not exist; create it, or unset TMPDIR" >&2
      exit 1
    fi
    free_gb=$(( $(df -Pk "$where" | awk 'NR==2 {print $4}') / 1048576 ))
    if [ "$free_gb" -lt "$need_gb" ]; then
      echo "setup: the disk holding $where has $free_gb GB free; installing the Python dependencies" \
           "needs about $need_gb GB free there while it runs (torch with its CUDA libraries: 5 GB in .venv)." \
           "Free some space (or set TMPDIR to a folder on a larger disk) and run it again." >&2
      exit 1
    fi
  done
  echo "setup: installing Python dependencies (about a minute)"
  PIP_FIND_LINKS= .venv/bin/pip --isolated install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# 4. The import name: .venv/importroot/hypersynth -> this checkout, put on sys.path by a .pth file.
site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
mkdir -p .venv/importroot
ln -sfn "$here" .venv/importroot/hypersynth
echo "$here/.venv/importroot" > "$site/hypersynth-checkout.pth"
.venv/bin/python -c "import hypersynth.core" || { echo "setup: 'import hypersynth.core' failed" >&2; exit 1; }
echo "setup: ready (.venv/bin/python, bin/hypersynth)"
