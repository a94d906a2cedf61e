"""Turn each registered dataset's files into a :class:`LabelledScene` (or a bare :class:`Scene`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from ..demo import make_demo_scene
from ..io.read import SceneReadError, read_mat_arrays, read_scene
from ..progress import NULL_REPORTER, Reporter
from ..scene import ClassInfo, LabelledScene, Scene, default_color
from .fetch import fetch_files, find_file
from .registry import (
    DATASETS, ENMAP_TILE_SHA256, ENMAP_TILE_SIZE, UNLABELLED_SCENES, DatasetSpec, enmap_tile_name, get_spec,
    list_datasets,
)

PathLike = Union[str, Path]
SAMSON_MAT_SCALE = 1402.0  # Samson.mat holds max(samson_1.img, 0) / 1402; multiply back to the .img's units


class DatasetFormatError(ValueError):
    """A dataset file was found but does not hold what the registry expects (wrong file, key or shape)."""


def load_dataset(key: str, *, data_dir: Optional[PathLike] = None, allow_download: bool = False,
                 reporter: Reporter = NULL_REPORTER) -> LabelledScene:
    """Load a registered benchmark as one labelled scene.

    Args:
        key: a key of :func:`list_datasets` (e.g. ``"salinasA"``, ``"enmap_potsdam"``, ``"demo"``).
        data_dir: folder laid out as ``<key>/<file>``; default ``$HYPERSYNTH_DATA_DIR``, then the user cache.
        allow_download: fetch missing files from their public addresses into the cache (sha256-checked).
        reporter: progress and cancel.

    Returns:
        The scene with its label map (0 = unlabelled, ids as in the ground truth) and named classes with
        prompts; ``test_labels`` holds the official test map where the dataset has one (Houston 2013).

    Raises:
        UnknownDatasetError: no such key (the message lists the known keys).
        DatasetNotFoundError: files are missing; the message names them and where to put them.
        DatasetFormatError: a file does not hold the expected arrays or shapes.
    """
    spec = get_spec(key)
    if key in UNLABELLED_SCENES:
        raise DatasetFormatError(f"{key!r} has no class labels; use load_scene_only({key!r}) for the bare scene")
    reporter.progress(0.0, f"{key}: locating files")
    paths = fetch_files(spec, data_dir=data_dir, allow_download=allow_download, reporter=reporter.sub(0.0, 0.3))
    reporter.check()
    loader = _LOADERS.get(key, _load_mat_benchmark)
    labelled = loader(spec, paths, reporter.sub(0.3, 1.0, f"{key}: "))
    _check_loaded(spec, labelled)
    reporter.progress(1.0, f"{key}: loaded")
    return labelled


def load_scene_only(key: str, *, data_dir: Optional[PathLike] = None, allow_download: bool = False,
                    reporter: Reporter = NULL_REPORTER) -> Scene:
    """The scene of a dataset without labels; the way to open unlabelled scenes such as ``moffett_field``."""
    spec = get_spec(key)
    if key not in UNLABELLED_SCENES:
        return load_dataset(key, data_dir=data_dir, allow_download=allow_download, reporter=reporter).scene
    paths = fetch_files(spec, data_dir=data_dir, allow_download=allow_download, reporter=reporter)
    scene = _read_mat_cube(spec, _path_of(spec, paths, "cube"))
    scene.name = spec.key
    if scene.bands != spec.shape[2] or scene.shape != spec.shape[:2]:
        raise DatasetFormatError(f"{spec.key}: expected a {_shape_text(spec.shape)} cube, got "
                                 f"{_shape_text((*scene.shape, scene.bands))}; is {scene.source} the right file?")
    return scene


def available_datasets(data_dir: Optional[PathLike] = None) -> list[str]:
    """Keys of the labelled datasets whose required files are all on disk (generated ones always are)."""
    return [spec.key for spec in list_datasets()
            if all(find_file(spec.key, f, data_dir) is not None for f in spec.files if f.required)]


def load_enmap_tiles(data_dir: Optional[PathLike] = None, *, allow_download: bool = False,
                     reporter: Reporter = NULL_REPORTER) -> list[tuple[str, LabelledScene]]:
    """Each EnMAP Potsdam tile as its own georeferenced labelled scene, named ``enmap_potsdam_tile_<col>_<row>``."""
    spec = DATASETS["enmap_potsdam"]
    paths = fetch_files(spec, data_dir=data_dir, allow_download=allow_download, reporter=reporter.sub(0.0, 0.2))
    return _read_enmap_tiles(spec, paths, reporter.sub(0.2, 1.0))


def dominant_endmember_labels(abundances: np.ndarray, min_abundance: float) -> np.ndarray:
    """Class ids ``1..K`` of each pixel's largest abundance; 0 where it is below ``min_abundance``.

    Args:
        abundances: ``(K, H, W)`` fractional abundances.
        min_abundance: purity threshold (e.g. 0.8); mixed pixels below it stay unlabelled.
    """
    top = abundances.argmax(axis=0) + 1  # (H, W)
    return np.where(abundances.max(axis=0) >= min_abundance, top, 0).astype(np.int32)


# --- per-dataset loaders -------------------------------------------------------------------------------

def _load_mat_benchmark(spec: DatasetSpec, paths: dict[str, Path], reporter: Reporter) -> LabelledScene:
    """The classic .mat benchmarks: a cube file and a ground-truth file with named variables."""
    reporter.progress(0.0, "reading the cube")
    scene = _read_mat_cube(spec, _path_of(spec, paths, "cube"))
    reporter.check()
    reporter.progress(0.7, "reading the ground truth")
    gt_path = _path_of(spec, paths, "gt")
    arrays = read_mat_arrays(gt_path)
    labels = _label_map(spec, arrays, spec.gt_key, gt_path)
    test = _label_map(spec, arrays, spec.test_gt_key, gt_path) if spec.test_gt_key else None
    scene = _finish_bands(spec, scene)
    return LabelledScene(scene=scene, labels=labels, classes=_classes(spec), test_labels=test)


def _load_enmap_potsdam(spec: DatasetSpec, paths: dict[str, Path], reporter: Reporter) -> LabelledScene:
    """The EnMAP tiles placed at their offsets in the 200 x 330 Potsdam grid: one sparse scene."""
    tiles = _read_enmap_tiles(spec, paths, reporter.sub(0.0, 0.8))
    rows, cols, bands = spec.shape
    first = tiles[0][1].scene
    x0, dx, rx, y0, ry, dy = first.transform
    if rx or ry:
        raise DatasetFormatError(f"EnMAP tile {first.source} is rotated; the mosaic needs north-up tiles")
    col0, row0 = _enmap_offset(tiles[0][0])
    transform = (x0 - col0 * dx, dx, 0.0, y0 - row0 * dy, 0.0, dy)  # the full scene's upper-left corner

    cube = np.zeros((first.bands, rows, cols), dtype=np.float32)  # (B, H, W)
    valid = np.zeros((rows, cols), dtype=bool)
    labels = np.zeros((rows, cols), dtype=np.int32)
    good = np.ones(first.bands, dtype=bool)
    for name, tile in tiles:
        reporter.check()
        col, row = _enmap_offset(name)
        t = tile.scene
        expected = (transform[0] + col * dx, transform[3] + row * dy)
        if not np.allclose((t.transform[0], t.transform[3]), expected, atol=abs(dx) * 1e-3):
            raise DatasetFormatError(f"{name}: its origin {t.transform[0]:.1f}, {t.transform[3]:.1f} is not at "
                                     f"pixel ({row}, {col}) of the scene grid ({expected[0]:.1f}, {expected[1]:.1f})")
        if t.bands != first.bands or t.crs_wkt != first.crs_wkt:
            raise DatasetFormatError(f"{name}: {t.bands} bands / CRS differ from {tiles[0][0]}")
        h, w = t.shape
        if row + h > rows or col + w > cols:
            raise DatasetFormatError(f"{name}: a {h} x {w} tile at ({row}, {col}) does not fit the "
                                     f"{rows} x {cols} grid")
        cube[:, row:row + h, col:col + w] = t.cube
        valid[row:row + h, col:col + w] = t.valid
        labels[row:row + h, col:col + w] = tile.labels
        assert t.good_bands is not None
        good &= t.good_bands  # each tile already flags the registry's bad bands
    scene = Scene(cube=cube, valid=valid, wavelengths=first.wavelengths, fwhm=first.fwhm, good_bands=good,
                  transform=transform, crs_wkt=first.crs_wkt, name=spec.key,
                  source=str(paths[f"images/{tiles[0][0]}.tif"].parent.parent), band_names=list(first.band_names))
    return LabelledScene(scene=scene, labels=labels, classes=_classes(spec))


def _read_enmap_tiles(spec: DatasetSpec, paths: dict[str, Path], reporter: Reporter
                      ) -> list[tuple[str, LabelledScene]]:
    offsets = sorted(ENMAP_TILE_SHA256, key=lambda cr: (cr[1], cr[0]))  # row by row
    tiles = []
    for i, (col, row) in enumerate(offsets):
        reporter.check()
        reporter.progress(i / len(offsets), f"tile {i + 1}/{len(offsets)}")
        file_name = enmap_tile_name(col, row)
        scene = read_scene(paths[f"images/{file_name}"])
        if scene.shape != (ENMAP_TILE_SIZE, ENMAP_TILE_SIZE):
            raise DatasetFormatError(f"{file_name}: expected a {ENMAP_TILE_SIZE} x {ENMAP_TILE_SIZE} tile, "
                                     f"got {scene.shape[0]} x {scene.shape[1]}")
        labels = _read_label_tile(paths[f"labels/{file_name}"], scene.shape)
        good = scene.good_bands.copy() if scene.good_bands is not None else np.ones(scene.bands, dtype=bool)
        good[np.asarray(spec.bad_bands, dtype=int) - 1] = False
        scene = replace(scene, good_bands=good)
        _check_ids(spec, labels, paths[f"labels/{file_name}"])
        tiles.append((Path(file_name).stem, LabelledScene(scene=scene, labels=labels, classes=_classes(spec))))
    reporter.progress(1.0, "tiles read")
    return tiles


def _abundances(array: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    """``(K, H, W)`` abundances of an unmixing benchmark's 'A' (the label reader's :func:`~..io.labels.abundance_cube`,
    which an analyst's file goes through too)."""
    from ..io.labels import abundance_cube

    cube = abundance_cube(array, shape)
    if cube is None:
        raise DatasetFormatError(f"{name}'s 'A' is no abundances of the {shape[0]} x {shape[1]} grid (fractions "
                                 "summing to 1 a pixel)")
    return cube


