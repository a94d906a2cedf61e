"""What an analyst meets with a full-size scene: each step's wall time and peak memory, on the main thread or not.

The dock's steps run its real code in a headless QGIS (the interface pytest-qgis gives the tests): importing a
PRISMA L2D product through *Open file…* (a task), choosing the scene (facts, composites) and the label layer, an
edit and the label counts after it, *Class spectra* (a task), a clicked pixel's spectrum, the run check and what
*Augment & Classify* does on the main thread before its task starts, and with ``--full-run`` the dock's run to its
end. Then the engine from the command line (``bin/hypersynth augment-classify --preset tiny`` and ``baseline --method
rf``, then ``classify`` with each one's saved classifier), with the time each stage starts.

The scene is made once in ``--workdir`` (about 1.8 GB): the demo scene (``core.demo.make_demo_scene``) at
250 × 250 pixels, tiled 4 × 4 with flips and fresh sensor noise to ``--side`` × ``--side`` × ``--bands`` float32
(1000 × 1000 × 230 is a PRISMA L2D scene: 0.9 GB), written with ``write_scene`` and as a PRISMA L2D product
(``tests/sensor_products.write_prisma_of``); a GeoPackage label layer made as the dock makes one, with 60 squares of
2 × 2 to 3 × 3 pixels (400 labelled pixels) over the 6 classes, spread over the whole scene; and its class file.

Run from the repository root (Linux: memory is read from /proc):

    .venv/bin/python scripts/bench_large_scene.py                 # dock steps, then the CLI runs (~6 min, 2 cores)
    .venv/bin/python scripts/bench_large_scene.py --no-cli        # the dock's steps only (~1.5 min)
    .venv/bin/python scripts/bench_large_scene.py --full-run --json /tmp/large.json

How each figure is read: *wall* from ``time.perf_counter`` around the step; *peak* is the process's VmHWM after the
step, reset through /proc/self/clear_refs before it, and *+added* that peak less the RSS before the step. Every part
runs in a process of its own (made data, the dock's steps, each CLI run), so one's memory is not another's. For a step
that runs a task, *freeze* is the longest gap between the ticks of a 10 ms timer on the main thread while the task
runs: what QGIS would not redraw or answer for (the main thread's own work in the task's callbacks, or Python's GIL
held by the task's thread). A CLI run's peak is /usr/bin/time's maximum resident set size when that program is there,
else the child's ``ru_maxrss``. The page cache is warm (the files were just written or read); time things twice when
another job shares the CPU.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import resource
import shutil
import tempfile
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
PRISMA_NAME = "PRS_L2D_STD_20200524103704_20200524103708_0001"  # as tests/sensor_products.py names one
DEMO_SIDE = 250  # the demo scene's side before tiling
LABEL_SQUARES_PER_CLASS = 10
FREEZE_TICK_MS = 10


# --------------------------------------------------------------------------- memory and time of one step


def _status(key: str) -> float:
    """A /proc/self/status figure (VmRSS, VmHWM) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


