"""Scenes of two sizes and few bands, where the per-pixel output maps, not the tiles, would set a run's memory.

With 200 bands the tile's working arrays dwarf the maps a run keeps of the scene (the class map, confidence and
uncertainty), so those maps hardly show in a peak; with 32 bands and a 4096 × 4096 scene they would take hundreds of
MB. This writes such scenes (``bench_scale.py``'s generated model, strip by strip), a label raster on the smallest
one, on each scene's grid a validation raster (float32, as many are: those labels tiled over it), and a class file,
then prints the commands that train a forest on the smallest scene and apply its bundle to each scene under
``/usr/bin/time`` (``bench_classify_stream.py``), for this checkout and an older one:

    .venv/bin/python scripts/bench_map_outputs.py --out /tmp/hypersynth_map_outputs --sizes 1024 4096 --bands 32
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import CRS, N_CLASSES, ORIGIN, SceneModel, parse_size, write_scene  # noqa: E402

LABELS_PER_CLASS = 40  # labelled pixels per class, drawn from the smallest scene's top-left 512 × 512 pixels


def write_labels(path: Path, labels: np.ndarray) -> None:
    """``labels`` as a uint8 GeoTIFF on the generated scenes' grid (``bench_scale.write_scene``'s), 0 = unlabelled."""
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", dtype="uint8", count=1, height=labels.shape[0],
                       width=labels.shape[1], nodata=0, crs=CRS, transform=from_origin(*ORIGIN)) as ds:
        ds.write(labels, 1)


def write_validation(path: Path, labels: np.ndarray, height: int, width: int) -> None:
    """``labels`` tiled over a ``height × width`` grid as a float32 GeoTIFF (no-data -1), strip by strip."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    with rasterio.open(path, "w", driver="GTiff", dtype="float32", count=1, height=height, width=width, nodata=-1,
                       crs=CRS, transform=from_origin(*ORIGIN), tiled=True, compress="deflate") as ds:
        for r0 in range(0, height, labels.shape[0]):
            rows = min(labels.shape[0], height - r0)
            strip = np.tile(labels[:rows], (1, -(-width // labels.shape[1])))[:, :width].astype(np.float32)
            ds.write(strip, 1, window=Window(0, r0, width, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the scenes, labels and class file")
    parser.add_argument("--sizes", nargs="+", default=["1024", "4096"], help="scene sizes, N or HxW (smallest first)")
    parser.add_argument("--bands", type=int, default=32, help="spectral bands (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the generated scenes and the labels")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = SceneModel(args.bands, seed=args.seed)
    scenes = []
    for size in args.sizes:
        height, width = parse_size(size)
        scene = args.out / f"scene_{height}x{width}x{args.bands}.tif"
        if not scene.exists():
            write_scene(model, scene, height, width)
        scenes.append(scene)
        print(f"{scene} ({scene.stat().st_size / 2**30:.2f} GiB)", flush=True)
    height, width = parse_size(args.sizes[0])
    labels = args.out / "labels.tif"
    labelled = _labels(model, height, width, args.seed)
    write_labels(labels, labelled)
    for size in args.sizes:
        rows, cols = parse_size(size)
        write_validation(args.out / f"validation_{rows}x{cols}.tif", labelled, rows, cols)
    classes = args.out / "classes.json"
    classes.write_text(json.dumps({"classes": [{"id": k + 1, "name": f"material {k + 1}",
                                                "prompt": f"pixels of generated material {k + 1}"}
                                               for k in range(N_CLASSES)]}, indent=2))
    print(f"{labels}\n{classes}\n\nthen:\n"
          f"  bin/hypersynth baseline --method rf --scene {scenes[0]} --labels {labels} --prompts {classes} "
          f"--out {args.out / 'rf'}\n"
          f"  .venv/bin/python scripts/bench_classify_stream.py --scene {' '.join(map(str, scenes))} "
          f"--bundle {args.out / 'rf' / 'classifier_bundle'} --exe bin/hypersynth <older checkout>/bin/hypersynth\n"
          f"  /usr/bin/time -v bin/hypersynth classify --model {args.out / 'rf' / 'classifier_bundle'} "
          f"--scene {scenes[-1]} --validation {args.out}/validation_<size>.tif --out /tmp/c   # with validation")


def _labels(model: SceneModel, height: int, width: int, seed: int) -> np.ndarray:
    """``(height, width)`` uint8: class ``k + 1`` at ``LABELS_PER_CLASS`` pixels where endmember k dominates, 0
    elsewhere."""
    rng = np.random.default_rng([seed, 2])
    side = min(512, height, width)
    dominant = model.abundances(0, side, 0, side)[0].argmax(axis=0)  # (side, side)
    labels = np.zeros((height, width), dtype=np.uint8)
    for k in range(N_CLASSES):
        rows, cols = np.nonzero(dominant == k)
        pick = rng.permutation(len(rows))[:LABELS_PER_CLASS]
        labels[rows[pick], cols[pick]] = k + 1
    return labels


if __name__ == "__main__":
    main()