def _load_jasper_ridge(spec: DatasetSpec, paths: dict[str, Path], reporter: Reporter) -> LabelledScene:
    """AVIRIS Jasper Ridge (ENVI cube) labelled by the dominant endmember of end4.mat's abundances."""
    reporter.progress(0.0, "reading the cube")
    scene = read_scene(_path_of(spec, paths, "cube"))  # reflectance: the header's scale factor 10000 applied
    rows, cols = scene.shape
    a = read_mat_arrays(_path_of(spec, paths, "abundances")).get("A")
    k = len(spec.class_names)
    if a is None or a.shape != (k, rows * cols):
        raise DatasetFormatError(f"end4.mat must hold abundances 'A' of shape {k} x {rows * cols}; "
                                 f"got {None if a is None else a.shape}")
    # A's pixel index runs column-major over (line, sample): index = line + rows * sample (MATLAB order)
    labels = dominant_endmember_labels(_abundances(a, scene.shape, "end4.mat"), float(spec.min_abundance or 0.0))
    scene.name = spec.key
    return LabelledScene(scene=scene, labels=labels, classes=_classes(spec))


def _load_samson(spec: DatasetSpec, paths: dict[str, Path], reporter: Reporter) -> LabelledScene:
    """Samson: the ENVI cube when present (else Samson.mat's copy), labelled by the dominant endmember."""
    reporter.progress(0.0, "reading the cube")
    mat_path = _path_of(spec, paths, "abundances")
    if "samson_1.img" in paths and "samson_1.img.hdr" in paths:
        scene = read_scene(paths["samson_1.img"])
    else:
        scene = _read_mat_cube(spec, mat_path)
        scene.cube *= SAMSON_MAT_SCALE  # back to the .img's units (negative values were clipped to 0 there)
        scene.wavelengths = spec.nominal_wavelengths()
    a = read_mat_arrays(mat_path).get("A")
    k = len(spec.class_names)
    if a is None or a.shape != (*scene.shape, k):
        raise DatasetFormatError(f"Samson.mat must hold abundances 'A' of shape {scene.shape[0]} x "
                                 f"{scene.shape[1]} x {k}; got {None if a is None else a.shape}")
    # (H, W, K), the cube's orientation
    labels = dominant_endmember_labels(_abundances(a, scene.shape, "Samson.mat"), float(spec.min_abundance or 0.0))
    scene.name = spec.key
    return LabelledScene(scene=scene, labels=labels, classes=_classes(spec))


