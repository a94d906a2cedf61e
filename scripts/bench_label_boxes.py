"""Peak memory and wall time of Augment & Classify learning from boxes around far-apart groups of labels.

On the 2000 × 2000 × 230 scene of ``bench_classify_stream.py --tile-up`` (its 2 × 2 flipped copies of the
1000 × 1000 scene), labels in two far groups are written: the labels of ``labels.gpkg`` in the left half of the
top-left copy, and those of its right half moved to the same pixels of the bottom-right copy (flipped both ways:
``scene[1999 - r, 1999 - c]`` holds the spectrum of ``scene[r, c]``). Their one bounding box is most of the scene, so with
the memory figure set to ``--memory-gb`` (in-process, as a smaller machine would report it) the run learns from a box
around each group of labels. The same labels are then learnt from the whole scene (``--training-area scene``). Each
run is a fresh process under ``/usr/bin/time -v``; the two maps are compared pixel by pixel.

With ``--cgroup`` the boxes' run is not told a figure: it runs in a real memory cgroup limited to ``--memory-gb`` (a
container's or batch job's limit; needs root and a memory controller) and finds the limit itself. ``--checkout`` runs
another checkout's code (a git worktree of an earlier commit, whose ``bin/hypersynth`` was run once) the same way;
``--skip-scene`` leaves out the whole-scene run and compares with the map an earlier run left in ``--out``/scene.

    .venv/bin/python scripts/bench_label_boxes.py --scene /tmp/hypersynth_large_scene/2000/scene.tif \\
        --labels /tmp/hypersynth_large_scene/1000x1000x230/labels.gpkg \\
        --prompts /tmp/hypersynth_large_scene/1000x1000x230/classes.json [--cgroup --skip-scene]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classify_stream import peak_and_wall  # noqa: E402  (the /usr/bin/time reading both benchmarks share)

REPO = Path(__file__).resolve().parents[1]
RUN = """
import sys
from hypersynth.core import memory
if sys.argv[1] not in ('scene', 'cgroup'):
    memory.memory_budget = lambda: memory.MemoryBudget(int(float(sys.argv[1]) * 1e9), False)
from hypersynth.core.cli import main
raise SystemExit(main(['augment-classify', '--preset', 'tiny', '--scene', sys.argv[2], '--labels', sys.argv[3],
                       '--prompts', sys.argv[4], '--out', sys.argv[5], '--overwrite', '--quiet',
                       '--training-area', 'scene' if sys.argv[1] == 'scene' else 'auto']))
"""


def two_groups(scene: Path, labels: Path, prompts: Path) -> Path:
    """``labels_two_groups.tif`` beside ``scene``: the labels of the top-left copy's left half, and its right half's
    moved into the bottom-right copy."""
    from hypersynth.core.io.classes import read_classes
    from hypersynth.core.io.labels import read_labels
    from hypersynth.core.io.read import read_scene_layout
    from hypersynth.core.io.write import write_label_raster

    layout = read_scene_layout(scene)
    grid, found = read_labels(labels, layout, classes=read_classes(prompts))  # (H, W) ids
    height, width = grid.shape
    half = width // 4  # the top-left copy's middle column
    out = np.where(np.arange(width)[None, :] < half, grid, 0)
    rows, cols = np.nonzero(np.where(np.arange(width)[None, :] >= half, grid, 0))
    out[height - 1 - rows, width - 1 - cols] = grid[rows, cols]
    target = scene.with_name("labels_two_groups.tif")
    write_label_raster(target, out.astype(np.int32), found, transform=layout.transform, crs_wkt=layout.crs_wkt,
                       overwrite=True)
    return target


def memory_cgroup(limit_gb: float) -> Path:
    """A new child of this process's memory cgroup, limited to ``limit_gb``."""
    from hypersynth.core import memory

    found = memory._memory_cgroup_dirs()
    if found is None:
        raise SystemExit("no memory cgroup controller here: run without --cgroup")
    version, dirs = found
    child = dirs[0] / f"bench-label-boxes-{uuid.uuid4().hex[:8]}"
    child.mkdir()
    (child / ("memory.max" if version == 2 else "memory.limit_in_bytes")).write_text(str(int(limit_gb * 1e9)))
    return child