class Steps:
    """Runs steps, noting each one's wall time and peak memory; ``rows`` holds them in order."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def run(self, name: str, step: Callable[[], Any], where: str = "main") -> Any:
        """Run ``step()``; a dict it returns with a ``note`` key adds that note to the row."""
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
        before = _status("VmRSS")
        start = time.perf_counter()
        result = step()
        wall = time.perf_counter() - start
        peak = _status("VmHWM")
        note = result.get("note", "") if isinstance(result, dict) else ""
        self.rows.append(dict(step=name, where=where, wall_s=round(wall, 3), peak_mib=round(peak),
                              added_mib=round(peak - before), note=note))
        print(_row_text(self.rows[-1]), flush=True)
        return result


def _row_text(row: dict[str, Any]) -> str:
    added = "" if row["added_mib"] is None else f"+{row['added_mib']}"
    return f"{row['step']:<52} {row['where']:<5} {row['wall_s']:8.2f} {row['peak_mib']:8.0f} {added:>7}  {row['note']}"


# --------------------------------------------------------------------------- the data


def make_data(folder: Path, side: int, bands: int) -> None:
    """The scene GeoTIFF, its PRISMA L2D product, the label layer and the class file (see the module docstring)."""
    import numpy as np
    from scipy import ndimage

    sys.path.insert(0, str(REPO))  # tests.sensor_products
    from hypersynth.core.demo import make_demo_scene
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_scene
    from hypersynth.core.scene import Scene
    from tests.sensor_products import write_prisma_of

    if side % DEMO_SIDE:
        raise SystemExit(f"--side must be a multiple of {DEMO_SIDE}")
    folder.mkdir(parents=True, exist_ok=True)
    demo = make_demo_scene(size=DEMO_SIDE, bands=bands, n_classes=6, seed=0)
    rng = np.random.default_rng(1)
    cube = np.empty((bands, side, side), dtype=np.float32)  # (B, H, W)
    truth = np.empty((side, side), dtype=np.int32)
    k = side // DEMO_SIDE
    for i in range(k):
        for j in range(k):
            tile, labels = demo.scene.cube, demo.labels
            if (i + j) % 2:  # flipped tiles: not one pattern repeated
                tile, labels = tile[:, ::-1, :], labels[::-1, :]
            if i % 2:
                tile, labels = tile[:, :, ::-1], labels[:, ::-1]
            rows, cols = slice(i * DEMO_SIDE, (i + 1) * DEMO_SIDE), slice(j * DEMO_SIDE, (j + 1) * DEMO_SIDE)
            cube[:, rows, cols], truth[rows, cols] = tile, labels
    for b in range(bands):  # fresh sensor noise in every pixel, band by band
        cube[b] += rng.normal(0.0, 0.004, (side, side)).astype(np.float32)
    s = demo.scene
    scene = Scene(cube=cube, valid=np.ones((side, side), bool), wavelengths=s.wavelengths, fwhm=s.fwhm,
                  good_bands=s.good_bands, transform=s.transform, crs_wkt=s.crs_wkt, name="large demo")
    write_scene(scene, folder / "scene.tif", overwrite=True)
    write_prisma_of(scene, folder / f"{PRISMA_NAME}.he5")
    squares = []  # (class id, row, col, side) in pure interiors
    for class_id in range(1, 7):
        for margin in (7, 5, 3):  # a narrow class (the road) has no 7 × 7 interior
            inner = ndimage.binary_erosion(truth == class_id, structure=np.ones((margin, margin), bool),
                                           border_value=0)
            rows, cols = np.nonzero(inner)
            if rows.size >= LABEL_SQUARES_PER_CLASS:
                break
        for p in rng.choice(rows.size, size=min(LABEL_SQUARES_PER_CLASS, rows.size), replace=False):
            size = 2 if margin == 3 else int(rng.integers(2, 4))
            squares.append((class_id, int(rows[p]) - 1, int(cols[p]) - 1, size))
    del cube, scene
    _qgis()
    from qgis.core import QgsGeometry, QgsRasterLayer

    from hypersynth.core.demo import demo_classes
    from hypersynth.plugin.label_layer import add_label_polygon, create_label_layer, save_labels

    layer_scene = QgsRasterLayer(str(folder / "scene.tif"), "scene")
    classes = demo_classes(6)
    labels_file = folder / "labels.gpkg"
    if labels_file.exists():
        labels_file.unlink()
    layer = create_label_layer(str(labels_file), layer_scene.crs(), classes)
    names = {c.id: c.name for c in classes}
    for class_id, row, col, size in squares:
        layer_points = _square(layer_scene, row, col, size)
        add_label_polygon(layer, QgsGeometry.fromPolygonXY([layer_points]), class_id, names[class_id])
    save_labels(layer)
    write_classes(folder / "classes.json", classes, overwrite=True)
    (folder / "label_squares.json").write_text(json.dumps(squares))
    _leave()


def _square(scene: Any, row: int, col: int, size: int) -> list:
    """The map corners of ``size`` × ``size`` scene pixels from (row, col)."""
    from qgis.core import QgsPointXY

    extent, pixel = scene.extent(), scene.rasterUnitsPerPixelX()
    x0, y0 = extent.xMinimum() + col * pixel, extent.yMaximum() - row * pixel
    return [QgsPointXY(x0, y0), QgsPointXY(x0 + size * pixel, y0), QgsPointXY(x0 + size * pixel, y0 - size * pixel),
            QgsPointXY(x0, y0 - size * pixel)]


# --------------------------------------------------------------------------- headless QGIS and the dock's steps


def _qgis() -> Any:
    """A headless QgsApplication, with the stand-in QGIS interface pytest-qgis gives the tests (in ``_qgis.keep``)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from unittest import mock

    from pytest_qgis.mock_qgis_classes import MockMessageBar  # before QgsApplication: its slots need it so
    from pytest_qgis.qgis_interface import QgisInterface
    from qgis.core import QgsApplication
    from qgis.gui import QgsGui, QgsMapCanvas
    from qgis.PyQt.QtCore import QCoreApplication, QSize, Qt
    from qgis.PyQt.QtWidgets import QMainWindow

    QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts, True)
    app = QgsApplication([], False)
    app.initQgis()
    QgsGui.editorWidgetRegistry().initEditors()
    window = QMainWindow()
    canvas = QgsMapCanvas(window)
    window.resize(QSize(600, 600))
    canvas.resize(QSize(600, 600))
    iface = QgisInterface(canvas, MockMessageBar(), window)
    mock.patch("qgis.utils.iface", iface).start()
    _qgis.keep = (app, window, canvas, iface)  # type: ignore[attr-defined]  # alive until the process ends
    return app


