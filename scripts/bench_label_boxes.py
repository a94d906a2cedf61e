"""Peak memory and wall time of Augment & Classify learning from boxes around far-apart groups of labels.

On the 2000 × 2000 × 230 scene of ``bench_classify_stream.py --tile-up`` (its 2 × 2 flipped copies of the
1000 × 1000 scene), labels in two far groups are written: the labels of ``labels.gpkg`` in the left half of the
top-left copy, and those of its right half moved to the same pixels of the bottom-right copy (flipped both ways:
``scene[1999 - r, 1999 - c]`` holds the spectrum of ``scene[r, c]``). Their one bounding box is most of the scene, so with
the memory figure set to ``--memory-gb`` (in-process, as a smaller machine would report it) the run learns from a box
around each group of labels. The same labels are then learnt from the whole scene (``--training-area scene``). Each
run is a fresh process under ``/usr/bin/time -v``; the two maps are compared pixel by pixel.

    .venv/bin/python scripts/bench_label_boxes.py --scene /tmp/hypersynth_large_scene/2000/scene.tif \\
        --labels /tmp/hypersynth_large_scene/1000x1000x230/labels.gpkg \\
        --prompts /tmp/hypersynth_large_scene/1000x1000x230/classes.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classify_stream import peak_and_wall  # noqa: E402  (the /usr/bin/time reading both benchmarks share)

REPO = Path(__file__).resolve().parents[1]
RUN = """
import sys
from hypersynth.core import memory
if sys.argv[1] != 'scene':
    memory.available_memory = lambda: int(float(sys.argv[1]) * 1e9)
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


def timed(memory_gb: str, arguments: list[str]) -> tuple[float, float, str]:
    """``(peak GB, wall s, the run's warnings)`` of one run in a fresh process."""
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", RUN, memory_gb, *arguments],
                          capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"the run failed:\n{done.stderr[-2000:]}")
    warned = "\n".join(line for line in done.stderr.splitlines() if line.startswith("WARNING"))
    return (*peak_and_wall(done.stderr), warned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, required=True, help="the 2000 × 2000 tiled-up scene (GeoTIFF)")
    parser.add_argument("--labels", type=Path, required=True, help="the 1000 × 1000 scene's labels (labels.gpkg)")
    parser.add_argument("--prompts", type=Path, required=True, help="their class file")
    parser.add_argument("--memory-gb", default="3.0", help="the memory figure the boxes' run is given (default 3.0)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_label_boxes"), help="where the runs write")
    args = parser.parse_args()
    import rasterio

    labels = two_groups(args.scene, args.labels, args.prompts)
    maps = {}
    print("| learnt from | peak GB | wall s |\n|---|---|---|")
    for mode, memory_gb in (("boxes around the label groups", args.memory_gb), ("the whole scene", "scene")):
        out = args.out / ("boxes" if memory_gb != "scene" else "scene")
        peak, seconds, said = timed(memory_gb, [str(args.scene), str(labels), str(args.prompts), str(out)])
        print(f"| {mode} | {peak:.2f} | {seconds:.0f} |", flush=True)
        if said:
            print(said)
        with rasterio.open(out / "classification.tif") as ds:
            maps[mode] = ds.read(1)
    first, second = maps.values()
    print(f"the two maps give the same class to {100 * float(np.mean(first == second)):.1f} % of the pixels")


if __name__ == "__main__":
    main()
