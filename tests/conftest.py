"""Shared test set-up: headless Qt, a temporary folder per test process, the benchmark data folder."""

import base64
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
# CI and developers keep the benchmark cubes in ../shared/data beside the checkout.
_shared = REPO.parent / "shared" / "data"
if "HYPERSYNTH_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["HYPERSYNTH_DATA_DIR"] = str(_shared)


def _qgis_source_cache_folder(temp_root: str) -> Optional[str]:
    """The folder ("<app name>-XXXXXX" in ``temp_root``) that QGIS's source cache made with the QGIS app, which
    pytest-qgis starts before this file is loaded, and which QGIS never removes; None without a QGIS app."""
    core = sys.modules.get("qgis.core")  # engine-only runs never load Qt: nor does this
    if core is None or core.QgsApplication.instance() is None:
        return None
    # QgsSourceCache names no folder, but writes a base64 source it decodes into it
    path = core.QgsApplication.sourceCache().localFilePath("base64:" + base64.b64encode(b"hypersynth").decode())
    folder = os.path.dirname(path) if path else ""
    prefix = core.QgsApplication.applicationName() + "-"
    return folder if os.path.basename(folder).startswith(prefix) and os.path.dirname(folder) == temp_root else None


# QGIS makes "<app name>-XXXXXX" folders (QTemporaryDir) in $TMPDIR and leaves some at exit, one per test process:
# everything after this line (QGIS here and in subprocesses, Python's tempfile) writes into a folder of this process,
# removed at its end. pytest's own tmp_path stays in the system's temp folder, kept for a look after a failure.
_SYSTEM_TMPDIR = os.environ.get("TMPDIR")
TEMP_ROOT = os.path.realpath(tempfile.gettempdir())
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", TEMP_ROOT)
TEST_TMPDIR = tempfile.mkdtemp(prefix="hypersynth-tests-")
os.environ["TMPDIR"] = TEST_TMPDIR
tempfile.tempdir = TEST_TMPDIR
_EARLY_QGIS_FOLDER = _qgis_source_cache_folder(TEMP_ROOT)


@pytest.fixture(autouse=True, scope="session")
def _qgis_exits_in_its_first_temp_folder(qgis_app) -> Iterator[None]:
    """Give QGIS back the $TMPDIR it started with before pytest-qgis ends it (this fixture ends first, needing
    ``qgis_app``): at exit QGIS removes what it made there at its start (``oauth2-cache``) by the current path."""
    yield
    if _SYSTEM_TMPDIR is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = _SYSTEM_TMPDIR


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this process's temporary folder and the one QGIS made before it existed (QGIS has exited by now)."""
    shutil.rmtree(TEST_TMPDIR, ignore_errors=True)
    if _EARLY_QGIS_FOLDER is not None:
        shutil.rmtree(_EARLY_QGIS_FOLDER, ignore_errors=True)