def _leave() -> None:
    """End this part's process once its files are written: the project's layers closed, without QGIS's own
    teardown (a layer Python frees after it crashes the process, as tests/plugin/conftest.py's close_layers says)."""
    import gc

    from qgis.core import QgsProject

    QgsProject.instance().removeAllMapLayers()
    gc.collect()
    sys.stdout.flush()
    os._exit(0)


class Freezes:
    """The longest gap between the ticks of a main-thread timer while the event loop runs (``with`` block)."""

    def __init__(self) -> None:
        from qgis.PyQt.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(FREEZE_TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = self.worst = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst, self.last = max(self.worst, now - self.last), now

    def __enter__(self) -> "Freezes":
        self.last, self.worst = time.perf_counter(), 0.0
        self.timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.timer.stop()


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    from qgis.PyQt.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s")
        QCoreApplication.processEvents()
        time.sleep(0.002)


def dock_steps(folder: Path, full_run: bool, rows_json: Path) -> None:
    """The dock's steps on the data in ``folder``; the rows go to ``rows_json``."""
    _qgis()
    _, window, canvas, iface = _qgis.keep  # type: ignore[attr-defined]
    from qgis.core import QgsPointXY, QgsProject, QgsRasterLayer, QgsVectorLayer

    from hypersynth import classFactory
    from hypersynth.core.demo import demo_classes
    from hypersynth.core.io.convert import import_scene

    steps = Steps()
    plugin = classFactory(iface)
    plugin.initGui()
    dock, project = plugin.dock, QgsProject.instance()
    work = folder / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    product = work / f"{PRISMA_NAME}.he5"
    shutil.copyfile(folder / f"{PRISMA_NAME}.he5", product)

    # 1 the product: the import task's job alone, then Open file… in the dock
    steps.run("1a import_scene(PRISMA .he5) [the task's job]", lambda: import_scene(product, work / "direct.tif"),
              "task")
    (work / "direct.tif").unlink()
    steps.run("1b Open file… (.he5): until its task is queued", lambda: dock.scene_panel.open_file(str(product)))

    def import_task() -> dict:
        with Freezes() as freezes:
            _wait(lambda: not dock.scene_panel.imports.running, 900)
        return {"note": f"freeze {freezes.worst:.2f} s; {dock.scene_panel.note.text()[:60]}"}

    steps.run("1c   the import task to its end, its layer added", import_task, "task")

    # 2 the scene and the labels in the dock
    scene = QgsRasterLayer(str(folder / "scene.tif"), "scene")
    project.addMapLayer(scene)
    steps.run("2a choose the scene (its facts)", lambda: dock.set_scene_layer(scene))
    for key in ("true colour", "false colour", "swir"):
        steps.run(f"2b composite: {key}", lambda k=key: dock.scene_panel.apply_composite(k))
    canvas.setDestinationCrs(scene.crs())
    canvas.setExtent(scene.extent())
    dock.set_classes(demo_classes(6))
    labels = QgsVectorLayer(f"{folder / 'labels.gpkg'}|layername=labels", "labels", "ogr")
    project.addMapLayer(labels)
    steps.run("2c choose the label layer (counts, problems)", lambda: dock.set_label_layer(labels))
    panel = dock.classes_panel
    panel.select_class(1)
    _, row, col, _ = json.loads((folder / "label_squares.json").read_text())[0]
    steps.run("2d an edit: the Polygon tool adds a label", lambda: panel.polygon.add_polygon(_square(scene, row + 1,
                                                                                                    col + 1, 2)))
    steps.run("2e   the counts and label problems after it", lambda: (panel.refresh_counts(), panel.label_problems()))
    started: dict[str, Any] = {}

    def click_spectra() -> dict:
        started["task"] = dock.show_labelled_class_spectra()
        return {"note": "a task" if hasattr(started["task"], "status") else "read on the main thread"}

    steps.run("2f Class spectra: the click", click_spectra)
    if hasattr(started["task"], "status"):
        def spectra_task() -> dict:
            with Freezes() as freezes:
                _wait(lambda: not dock.spectra_tasks.running, 600)
            return {"note": f"freeze {freezes.worst:.2f} s; {len(started['task'].result or {})} classes shown"}

        steps.run("2g   the class spectra task to its end, shown", spectra_task, "task")
    spectral, centre = dock.spectral_dock(), scene.extent().center()
    steps.run("2h spectral profile: a click", lambda: spectral.show_pixel(scene, centre, scene.crs()))
    far = QgsPointXY(centre.x() + scene.extent().width() / 3, centre.y() - scene.extent().height() / 3)
    steps.run("2i spectral profile: another click", lambda: spectral.show_pixel(scene, far, scene.crs()))

    # 3 the run: its check, what it does on the main thread before its task starts, and (asked) the run itself
    steps.run("3a the run check (dock.run_problems)", lambda: {"note": "; ".join(dock.run_problems()) or "none"})
    steps.run("3b Augment & Classify: the request to a queued task",
              lambda: dock.request_run({"preset": "tiny", "output_folder": str(work / "run")}) and None)
    if full_run:
        def run() -> dict:
            with Freezes() as freezes:
                _wait(lambda: not dock.running(), 3600)
            said = html.unescape(re.sub("<[^>]+>", "", dock.status.text()))
            return {"note": f"freeze {freezes.worst:.2f} s; {said[:60]}"}

        steps.run("3c   the dock's run (tiny) to its end, layers added", run, "task")
    elif dock._run_task is not None:
        dock._run_task.cancel()
        _wait(lambda: not dock.running(), 300)
    rows_json.write_text(json.dumps(steps.rows, indent=1))
    plugin.unload()
    _leave()


# --------------------------------------------------------------------------- the command line


def cli_run(name: str, arguments: list[str], out: Path) -> dict[str, Any]:
    """Run ``bin/hypersynth`` with ``arguments``; its wall time, peak memory and the time each stage began."""
    shutil.rmtree(out, ignore_errors=True)
    command = [str(REPO / "bin" / "hypersynth"), *arguments, "--out", str(out)]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if timer:
        command = [timer, "-f", "MAXRSS_KB %M", *command]
    start = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    stages: list[tuple[float, str]] = []
    peak_kb = None
    assert process.stderr is not None
    for line in process.stderr:  # the stage lines (stderr is no terminal: one line per stage)
        found = re.match(r"\[\s*\d+ %\] (.*)", line.strip())
        if found:
            stages.append((time.perf_counter() - start, found.group(1)))
        elif line.startswith("MAXRSS_KB"):
            peak_kb = int(line.split()[1])
    code = process.wait()
    wall = time.perf_counter() - start
    if peak_kb is None:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    merged: list[list[Any]] = []  # consecutive stages of one kind ("VAE 1/2", "VAE 2/2") together
    for at, stage in stages:
        kind = stage.split(" ")[0]
        if not merged or merged[-1][0] != kind:
            merged.append([kind, at])
    times = [(kind, round((merged[i + 1][1] if i + 1 < len(merged) else wall) - at, 1))
             for i, (kind, at) in enumerate(merged)]
    row = dict(step=name, where="CLI", wall_s=round(wall, 1), peak_mib=round(peak_kb / 1024), added_mib=None,
               note=("; ".join(f"{k} {s:.1f}" for k, s in times if s >= 0.5)) + ("" if code == 0 else f"; exit {code}"))
    print(_row_text(row), flush=True)
    return row


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hypersynth_large_scene"),
                        help="where the data is made once and the runs write (default %(default)s)")
    parser.add_argument("--side", type=int, default=1000, help="scene side in pixels (a multiple of 250)")
    parser.add_argument("--bands", type=int, default=230, help="scene bands")
    parser.add_argument("--full-run", action="store_true", help="also run Augment & Classify from the dock to its end")
    parser.add_argument("--no-cli", action="store_true", help="leave out the command-line runs")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--make-data", action="store_true", help=argparse.SUPPRESS)  # the parts' own processes
    parser.add_argument("--dock-steps", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.workdir / f"{args.side}x{args.side}x{args.bands}"
    if args.make_data:
        return make_data(folder, args.side, args.bands)
    if args.dock_steps:
        return dock_steps(folder, args.full_run, args.dock_steps)

    me = [sys.executable, str(Path(__file__).resolve()), "--workdir", str(args.workdir), "--side", str(args.side),
          "--bands", str(args.bands)]
    # The parts' temporary files (QGIS leaves an empty "<app>-XXXXXX" folder in $TMPDIR) go into one folder, removed
    # at the end.
    temp = tempfile.mkdtemp(prefix="hypersynth-bench-")
    os.environ["TMPDIR"] = temp
    try:
        _run_parts(args, folder, me)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _run_parts(args: argparse.Namespace, folder: Path, me: list[str]) -> None:
    """Make the data when missing, then the dock's steps and the command-line runs, each in a process of its own."""
    if not (folder / "classes.json").exists():
        print(f"making the scene, its PRISMA product and the labels in {folder} …", flush=True)
        subprocess.run([*me, "--make-data"], check=True)
    cube_mib = args.side * args.side * args.bands * 4 / 2**20
    print(f"\nscene {args.side} × {args.side} × {args.bands} float32 = {cube_mib:.0f} MiB; {os.cpu_count()} CPUs\n")
    print(f"{'step':<52} {'where':<5} {'wall s':>8} {'peak MiB':>8} {'+added':>7}  note")
    rows_json = folder / "dock_rows.json"
    subprocess.run([*me, "--dock-steps", str(rows_json), *(["--full-run"] if args.full_run else [])], check=True,
                   stdout=sys.stdout, stderr=subprocess.DEVNULL)  # QGIS's own chatter left out
    rows = json.loads(rows_json.read_text())
    if not args.no_cli:
        rows.append(cli_run("4a augment-classify --preset tiny", ["augment-classify", "--preset", "tiny", "--scene",
                                                                   str(folder / "scene.tif"), "--labels",
                                                                   str(folder / "labels.gpkg"), "--prompts",
                                                                   str(folder / "classes.json")],
                            folder / "work" / "cli_tiny"))
        rows.append(cli_run("4b baseline --method rf", ["baseline", "--method", "rf", "--scene",
                                                         str(folder / "scene.tif"), "--labels",
                                                         str(folder / "labels.gpkg")], folder / "work" / "cli_rf"))
        for step, source in (("4c classify with 4a's classifier", "cli_tiny"),
                             ("4d classify with 4b's classifier", "cli_rf")):  # a saved classifier again, no training
            rows.append(cli_run(step, ["classify", "--model", str(folder / "work" / source / "classifier_bundle"),
                                       "--scene", str(folder / "scene.tif")], folder / "work" / f"{source}_classify"))
    if args.json:
        args.json.write_text(json.dumps({"side": args.side, "bands": args.bands, "cube_mib": round(cube_mib),
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
