"""Allocation peaks (tracemalloc) of what a run reads on the scene's whole grid before it predicts: its labels (a
float32 and a uint8 label raster, a vector file of points) and the pass that finds a plain raster's valid pixels;
and of assessing a class map of that grid against the float32 label raster (``hypersynth assess``).

Each figure is also given in bytes per pixel of the grid: what stays with the scene's size. A run holds the labels
as an int32 map (4 bytes a pixel) and the valid mask (1 bit, 1 byte once unpacked for learning); what is above that
is the reading's own. Written to
``--out`` once, reused after (a 4096² float32 label raster is 3 MB compressed, the 12-band scene 400 MB):

    .venv/bin/python scripts/bench_reading_peaks.py --size 4096 --out /tmp/hypersynth_reading_peaks
    /tmp/before/.venv/bin/python scripts/bench_reading_peaks.py ...   # the same on an older checkout, to compare

(run from the checkout whose code is measured: ``bin/hypersynth``'s import root, ``.importroot``, is put first).
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".importroot"))  # this checkout's code, also from a worktree sharing another's venv

sys.path.insert(0, str(REPO / "scripts"))
from bench_scale import CRS, ORIGIN  # noqa: E402

from hypersynth.core.evaluation.assess import evaluate_map  # noqa: E402
from hypersynth.core.io.labels import read_labels  # noqa: E402
from hypersynth.core.io.read import read_scene_layout  # noqa: E402
from hypersynth.core.scene import Scene  # noqa: E402

WEST, NORTH, PIXEL = ORIGIN[:3]  # bench_scale.py's grid, the generated scenes': UTM 33N, 30 m
LABELLED = 5000  # labelled pixels drawn at random
BANDS = 12  # the scene whose valid pixels are found


def peak(read: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of ``read()``, after a first call (the libraries' first-use allocations)."""
    read()
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def make_inputs(out: Path, n: int) -> dict[str, Path]:
    """The label rasters, the points and the scene, written once."""
    import rasterio
    from osgeo import ogr, osr

    out.mkdir(parents=True, exist_ok=True)
    transform = rasterio.transform.from_origin(*ORIGIN)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, n, LABELLED), rng.integers(0, n, LABELLED)
    ids = 1 + np.arange(LABELLED) % 6
    files = {f"{dtype} label raster": out / f"labels_{n}_{dtype}.tif" for dtype in ("float32", "uint8")}
    for (what, path), dtype in zip(files.items(), ("float32", "uint8")):
        if not path.exists():
            values = np.zeros((n, n), dtype)
            values[rows, cols] = ids
            with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype=dtype, tiled=True,
                               compress="deflate", crs=CRS, transform=transform) as ds:
                ds.write(values, 1)
    points = files["vector points"] = out / f"points_{n}.gpkg"
    if not points.exists():
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(points))
        srs = osr.SpatialReference()
        srs.SetFromUserInput(CRS)
        layer = ds.CreateLayer("labels", srs=srs, geom_type=ogr.wkbPoint)
        layer.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
        for r, c, i in zip(rows, cols, ids):
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetGeometry(ogr.CreateGeometryFromWkt(
                f"POINT({WEST + (c + 0.5) * PIXEL} {NORTH - (r + 0.5) * PIXEL})"))
            feature.SetField("class", int(i))
            layer.CreateFeature(feature)
        ds = None
    class_map = files["class map"] = out / f"class_map_{n}.tif"
    if not class_map.exists():
        with rasterio.open(class_map, "w", driver="GTiff", width=n, height=n, count=1, dtype="uint8", nodata=0,
                           crs=CRS, transform=transform, tiled=True, compress="deflate") as ds:
            for r0 in range(0, n, 256):
                ds.write(rng.integers(0, 7, size=(min(256, n - r0), n)).astype(np.uint8), 1,
                         window=((r0, r0 + min(256, n - r0)), (0, n)))
    scene = files["scene"] = out / f"scene_{n}x{n}x{BANDS}.tif"
    if not scene.exists():
        with rasterio.open(scene, "w", driver="GTiff", width=n, height=n, count=BANDS, dtype="int16", nodata=-1,
                           crs=CRS, transform=transform, tiled=True) as ds:
            for r0 in range(0, n, 256):  # written a strip at a time
                block = rng.integers(1, 5000, size=(BANDS, min(256, n - r0), n)).astype(np.int16)
                block[4] = -1  # a band without data
                ds.write(block, window=((r0, r0 + len(block[0])), (0, n)))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="rows and columns of the grid")
    parser.add_argument("--out", type=Path, default=Path("/tmp/hypersynth_reading_peaks"), help="where the inputs go")
    args = parser.parse_args()
    n = args.size
    files = make_inputs(args.out, n)
    import rasterio.crs

    grid = Scene(cube=np.broadcast_to(np.float32(0), (BANDS, n, n)), valid=np.ones((n, n), bool),
                 transform=(WEST, PIXEL, 0.0, NORTH, 0.0, -PIXEL), crs_wkt=rasterio.crs.CRS.from_string(CRS).to_wkt())
    print(f"| what is read ({n} × {n} grid) | allocation peak MB | bytes a pixel |\n|---|---|---|")
    for what in ("float32 label raster", "uint8 label raster", "vector points"):
        bytes_ = peak(lambda: read_labels(files[what], grid))
        print(f"| {what} ({LABELLED} labelled pixels) | {bytes_ / 1e6:.0f} | {bytes_ / n / n:.1f} |")
    bytes_ = peak(lambda: read_scene_layout(files["scene"]))
    print(f"| the valid pixels of a {BANDS}-band int16 scene | {bytes_ / 1e6:.0f} | {bytes_ / n / n:.1f} |")
    bytes_ = peak(lambda: evaluate_map(files["class map"], files["float32 label raster"]))
    print(f"| a uint8 class map assessed against the float32 label raster | {bytes_ / 1e6:.0f} | "
          f"{bytes_ / n / n:.1f} |")


if __name__ == "__main__":
    main()