def timed(memory_gb: str, arguments: list[str], checkout: Path = REPO,
          cgroup: Optional[Path] = None) -> tuple[float, float, str, int]:
    """``(peak GB, wall s, the run's warnings, exit status)`` of one run in a fresh process (in ``cgroup`` if given)."""
    env = dict(os.environ, PYTHONPATH=str(checkout / ".importroot"))  # as bin/hypersynth imports its own checkout
    enter = None if cgroup is None else (lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid())))
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", RUN, memory_gb, *arguments],
                          capture_output=True, text=True, cwd=checkout, env=env, preexec_fn=enter)
    if done.returncode and cgroup is None:
        raise SystemExit(f"the run failed:\n{done.stderr[-2000:]}")
    warned = "\n".join(line for line in done.stderr.splitlines() if line.startswith(("WARNING", "Command terminated")))
    return (*peak_and_wall(done.stderr), warned, done.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, required=True, help="the 2000 × 2000 tiled-up scene (GeoTIFF)")
    parser.add_argument("--labels", type=Path, required=True, help="the 1000 × 1000 scene's labels (labels.gpkg)")
    parser.add_argument("--prompts", type=Path, required=True, help="their class file")
    parser.add_argument("--memory-gb", default="3.0", help="the memory figure the boxes' run is given (default 3.0)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_label_boxes"), help="where the runs write")
    parser.add_argument("--cgroup", action="store_true", help="run the boxes' run in a real cgroup of --memory-gb")
    parser.add_argument("--checkout", type=Path, default=REPO, help="the checkout whose code runs (default: this one)")
    parser.add_argument("--skip-scene", action="store_true", help="no whole-scene run: compare with --out/scene's map")
    args = parser.parse_args()
    import rasterio

    labels = two_groups(args.scene, args.labels, args.prompts)
    runs = [("boxes around the label groups", "cgroup" if args.cgroup else args.memory_gb, "boxes")]
    if not args.skip_scene:
        runs.append(("the whole scene", "scene", "scene"))
    print("| learnt from | peak GB | wall s | exit |\n|---|---|---|---|")
    for mode, memory_gb, folder in runs:
        out = args.out / (f"{folder}_cgroup" if memory_gb == "cgroup" else folder)
        cgroup = memory_cgroup(float(args.memory_gb)) if memory_gb == "cgroup" else None
        try:
            peak, seconds, said, status = timed(memory_gb, [str(args.scene), str(labels), str(args.prompts), str(out)],
                                                args.checkout.resolve(), cgroup)
            if cgroup is not None:
                mode += f" (cgroup of {args.memory_gb} GB: {cgroup_peak(cgroup) / 1e9:.2f} GB at most)"
        finally:
            if cgroup is not None:
                cgroup.rmdir()
        print(f"| {mode} | {peak:.2f} | {seconds:.0f} | {status} |", flush=True)
        if said:
            print(said)
    maps = {}
    for folder in ("boxes_cgroup" if args.cgroup else "boxes", "scene"):
        if (args.out / folder / "classification.tif").is_file():
            with rasterio.open(args.out / folder / "classification.tif") as ds:
                maps[folder] = ds.read(1)
    if len(maps) == 2:
        first, second = maps.values()
        print(f"the two maps give the same class to {100 * float(np.mean(first == second)):.1f} % of the pixels")


def cgroup_peak(cgroup: Path) -> int:
    """The most memory ``cgroup`` was charged (v1: ``memory.max_usage_in_bytes``; v2: ``memory.peak``), page cache
    included."""
    for name in ("memory.max_usage_in_bytes", "memory.peak"):
        if (cgroup / name).is_file():
            return int((cgroup / name).read_text())
    return 0


if __name__ == "__main__":
    main()
