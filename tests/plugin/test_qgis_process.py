"""The plugin works from the command line: qgis_process discovers it, enables it, classifies and benchmarks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr

REPO = Path(__file__).resolve().parents[2]
# Debian's `qgis_process` wrapper adds options that 3.22's binary rejects, so call the binary itself.
QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"

pytestmark = pytest.mark.skipif(not os.access(QGIS_PROCESS, os.X_OK),
                                reason=f"qgis_process.bin is not installed (looked for {QGIS_PROCESS})")


@pytest.fixture
def qgis_process_env(tmp_path) -> dict:
    """A private QGIS profile whose Python plugins folder links to this checkout as `hypersynth`."""
    config = tmp_path / "qgis-config"
    plugins = config / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "hypersynth").symlink_to(REPO, target_is_directory=True)
    env = dict(os.environ)
    env.update(QGIS_CUSTOM_CONFIG_PATH=str(config), QT_QPA_PLATFORM="offscreen")
    # qgis_process embeds Debian's python3: give it the venv's packages (torch, sklearn, …).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (sysconfig.get_paths()["purelib"], env.get("PYTHONPATH")) if p)
    return env


def _qgis_process(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=600)


def test_qgis_process_runs_classifybaseline(qgis_process_env, tmp_path):
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.write import write_label_raster, write_scene

    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=1)
    scene = write_scene(data.scene, tmp_path / "scene.tif")
    labels = write_label_raster(tmp_path / "labels.tif", sparse_labels(data.labels, 4, seed=1), data.classes,
                                transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)

    enabled = _qgis_process(qgis_process_env, "plugins", "enable", "hypersynth")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    listed = _qgis_process(qgis_process_env, "list")
    assert "hypersynth:classifybaseline" in listed.stdout, listed.stdout[-2000:] + listed.stderr[-2000:]

    out = tmp_path / "out"
    run = _qgis_process(qgis_process_env, "--json", "run", "hypersynth:classifybaseline", "--",
                        f"SCENE={scene}", f"LABELS={labels}", "METHOD=0", f"OUTPUT={out / 'map.tif'}",
                        f"REPORT={out / 'report.html'}")  # no CONFIDENCE: it is optional, and then not kept
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(run.stdout)["results"]
    assert results["OUTPUT"] == str(out / "map.tif")
    ds = gdal.Open(results["OUTPUT"])
    values = ds.GetRasterBand(1).ReadAsArray()
    assert set(np.unique(values).tolist()) <= {1, 2, 3} and ds.GetRasterBand(1).GetColorTable() is not None
    assert Path(results["REPORT"]).is_file() and not results.get("CONFIDENCE")
    assert sorted(p.name for p in out.iterdir() if "conf" in p.name or p.name.startswith(".")) == []

    # A report named for another format is refused before the run, as the parameters are checked.
    refused = _qgis_process(qgis_process_env, "run", "hypersynth:classifybaseline", "--", f"SCENE={scene}",
                            f"LABELS={labels}", f"OUTPUT={out / 'again.tif'}", f"REPORT={out / 'report.txt'}")
    assert refused.returncode != 0 and "is named as a .txt file, but it is written as HTML: name it report.html" in (
        refused.stdout + refused.stderr)
    assert not (out / "again.tif").exists()

    # The few-label benchmark on the scene's full reference, as a batch job would run it.
    truth = write_label_raster(tmp_path / "truth.tif", data.labels, data.classes, transform=data.scene.transform,
                               crs_wkt=data.scene.crs_wkt)
    bench = _qgis_process(qgis_process_env, "--json", "run", "hypersynth:benchmark", "--", f"SCENE={scene}",
                          f"REFERENCE={truth}", "LABELS_PER_CLASS=2", "SEEDS=0-1", "METHODS=0,1", "SPLITS=0",
                          f"OUTPUT={out / 'bench.md'}", f"JSON={out / 'bench.json'}")
    assert bench.returncode == 0, bench.stdout[-3000:] + bench.stderr[-3000:]
    runs = json.loads(Path(json.loads(bench.stdout)["results"]["JSON"]).read_text())["runs"]
    assert sorted((r["method"], r["seed"]) for r in runs) == [("rf", 0), ("rf", 1), ("svm", 0), ("svm", 1)]
    assert "### scene, random split" in (out / "bench.md").read_text()

    # A benchmark row's label draw by hand: seed 1, N = 2, as points with their class file beside them.
    draw = _qgis_process(qgis_process_env, "--json", "run", "hypersynth:drawlabels", "--", f"SCENE={scene}",
                         f"REFERENCE={truth}", "LABELS_PER_CLASS=2", "SEED=1", f"OUTPUT={out / 'draw.gpkg'}")
    assert draw.returncode == 0, draw.stdout[-3000:] + draw.stderr[-3000:]
    drawn = json.loads(draw.stdout)["results"]
    assert drawn["OUTPUT"] == str(out / "draw.gpkg") and drawn["CLASS_FILE"] == str(out / "draw_classes.json")
    points = ogr.Open(drawn["OUTPUT"])
    assert sorted(f.GetField("class_id") for f in points.GetLayer(0)) == [1, 1, 2, 2, 3, 3]
