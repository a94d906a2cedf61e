"""Peak memory and wall time of `draw-labels` on generated scenes of two sizes, each labelled everywhere.

Each scene is a float32 GeoTIFF of random values written a band at a time (``--bands`` bands, ``SIDE × SIDE``
pixels), with a no-data corner, and a reference label raster of ``--classes`` classes in square blocks covering every
pixel: the draw's worst case, every pixel a candidate. Each draw (5 labels per class, disjoint split, validation
raster written) is a fresh process under ``/usr/bin/time -v``. The scene is never read whole, so its peak follows
the reference's pixels (a byte each, plus the draw's masks), not its bands. The generated files (2.1 GB for the
4096-pixel scene) are removed at the end unless ``--keep`` is given.

    .venv/bin/python scripts/bench_label_draw.py --sides 1024 4096 --bands 32
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classify_stream import peak_and_wall  # noqa: E402  (the /usr/bin/time reading the benchmarks share)

REPO = Path(__file__).resolve().parents[1]


def write_inputs(folder: Path, side: int, bands: int, classes: int) -> tuple[Path, Path]:
    """``scene.tif`` and ``reference.tif`` of ``side × side`` pixels in ``folder`` (written once, kept)."""
    from osgeo import gdal, osr

    folder.mkdir(parents=True, exist_ok=True)
    scene, reference = folder / "scene.tif", folder / "reference.tif"
    if scene.exists() and reference.exists():
        return scene, reference
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    transform = (366000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0)
    # Band interleave: written a band at a time, a pixel-interleaved compressed file rewrites every tile per band
    # and grows to about `bands` times its size (32.5 GB instead of 2.1 GB for 4096 x 4096 x 32).
    options = ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", "INTERLEAVE=BAND"]
    rng = np.random.default_rng(0)
    ds = gdal.GetDriverByName("GTiff").Create(str(scene), side, side, bands, gdal.GDT_Float32, options)
    ds.SetGeoTransform(transform)
    ds.SetProjection(srs.ExportToWkt())
    corner = side // 16
    for b in range(1, bands + 1):
        values = rng.random((side, side), dtype=np.float32)
        values[:corner, :corner] = -9999.0
        band = ds.GetRasterBand(b)
        band.SetNoDataValue(-9999.0)
        band.WriteArray(values)
        band.FlushCache()
    ds = None
    block = max(side // 8, 1)
    rows, cols = np.indices((side, side)) // block
    labels = ((rows * 8 + cols) % classes + 1).astype(np.uint8)  # (side, side), every pixel labelled
    ds = gdal.GetDriverByName("GTiff").Create(str(reference), side, side, 1, gdal.GDT_Byte, options)
    ds.SetGeoTransform(transform)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(labels)
    ds = None
    return scene, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[1024, 4096], help="scene sides in pixels")
    parser.add_argument("--bands", type=int, default=32, help="bands of each scene (default 32)")
    parser.add_argument("--classes", type=int, default=8, help="classes of the reference (default 8)")
    parser.add_argument("--out", type=Path, help="where the files go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated scenes and draws afterwards")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_label_draw_"))
    try:
        _draw_each(args, out)
    finally:
        if not args.keep:
            for side in args.sides:  # only what this script writes, whatever else --out holds
                shutil.rmtree(out / f"{side}x{side}x{args.bands}", ignore_errors=True)
            if args.out is None:
                shutil.rmtree(out, ignore_errors=True)


def _draw_each(args: argparse.Namespace, out: Path) -> None:
    print("| scene | reference pixels | peak GB | wall s |\n|---|---|---|---|")
    for side in args.sides:
        folder = out / f"{side}x{side}x{args.bands}"
        scene, reference = write_inputs(folder, side, args.bands, args.classes)
        command = ["/usr/bin/time", "-v", str(REPO / "bin" / "hypersynth"), "draw-labels", "--scene", str(scene),
                   "--truth", str(reference), "--split", "disjoint", "--out", str(folder / "train.gpkg"),
                   "--validation-out", str(folder / "validation.tif"), "--overwrite", "--quiet"]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        peak, wall = peak_and_wall(done.stderr)
        print(f"| {side} × {side} × {args.bands} | {side * side:,} | {peak:.2f} | {wall:.1f} |", flush=True)


if __name__ == "__main__":
    main()
