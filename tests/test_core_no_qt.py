"""The engine stays free of Qt and QGIS: importing every module of hypersynth.core loads none of them."""

import json
import subprocess
import sys

SCRIPT = r"""
import json, pkgutil, sys
import hypersynth.core as core
failed = {}
for info in pkgutil.walk_packages(core.__path__, "hypersynth.core."):
    try:
        __import__(info.name)
    except Exception as exc:  # report import failures too: a module that cannot load is not checked
        failed[info.name] = f"{type(exc).__name__}: {exc}"
gui = sorted(m for m in sys.modules if m.split(".")[0].startswith(("qgis", "PyQt", "sip", "PySide"))
             or m == "sip")
modules = sorted(m for m in sys.modules if m.startswith("hypersynth.core"))
print(json.dumps({"gui": gui, "failed": failed, "modules": modules}))
"""


def test_importing_the_engine_loads_no_qt_or_qgis_module():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "hypersynth.core.progress" in result["modules"]
    assert result["failed"] == {}, f"engine modules that do not import: {result['failed']}"
    assert result["gui"] == [], f"Qt/QGIS modules loaded by hypersynth.core: {result['gui']}"
