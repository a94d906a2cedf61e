"""Prepare a QGIS profile with HyperSynth enabled and a demo project, for `make qgis` and the desktop test."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_profile(root: Path) -> Path:
    """A QGIS profiles folder whose default profile has HyperSynth linked and enabled."""
    profile = root / "profiles" / "default"
    plugins = profile / "python" / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "hypersynth"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(REPO)
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text("[PythonPlugins]\nhypersynth=true\n\n[qgis]\nshowTips=false\ncheckVersion=false\n"
                   "[core]\nNewsFeed\\httpsfeedqgisorg\\disabled=true\n")
    return root


def make_demo_project(out: Path) -> Path:
    """Write the demo scene and a QGIS project showing it with its label points (needs qgis.core)."""
    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer

    from hypersynth.core.demo import write_demo

    files = write_demo(out / "scene", overwrite=True)
    app = QgsApplication.instance() or QgsApplication([], False)
    if QgsApplication.instance() is app and not getattr(app, "_hs_init", False):
        QgsApplication.initQgis()
        app._hs_init = True
    project = QgsProject.instance()
    project.clear()
    scene = QgsRasterLayer(str(files.scene), "demo scene")
    labels = QgsVectorLayer(str(files.labels_gpkg), "demo labels", "ogr")
    for layer in (scene, labels):
        if not layer.isValid():
            raise RuntimeError(f"could not load {layer.source()}")
        project.addMapLayer(layer)
    path = out / "demo.qgz"
    project.write(str(path))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "out" / "qgis"))
    parser.add_argument("--no-launch", action="store_true", help="prepare only")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    profile = make_profile(out / "qgis-profile")
    project = make_demo_project(out)
    print(f"profile: {profile}\nproject: {project}")
    if args.no_launch:
        return 0
    env = dict(os.environ)
    # QGIS runs Debian's python3: give it the venv's packages (torch, open_clip, …) too.
    site = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO / ".venv" / "importroot"), env.get("PYTHONPATH", "")])
    cmd = ["qgis", "--profiles-path", str(profile), "--noversioncheck", "--nologo", "--project", str(project)]
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
