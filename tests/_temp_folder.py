"""A temporary folder of this test process for everything it and QGIS write to $TMPDIR, removed at its end.

Loaded with ``-p tests._temp_folder`` (pytest.ini; run pytest as ``python -m pytest`` from the repository root,
as the Makefile does, so that ``tests`` imports), so before pytest-qgis starts QGIS: QGIS makes "<app name>-XXXXXX"
folders (QTemporaryDir, its source cache's among them) in $TMPDIR and leaves some at exit, one per test process.
QGIS here and in subprocesses (qgis_process) and Python's tempfile write into this folder; pytest's own tmp_path
stays in the system's temporary folder, kept for a look after a failure.
"""

import os
import shutil
import tempfile

import pytest

os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", os.path.realpath(tempfile.gettempdir()))
TEST_TMPDIR = tempfile.mkdtemp(prefix="hypersynth-tests-")
os.environ["TMPDIR"] = TEST_TMPDIR
tempfile.tempdir = TEST_TMPDIR


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this process's temporary folder (QGIS has exited by now)."""
    shutil.rmtree(TEST_TMPDIR, ignore_errors=True)