def _load_demo(spec: DatasetSpec, paths: dict[str, Path], reporter: Reporter) -> LabelledScene:
    rows, _, bands = spec.shape
    demo = make_demo_scene(size=rows, bands=bands, n_classes=len(spec.class_names), seed=0)
    demo.scene.name = spec.key
    return demo


_LOADERS: dict[str, Callable[[DatasetSpec, dict[str, Path], Reporter], LabelledScene]] = {
    "enmap_potsdam": _load_enmap_potsdam,
    "jasper_ridge": _load_jasper_ridge,
    "samson": _load_samson,
    "demo": _load_demo,
}


# --- helpers -------------------------------------------------------------------------------------------

def _path_of(spec: DatasetSpec, paths: dict[str, Path], role: str) -> Path:
    name = next(f.name for f in spec.files if f.role == role)
    return paths[name]


def _read_mat_cube(spec: DatasetSpec, path: Path) -> Scene:
    """The cube variable named in the registry; copies saved under another name fall back to the largest cube."""
    try:
        return read_scene(path, cube_key=spec.cube_key)
    except SceneReadError as named_error:
        try:
            return read_scene(path)
        except SceneReadError:
            raise named_error from None


def _finish_bands(spec: DatasetSpec, scene: Scene) -> Scene:
    """Nominal wavelengths when the file has none; drop and flag bands as the registry says."""
    wavelengths = scene.wavelengths
    if wavelengths is None:
        nominal = spec.nominal_wavelengths()
        wavelengths = nominal if nominal is not None and nominal.size == scene.bands else None
    keep = np.ones(scene.bands, dtype=bool)
    if spec.drop_bands:
        if max(spec.drop_bands) > scene.bands:
            raise DatasetFormatError(f"{spec.key}: cannot drop band {max(spec.drop_bands)} of a "
                                     f"{scene.bands}-band cube; is {scene.source} the uncorrected cube?")
        keep[np.asarray(spec.drop_bands) - 1] = False
    assert scene.good_bands is not None
    good = scene.good_bands[keep].copy()
    if spec.bad_bands:
        good[np.asarray(spec.bad_bands) - 1] = False
    name = spec.key
    if spec.drop_bands:
        name = f"{spec.key} ({int(keep.sum())} of {scene.bands} bands, water absorption removed)"
    return replace(scene, cube=np.ascontiguousarray(scene.cube[keep]), good_bands=good, name=name,
                   wavelengths=None if wavelengths is None else wavelengths[keep],
                   fwhm=None if scene.fwhm is None else scene.fwhm[keep],
                   band_names=[n for n, k in zip(scene.band_names, keep) if k] if scene.band_names else [])


