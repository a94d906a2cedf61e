"""Augment & Classify from the QGIS dock, with QGIS in a memory-limited cgroup (a container's or batch job's limit).

Launched with the venv's Python, it makes a child of this process's memory cgroup limited to ``--memory-gb``, starts
the real QGIS desktop under Xvfb inside it (a fresh profile with the plugin of ``--checkout`` linked), and runs this
same file there (``qgis.bin --code``): the dock opens the scene, takes the label layer and the class file, and runs
Augment & Classify (preset ``tiny``) as the run dialog's OK does. It reports whether QGIS survived, what the dock said,
the task's warnings, the cgroup's peak charge, and saves a screenshot of the window.

    .venv/bin/python scripts/desktop_memory_limit.py --scene /tmp/hypersynth_large_scene/2000/scene.tif \\
        --labels /tmp/hypersynth_large_scene/1000x1000x230/labels.gpkg \\
        --prompts /tmp/hypersynth_large_scene/1000x1000x230/classes.json --memory-gb 4 [--checkout /tmp/c8f5807]

Needs root, a memory cgroup controller, qgis.bin and Xvfb.
"""

from __future__ import annotations

import os
from pathlib import Path

RESULT = "result.json"  # what the QGIS side writes into the output folder, stage by stage


def launch() -> int:
    """The launcher: cgroup, profile, Xvfb, QGIS; prints what happened."""
    import argparse
    import json
    import subprocess
    import sys
    import time

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_label_boxes import cgroup_peak, memory_cgroup  # noqa: E402  (scripts/ is not a package)
    from desktop import log_summary, make_profile, virtual_display  # noqa: E402

    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, required=True)
    parser.add_argument("--labels", type=Path, required=True, help="a label GeoPackage on the scene's grid")
    parser.add_argument("--prompts", type=Path, required=True, help="the class file (JSON)")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="QGIS's cgroup memory limit")
    parser.add_argument("--checkout", type=Path, default=repo, help="whose plugin QGIS loads (default: this one)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/desktop_memory_limit"))
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds before QGIS is killed")
    args = parser.parse_args()
    checkout, out = args.checkout.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULT).unlink(missing_ok=True)

    make_profile(out / "qgis-profile", checkout)
    (checkout / ".importroot").mkdir(exist_ok=True)  # the checkout's own import name, as bin/hypersynth makes it
    if not (checkout / ".importroot" / "hypersynth").is_symlink():
        (checkout / ".importroot" / "hypersynth").symlink_to(checkout)
    site = next((repo / ".venv" / "lib").glob("python3*/site-packages"))
    runtime = out / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(PYTHONPATH=f"{site}{os.pathsep}{checkout / '.importroot'}", XDG_RUNTIME_DIR=str(runtime),
               HS_MEMLIMIT_OUT=str(out), HS_MEMLIMIT_SCENE=str(args.scene.resolve()),
               HS_MEMLIMIT_LABELS=str(args.labels.resolve()), HS_MEMLIMIT_PROMPTS=str(args.prompts.resolve()))

    cgroup = memory_cgroup(args.memory_gb)
    cmd = ["qgis.bin", "--noversioncheck", "--nologo", "--profiles-path", str(out / "qgis-profile"),
           "--code", str(Path(__file__).resolve())]
    started = time.monotonic()
    try:
        with virtual_display(log=out / "xvfb.log") as display, open(out / "qgis.log", "wb") as log:
            env["DISPLAY"] = display
            qgis = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid())))
            try:
                returncode = qgis.wait(args.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(qgis.pid, 9)
                returncode = qgis.wait()
        peak = cgroup_peak(cgroup)
    finally:
        cgroup.rmdir()
    result = json.loads((out / RESULT).read_text()) if (out / RESULT).is_file() else {}
    print(json.dumps({"checkout": str(checkout), "memory_limit_gb": args.memory_gb,
                      "qgis_exit": returncode, "killed": returncode in (-9, 137),
                      "seconds": round(time.monotonic() - started), "cgroup_peak_gb": round(peak / 1e9, 2),
                      **result}, indent=2))
    if returncode in (-9, 137):
        print(log_summary((out / "qgis.log").read_text(errors="replace"))[-1500:])
    return 0


def in_qgis() -> None:
    """The QGIS side: the dock runs Augment & Classify on the scene, and the outcome lands in result.json."""
    import json
    import time
    import traceback

    from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
    from qgis.PyQt.QtCore import QTimer
    from qgis.utils import iface, plugins

    out = Path(os.environ["HS_MEMLIMIT_OUT"])
    state: dict = {"stage": "starting", "finished": False}
    started = time.monotonic()

    def write(**fields: object) -> None:
        state.update(fields, seconds_in_qgis=round(time.monotonic() - started))
        (out / ".result.tmp").write_text(json.dumps(state, indent=2, default=str))
        os.replace(out / ".result.tmp", out / RESULT)

    def quit_qgis() -> None:
        QgsProject.instance().clear()
        QTimer.singleShot(10000, lambda: QgsApplication.exit(0))
        iface.actionExit().trigger()

    def steps():
        write(stage="waiting for the window and the plugin")
        while not (iface.mainWindow().isVisible() and "hypersynth" in plugins):
            if time.monotonic() - started > 120:
                raise RuntimeError(f"no HyperSynth plugin after 120 s; plugins loaded: {sorted(plugins)}")
            yield 500
        plugin = plugins["hypersynth"]
        write(stage="showing the dock", plugin_file=type(plugin).__module__,
              actions=[a.objectName() for a in plugin.actions])
        dock = plugin.dock
        if dock is None:  # the plugin could not load its dock: say why
            import hypersynth.ui.main_dock  # noqa: F401  (raises the reason into result.json)
        dock.show()
        yield 1000
        write(stage="opening the scene")
        scene = dock.scene_panel.open_file(os.environ["HS_MEMLIMIT_SCENE"])
        labels = QgsVectorLayer(os.environ["HS_MEMLIMIT_LABELS"], "labels", "ogr")
        QgsProject.instance().addMapLayer(labels)
        dock.set_label_layer(labels)
        dock.classes_panel.load_classes(os.environ["HS_MEMLIMIT_PROMPTS"])
        from hypersynth.ui.run_dialog import RunDialog

        dialog = RunDialog(dock, dock.run_defaults())
        dialog.preset.setCurrentIndex(dialog.preset.findData("tiny"))
        dialog.output_folder.setFilePath(str(out / "run"))
        values = dialog.values()
        ended: list = []
        plugin.tasks.taskEnded.connect(ended.append)
        write(stage="Augment & Classify running", scene_valid=scene is not None and scene.isValid(),
              problems=dock.run_problems())
        if dock.request_run(values) is None:
            write(stage="refused by the dock", dock_said=dock.status.text())
            return
        task = plugin.tasks.running[0]  # the task manager deletes the C++ task when it ends: Python fields only
        while not ended:
            yield 1000
            write(stage="Augment & Classify running", dock_said=dock.status.text())  # the C++ task may be gone
        yield 2000
        write(stage="ended", finished=True, error=task.error, warnings=task.warnings, dock_said=dock.status.text(),
              outputs=sorted(p.name for p in (out / "run").iterdir()) if (out / "run").is_dir() else [])
        iface.mainWindow().grab().save(str(out / "desktop_memory_limit.png"))

    class Driver:
        """Steps the generator from Qt timers, so QGIS keeps painting and its task manager keeps running."""

        def __init__(self) -> None:
            self.walk = steps()

        def advance(self) -> None:
            try:
                QTimer.singleShot(int(next(self.walk)), self.advance)
            except StopIteration:
                QTimer.singleShot(500, quit_qgis)
            except Exception:  # noqa: BLE001 (the failure must reach result.json and QGIS must exit)
                write(stage="failed", error=traceback.format_exc())
                QTimer.singleShot(500, quit_qgis)

    driver = Driver()
    globals()["_hs_memlimit"] = driver  # QGIS runs this file in __main__: keep it alive
    QTimer.singleShot(0, driver.advance)


if "HS_MEMLIMIT_OUT" in os.environ:  # set only in QGIS's environment, by launch()
    in_qgis()
elif __name__ == "__main__":
    raise SystemExit(launch())
