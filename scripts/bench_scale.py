"""Peak memory and speed of full-scene prediction on large generated scenes streamed from disk.

For every ``--sizes`` entry this script writes a synthetic hyperspectral scene as a tiled, uncompressed
float32 GeoTIFF (in horizontal strips, so generating it never holds the whole cube), then runs the
measurement in a fresh Python subprocess: imports, fit the classifier on a few hundred generated
samples, then ``predict_scene(classifier, raster_window_reader(path), valid=None, tile_size, batch_size)``.
The subprocess reports its resident memory after the imports, before prediction, its peak over the
prediction alone (VmHWM reset through /proc/self/clear_refs) and its peak over its whole life (VmHWM
before the reset and at the end). Not ``ru_maxrss``: a child started by fork/vfork + exec inherits the
parent's high-water mark there, and the parent has just written the scene through GDAL's block cache.
Throughput is valid pixels / wall seconds of ``predict_scene``.

Run (see docs/bench_scale.md for the figures measured on the 2-core CPU machine):

    .venv/bin/python scripts/bench_scale.py --classifier rf --sizes 1024 2048 --json /tmp/rf.json
    .venv/bin/python scripts/bench_scale.py --classifier cnn --sizes 256 512 --tile-size 128 --batch-size 1024 --json /tmp/cnn.json

A size is ``N`` (N x N pixels) or ``HxW``. Scenes go to ``--workdir`` (default /tmp) and are deleted
after their measurement unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

N_CLASSES = 5  # endmembers of the generated scene = classes the classifiers learn
TRAIN_PER_CLASS = 80  # generated training samples per class (400 in all: "a few hundred")
BLOCK = 256  # GeoTIFF tile side; also the height of a generated strip, so every write fills whole blocks
BANDS_PER_WRITE = 25  # bands generated and written at once (bounds the generator's memory)
CRS = "EPSG:32633"  # the generated scenes' grid: UTM 33N, 30 m pixels from this upper-left corner
ORIGIN = (500000.0, 5800000.0, 30.0, 30.0)  # rasterio.transform.from_origin(west, north, xsize, ysize)


# ------------------------------------------------------------------------------------- the scene model
@dataclass
class SceneModel:
    """A deterministic synthetic scene: smooth endmember spectra mixed by smooth spatial fields, plus noise.

    Every value is a function of the pixel's (row, col), so any window can be generated on its own:
    the writer goes strip by strip and training patches come from the same model.
    """

    bands: int  # spectral bands B
    seed: int = 0  # seeds spectra, fields and noise

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        wl = np.linspace(400.0, 2500.0, self.bands)  # (B,) nm
        spectra = []
        for _ in range(N_CLASSES):  # a sloped baseline and three broad features per endmember
            s = rng.uniform(0.05, 0.3) + rng.uniform(-0.1, 0.3) * (wl - 400.0) / 2100.0
            for centre, width, height in zip(rng.uniform(450, 2400, 3), rng.uniform(80, 400, 3),
                                             rng.uniform(-0.15, 0.2, 3)):
                s = s + height * np.exp(-0.5 * ((wl - centre) / width) ** 2)
            spectra.append(s)
        water = (1 - 0.7 * np.exp(-0.5 * ((wl - 1400) / 40) ** 2)) * (1 - 0.8 * np.exp(-0.5 * ((wl - 1900) / 50) ** 2))
        self.spectra = (np.clip(np.array(spectra), 0.02, 0.8) * water).astype(np.float32)  # (K, B)
        # Each abundance field (and the illumination) is a sum of 6 plane waves, wavelengths 40-400 px.
        n_waves = 6
        angle = rng.uniform(0, 2 * np.pi, (N_CLASSES + 1, n_waves))
        freq = 1.0 / rng.uniform(40.0, 400.0, (N_CLASSES + 1, n_waves))  # cycles per pixel
        self.freq_row = freq * np.sin(angle)  # (K + 1, n_waves)
        self.freq_col = freq * np.cos(angle)  # (K + 1, n_waves)
        self.phase = rng.uniform(0, 2 * np.pi, (N_CLASSES + 1, n_waves))  # (K + 1, n_waves)

    def _fields(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``(K + 1, h, w)`` smooth fields in about [-1, 1] on the grid ``rows x cols``."""
        n_waves = self.phase.shape[1]
        total = np.zeros((len(self.phase), len(rows), len(cols)), dtype=np.float64)  # (K + 1, h, w)
        for j in range(n_waves):  # one wave at a time keeps a wide strip's temporaries small
            total += np.cos(2 * np.pi * (self.freq_row[:, j, None, None] * rows[None, :, None]
                                         + self.freq_col[:, j, None, None] * cols[None, None, :])
                            + self.phase[:, j, None, None])
        return (total / np.sqrt(n_waves)).astype(np.float32)

    def abundances(self, row0: int, row1: int, col0: int, col1: int) -> tuple[np.ndarray, np.ndarray]:
        """``(K, h, w)`` mixing fractions (sum 1) and ``(h, w)`` illumination of a window."""
        fields = self._fields(np.arange(row0, row1, dtype=np.float64), np.arange(col0, col1, dtype=np.float64))
        logits = 4.0 * fields[:N_CLASSES]  # sharp enough for patches of mostly one material
        weights = np.exp(logits - logits.max(axis=0, keepdims=True))  # (K, h, w)
        return weights / weights.sum(axis=0, keepdims=True), 1.0 + 0.15 * fields[N_CLASSES]

    def window(self, row0: int, row1: int, col0: int, col1: int, rng: np.random.Generator,
               bands: Optional[slice] = None, mix: Optional[tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
        """``(b, h, w)`` float32 reflectance of a window (``bands`` of them), noise drawn from ``rng``."""
        abundance, light = mix if mix is not None else self.abundances(row0, row1, col0, col1)
        spectra = self.spectra[:, bands if bands is not None else slice(None)]  # (K, b)
        k, h, w = abundance.shape
        cube = (spectra.T @ abundance.reshape(k, h * w)).reshape(-1, h, w) * light  # (b, h, w)
        cube += rng.standard_normal(cube.shape, dtype=np.float32) * 0.005
        return cube.astype(np.float32, copy=False)


def write_scene(model: SceneModel, path: Path, height: int, width: int) -> None:
    """Write the model's ``(B, height, width)`` cube as a tiled, uncompressed GeoTIFF, strip by strip."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = dict(driver="GTiff", dtype="float32", count=model.bands, height=height, width=width,
                   tiled=True, blockxsize=BLOCK, blockysize=BLOCK, interleave="band", compress=None,
                   BIGTIFF="YES", crs=CRS, transform=from_origin(*ORIGIN))
    tmp = path.with_name(path.name + ".part")  # never leave a half-written scene under the final name
    with rasterio.open(tmp, "w", **profile) as ds:
        for row0 in range(0, height, BLOCK):
            row1 = min(row0 + BLOCK, height)
            mix = model.abundances(row0, row1, 0, width)
            rng = np.random.default_rng([model.seed, row0])
            for b0 in range(0, model.bands, BANDS_PER_WRITE):
                b1 = min(b0 + BANDS_PER_WRITE, model.bands)
                strip = model.window(row0, row1, 0, width, rng, bands=slice(b0, b1), mix=mix)  # (b, h, W)
                ds.write(strip, indexes=list(range(b0 + 1, b1 + 1)), window=Window(0, row0, width, row1 - row0))
    os.replace(tmp, path)


def training_set(model: SceneModel, patch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, B, p, p)`` patches around pixels of the top-left 512 x 512 block and their ``(N,)`` classes.

    Labels are the dominant endmember; ``TRAIN_PER_CLASS`` pixels per class (fewer if a class is rare).
    """
    rng = np.random.default_rng([model.seed, 1])
    abundance, _ = model.abundances(0, 512, 0, 512)
    dominant = abundance.argmax(axis=0)  # (512, 512)
    r = patch_size // 2
    samples, labels = [], []
    for k in range(N_CLASSES):
        rows, cols = np.nonzero(dominant[r:512 - r, r:512 - r] == k)
        pick = rng.permutation(len(rows))[:TRAIN_PER_CLASS]
        for i in pick:
            row, col = rows[i] + r, cols[i] + r
            samples.append(model.window(row - r, row + r + 1, col - r, col + r + 1, rng))  # (B, p, p)
            labels.append(k)
    return np.stack(samples), np.asarray(labels, dtype=np.int64)


# ------------------------------------------------------------------------------------------ measurement
def _status_kib(field: str) -> int:
    """A ``kB`` field (VmRSS, VmHWM) of /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Worker: fit the classifier and predict the scene at ``args.scene``; runs in its own process."""
    import torch  # noqa: F401  (imported before the baseline reading, as the CNN run needs it anyway)

    from hypersynth.core.classify.baselines import make_baseline
    from hypersynth.core.classify.cnn import SpectralSpatialCNN, cnn_preset
    from hypersynth.core.classify.predict import predict_scene, raster_window_reader

    rss_imports = _status_kib("VmRSS")
    model = SceneModel(args.bands, seed=args.seed)
    if args.classifier == "rf":
        classifier: Any = make_baseline("rf", seed=0)
        samples, labels = training_set(model, 1)
    else:
        options = {**cnn_preset("fast"), "epochs": args.epochs, "val_fraction": 0.0}
        classifier = SpectralSpatialCNN(9, seed=0, device=args.device, **options)
        samples, labels = training_set(model, classifier.patch_size)
    t0 = time.perf_counter()
    classifier.fit(samples, labels)
    fit_s = time.perf_counter() - t0
    del samples, labels
    reader = raster_window_reader(args.scene)
    rss_before = _status_kib("VmRSS")
    peak_before = _status_kib("VmHWM")  # imports + fit
    peak_reset = _reset_peak()
    on_gpu = args.classifier == "cnn" and next(classifier.net.parameters()).device.type == "cuda"
    if on_gpu:  # the GPU's own peak: the tile's batches live there, so it must not grow with the scene either
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gpu_before = torch.cuda.memory_allocated()
    from contextlib import nullcontext

    from hypersynth.core.io.write import probability_raster
    from hypersynth.core.scene import ClassInfo

    import rasterio

    with rasterio.open(args.scene) as src:
        grid = {"transform": src.transform.to_gdal(), "crs_wkt": src.crs.to_wkt() if src.crs else None}
    written = Path(args.scene).with_name(Path(args.scene).stem + "_probabilities.tif")
    writer = (probability_raster(written, [ClassInfo(k + 1, f"class {k + 1}") for k in range(N_CLASSES)],
                                 tuple(reader.shape[1:]), overwrite=True, **grid)
              if args.probabilities else nullcontext(None))  # the --probabilities file, a band per class
    cpu0, t0 = time.process_time(), time.perf_counter()
    with writer as on_tile:
        prediction = predict_scene(classifier, reader, None, tile_size=args.tile_size, batch_size=args.batch_size,
                                   smoothing=args.smoothing, on_tile=on_tile)
    if on_gpu:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
    gpu_peak = torch.cuda.max_memory_allocated() if on_gpu else None
    predict_peak = _status_kib("VmHWM") if peak_reset else None
    whole_peak = max(peak_before, _status_kib("VmHWM"))
    n_valid = int((prediction.class_index >= 0).sum())
    counts = np.bincount(prediction.class_index[prediction.class_index >= 0], minlength=N_CLASSES)
    device = "cpu"
    if args.classifier == "cnn":
        device = str(next(classifier.net.parameters()).device)
    _, height, width = reader.shape
    probabilities_mib = round(written.stat().st_size / 2**20, 1) if args.probabilities else None
    written.unlink(missing_ok=True)
    return {"height": height, "width": width, "bands": args.bands, "classifier": args.classifier,
            "smoothing": args.smoothing, "probabilities_file_mib": probabilities_mib,
            "device": device, "tile_size": args.tile_size, "batch_size": args.batch_size,
            "fit_seconds": round(fit_s, 2), "seconds": round(seconds, 2), "cpu_seconds": round(cpu_s, 2),
            "valid_pixels": n_valid, "pixels_per_second": round(n_valid / seconds, 1),
            "rss_after_imports_mib": round(rss_imports / 1024, 1),
            "rss_before_predict_mib": round(rss_before / 1024, 1),
            "peak_rss_predict_mib": None if predict_peak is None else round(predict_peak / 1024, 1),
            "peak_rss_mib": round(whole_peak / 1024, 1),
            "gpu_allocated_before_predict_mib": round(gpu_before / 2**20, 1) if on_gpu else None,
            "gpu_peak_allocated_predict_mib": round(gpu_peak / 2**20, 1) if on_gpu else None,
            "class_shares": [round(c / max(n_valid, 1), 3) for c in counts.tolist()],
            "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg()}


def run_worker(args: argparse.Namespace, scene: Path) -> dict[str, Any]:
    """Run :func:`measure` in a fresh interpreter and return its JSON result."""
    cmd = [sys.executable, __file__, "--worker", "--scene", str(scene), "--bands", str(args.bands),
           "--classifier", args.classifier, "--tile-size", str(args.tile_size), "--batch-size",
           str(args.batch_size), "--device", args.device, "--epochs", str(args.epochs), "--seed", str(args.seed),
           "--smoothing", str(args.smoothing)] + (["--probabilities"] if args.probabilities else [])
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the measurement of {scene} failed (exit {done.returncode}); see the error above")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------- driver
def parse_size(text: str) -> tuple[int, int]:
    """``"1024"`` -> (1024, 1024); ``"512x1024"`` -> (512, 1024)."""
    parts = text.lower().split("x")
    try:
        height, width = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"a size is N or HxW in pixels, e.g. 1024 or 512x1024; got {text!r}")
    if height < 1 or width < 1 or len(parts) > 2:
        raise argparse.ArgumentTypeError(f"a size is N or HxW with positive integers; got {text!r}")
    return height, width


def markdown_table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, one row per measurement."""
    head = ("| size (rows × cols × bands) | classifier | smoothing σ | probabilities | device | tile | batch | seconds "
            "| pixels/s "
            "| RSS after imports MiB | RSS before predict MiB | peak RSS in predict MiB | peak RSS MiB "
            "| peak GPU memory in predict MiB |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        written = r.get("probabilities_file_mib")
        lines.append(f"| {r['height']} × {r['width']} × {r['bands']} | {r['classifier']} | {r.get('smoothing', 0):g} "
                     f"| {'no' if written is None else f'{written:,.0f} MiB written'} "
                     f"| {r['device']} "
                     f"| {r['tile_size']} | {r['batch_size']} | {r['seconds']:.1f} | {r['pixels_per_second']:,.0f} "
                     f"| {r['rss_after_imports_mib']:.0f} | {r['rss_before_predict_mib']:.0f} "
                     f"| {'n/a' if r['peak_rss_predict_mib'] is None else format(r['peak_rss_predict_mib'], '.0f')} "
                     f"| {r['peak_rss_mib']:.0f} "
                     f"| {'n/a' if r.get('gpu_peak_allocated_predict_mib') is None else format(r['gpu_peak_allocated_predict_mib'], '.0f')} |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """CPU model, cores and RAM of this machine."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "ram_gib": round(ram, 1), "gpu": gpu,
            "python": platform.python_version()}


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", type=parse_size, default=[(1024, 1024), (2048, 2048)],
                   help="scene sizes, N or HxW pixels (default 1024 2048)")
    p.add_argument("--bands", type=int, default=200, help="spectral bands (default 200)")
    p.add_argument("--classifier", choices=("rf", "cnn"), default="rf")
    p.add_argument("--tile-size", type=int, default=256, help="predict_scene tile side (default 256)")
    p.add_argument("--batch-size", type=int, default=4096, help="samples per predict_proba call (default 4096)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="CNN device (RF: CPU)")
    p.add_argument("--epochs", type=int, default=2, help="CNN training epochs (default 2: speed, not accuracy)")
    p.add_argument("--seed", type=int, default=0, help="seeds the generated scene and training set")
    p.add_argument("--smoothing", type=float, default=0.0,
                   help="σ (pixels) of the probability smoothing predict_scene applies (default 0: off)")
    p.add_argument("--probabilities", action="store_true",
                   help="also write the class probabilities tile by tile, as --probabilities does (file removed after)")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="where scenes are written")
    p.add_argument("--keep", action="store_true", help="keep the generated scenes")
    p.add_argument("--json", type=Path, help="write machine + results here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scene", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.bands < 1 or args.tile_size < 1 or args.batch_size < 1 or args.epochs < 1:
        p.error("--bands, --tile-size, --batch-size and --epochs must be at least 1")
    if args.worker:
        print(json.dumps(measure(args)))
        return 0

    model = SceneModel(args.bands, seed=args.seed)
    results = []
    for height, width in args.sizes:
        need = 4 * args.bands * height * width
        free = shutil.disk_usage(args.workdir).free
        if need > 0.9 * free:
            raise SystemExit(f"a {height}x{width}x{args.bands} scene needs {need / 2**30:.1f} GiB but "
                             f"{args.workdir} has {free / 2**30:.1f} GiB free; choose --workdir or smaller --sizes")
        scene = args.workdir / f"bench_scale_{height}x{width}x{args.bands}_{os.getpid()}.tif"
        try:
            t0 = time.perf_counter()
            write_scene(model, scene, height, width)
            print(f"wrote {scene} ({need / 2**30:.2f} GiB) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            result = run_worker(args, scene)
        finally:
            if not args.keep:
                scene.unlink(missing_ok=True)
                scene.with_name(scene.name + ".part").unlink(missing_ok=True)
        results.append(result)
        print(json.dumps(result), file=sys.stderr)
    print(markdown_table(results))
    if args.json:
        tmp = args.json.with_name(args.json.name + ".part")
        tmp.write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
