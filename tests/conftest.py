"""Shared test set-up: headless Qt and the benchmark data folder (the temporary folder: tests/_temp_folder.py)."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
# CI and developers keep the benchmark cubes in ../shared/data beside the checkout.
_shared = REPO.parent / "shared" / "data"
if "HYPERSYNTH_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["HYPERSYNTH_DATA_DIR"] = str(_shared)