def _label_map(spec: DatasetSpec, arrays: dict[str, np.ndarray], key: Optional[str], path: Path) -> np.ndarray:
    if key not in arrays:
        raise DatasetFormatError(f"{path.name} has no label map {key!r}; it holds {', '.join(arrays) or 'nothing'}")
    labels = arrays[key]
    if labels.ndim != 2:
        raise DatasetFormatError(f"{path.name}: {key!r} is {labels.shape}, not a 2-D label map")
    labels = labels.astype(np.int32)
    _check_ids(spec, labels, path)
    return labels


def _read_label_tile(path: Path, shape: tuple[int, int]) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:
        values = ds.read(1)  # (H, W) float32 class ids
    if values.shape != shape:
        raise DatasetFormatError(f"{path.name}: label tile {values.shape} does not match its image {shape}")
    if not np.array_equal(values, np.round(values)):
        raise DatasetFormatError(f"{path.name}: label values must be whole class ids")
    return values.astype(np.int32)


def _check_ids(spec: DatasetSpec, labels: np.ndarray, path: Path) -> None:
    unknown = sorted(set(np.unique(labels).tolist()) - {0} - set(spec.class_names))
    if unknown:
        raise DatasetFormatError(f"{path.name}: label ids {unknown} are not classes of {spec.key} "
                                 f"(known: {spec.class_ids()}); is it the right ground-truth file?")


def _enmap_offset(tile_name: str) -> tuple[int, int]:
    """(col, row) pixel offset from ``enmap_potsdam_tile_<col>_<row>``."""
    col, row = tile_name.rsplit("_", 2)[1:]
    return int(col), int(row)


def _classes(spec: DatasetSpec) -> list[ClassInfo]:
    if spec.key == "demo":
        from ..demo import demo_classes

        return demo_classes(len(spec.class_names))
    return [ClassInfo(id=i, name=spec.class_names[i], color=default_color(n), prompt=spec.prompts.get(i, ""))
            for n, i in enumerate(spec.class_ids())]


def _check_loaded(spec: DatasetSpec, labelled: LabelledScene) -> None:
    got = (*labelled.scene.shape, labelled.scene.bands)
    if got != spec.shape:
        raise DatasetFormatError(f"{spec.key}: expected a {_shape_text(spec.shape)} scene, got {_shape_text(got)}; "
                                 f"is {labelled.scene.source} the right file?")


def _shape_text(shape: tuple[int, ...]) -> str:
    rows, cols, bands = shape
    return f"{rows} x {cols} x {bands}-band"

