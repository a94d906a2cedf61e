"""A trained classifier saved as a safetensors bundle and loaded back, with the pixels it learnt from."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .device import check_device, note_cpu_only
from .evaluation.assess import ValidationPixels
from .model_folders import CLASSIFIER_FOLDER, check_model_folder
from .scene import ClassInfo, Scene

if TYPE_CHECKING:
    from .methods import FittedMethod
    from .pixel_mask import PixelMask

log = logging.getLogger("hypersynth")

CLASSIFIER_KIND = "spectral-spatial-cnn"
TRAINING_PART = "training"  # a classifier bundle's record of the pixels it learnt from (rows, cols on its scene)


def _training_pixels(labels: np.ndarray, valid: "np.ndarray | PixelMask") -> np.ndarray:
    """``(M, 2)`` rows and columns of the labelled pixels that hold data, found a strip of rows at a time."""
    from .io.labels import row_strips

    found = [np.argwhere((labels[rows] > 0) & np.asarray(valid[rows], dtype=bool)) + [rows.start, 0]
             for rows in row_strips(*labels.shape)]
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def _patch_side(classifier: Any) -> Optional[int]:
    """The side of the patches ``classifier`` sees (None for a classifier of pixels alone)."""
    return getattr(classifier, "patch_size", None) or getattr(getattr(classifier, "config", None), "patch_size", None)


def _reach(classifier: Any) -> tuple[int, str]:
    """How far from a training pixel a validation pixel counts as near it, and what that distance is: as far as the
    classifier's view of a pixel reaches, its patch's half-side plus its smoothing's kernel radius (a validation pixel
    that close shares pixels with a training label's view), at least 1 (a pixel's neighbours are alike)."""
    from .classify.spatial import kernel_radius

    side = int(_patch_side(classifier) or 1)
    sigma = float(getattr(classifier, "smoothing", 0.0) or 0.0)
    half, smoothed = side // 2, kernel_radius(sigma)
    parts = ([f"its {side} × {side} patches' half-side, {half}"] if half else []) + (
        [f"its smoothing's reach at σ {sigma:g}, {smoothed}"] if smoothed else [])
    if not parts:
        return 1, "the classifier sees each pixel alone; its neighbours are alike"
    return half + smoothed, "how far the classifier's view of a pixel reaches: " + ", plus ".join(parts)


def own_training_pixels(meta: dict, scene: Scene) -> Optional[np.ndarray]:
    """``(M, 2)`` the pixels of ``scene`` a saved classifier learnt from: those of its training grid, when ``scene``
    is that grid (the same scene, a copy, or another date of the place: their labels were seen there either way) or,
    for a bundle that kept its grid's CRS, lies on the same pixel lattice in that CRS (a mosaic of tiles holding the
    training tile, a crop); None when none of them is on ``scene``."""
    grid, pixels = meta.get("training_grid"), meta.get("training_pixels")
    if not grid or pixels is None:
        return None
    tol = 1e-6 * max(1.0, abs(scene.transform[1]))
    if tuple(grid["shape"]) == tuple(scene.shape) and np.allclose(grid["transform"], tuple(scene.transform),
                                                                   rtol=0, atol=tol):
        return pixels
    if "crs_wkt" not in grid or not _same_crs(grid["crs_wkt"], scene.crs_wkt):  # older bundles: the same grid only
        return None
    x0, dx, rx, y0, ry, dy = (float(v) for v in grid["transform"])
    x1, dx1, rx1, y1, ry1, dy1 = (float(v) for v in scene.transform)
    if rx or ry or rx1 or ry1 or not np.isclose(dx, dx1, rtol=1e-6) or not np.isclose(dy, dy1, rtol=1e-6):
        return None  # rotated, or other pixel sizes: no pixel of one grid is a pixel of the other
    offset = np.array([(y0 - y1) / dy1, (x0 - x1) / dx1])  # the training grid's (0, 0) in the scene's rows, cols
    if not np.allclose(offset, np.round(offset), atol=1e-3):
        return None  # shifted by a part of a pixel
    moved = pixels + np.round(offset).astype(np.int64)
    inside = (moved >= 0).all(axis=1) & (moved[:, 0] < scene.shape[0]) & (moved[:, 1] < scene.shape[1])
    return moved[inside] if inside.any() else None


def _same_crs(a: Optional[str], b: Optional[str]) -> bool:
    """Whether two WKT strings name one CRS (both absent: a pixel grid without one, which is not a place)."""
    if not a or not b:
        return False
    if a == b:
        return True
    from rasterio.crs import CRS

    try:
        return CRS.from_wkt(a) == CRS.from_wkt(b)
    except Exception:  # noqa: BLE001 (a CRS rasterio cannot read: not known to be the same)
        return False


def _without_training_pixels(validation: ValidationPixels, training: Optional[np.ndarray], width: int,
                             path: str | os.PathLike) -> ValidationPixels:
    """``validation`` without the classifier's own training pixels (``(M, 2)`` rows and columns on a grid ``width``
    pixels wide; a bundle applied back to its own scene, or to one holding its pixels): scored, they would give the
    training labels' accuracy, which a learning run never scores."""
    if training is None:
        return validation
    learnt = np.isin(validation.flat, training[:, 0] * width + training[:, 1])
    if not learnt.any():
        return validation
    where = ("(the scene lies on the classifier's training grid: the same image, a copy, or another date of the "
             "place, whose fields there it learnt)")
    another_date = ("if this scene is another date of the place, its map can be assessed on those pixels too "
                    "(hypersynth assess, or Processing's Accuracy assessment)")
    if learnt.all():
        raise ValueError(f"every validation pixel of {Path(path).name} lies at the position of a pixel the classifier "
                         f"learnt from {where}: give validation labels beyond the training ones; {another_date}")
    log.warning("%d validation pixels of %s lie at the positions of pixels the classifier learnt from %s: they are "
                "left out of the accuracy, as a training run leaves them out; %s", int(learnt.sum()),
                Path(path).name, where, another_date)
    return replace(validation, flat=validation.flat[~learnt], truth=validation.truth[~learnt],
                   left_out=validation.left_out + int(learnt.sum()))


def save_classifier(folder: Path, fitted: FittedMethod, classes: list[ClassInfo], scene: Scene,
                    median_value: float, training: Optional[np.ndarray] = None,
                    high_value: float = float("nan")) -> None:
    """Save a trained classifier (any method's: forest, SVM, CNN, diffusion-feature SVM with its synthesis model,
    or their blend) as a safetensors bundle, reusable on other scenes of the sensor; ``median_value`` and
    ``high_value``: the scene's :func:`~.scale_check.typical_levels`, kept to tell a scene in other units;
    ``training``: ``(M, 2)`` rows and
    columns of the pixels it learnt from, kept with the scene's grid so that validation on that scene leaves them
    out (:func:`classify_with_model`)."""
    from .io.band_choice import told_bands_text
    from .ldm.bundle import save_bundle

    wl = scene.usable_wavelengths()
    meta = {"kind": CLASSIFIER_KIND, "method": fitted.method, "class_ids": [int(c) for c in fitted.class_ids],
            "classes": [{"id": c.id, "name": c.name, "color": list(c.color), "prompt": c.prompt} for c in classes],
            "bands": int(scene.good_bands.sum()), "wavelengths": None if wl is None else [float(w) for w in wl],
            "median_value": median_value, "scene_bands": scene.bands,
            "high_value": high_value if np.isfinite(high_value) else None,
            # the bands its run was told to leave out ("108-112,224"), left out again on a scene of as many bands
            "named_left_out": told_bands_text(scene) or None,
            "training_notes": list(fitted.notes)}  # how it trained, for the reports of the scenes it classifies
    parts = {"classifier": fitted.classifier.to_tensors()}
    if training is not None and len(training):
        meta["training_grid"] = {"shape": [int(n) for n in scene.shape],
                                 "transform": [float(v) for v in scene.transform], "crs_wkt": scene.crs_wkt}
        parts[TRAINING_PART] = {"pixels": np.ascontiguousarray(training, dtype=np.int32)}  # (M, 2) rows, cols
    save_bundle(folder, parts, fitted.classifier.config_dict(), meta)


def load_classifier(folder: str | os.PathLike, device: str = "auto") -> tuple[object, np.ndarray, list[ClassInfo], dict]:
    """Load a classifier bundle: (classifier, class ids, classes, metadata); the folder and the device are checked
    first."""
    check_model_folder(folder, "classifier")
    check_device(device)
    return _load_classifier(folder, device)


def _load_classifier(folder: str | os.PathLike, device: str) -> tuple[object, np.ndarray, list[ClassInfo], dict]:
    """:func:`load_classifier` once its folder and device are checked."""
    from .classify.baselines import FOREST_FORMAT, SVM_FORMAT, SpectralRandomForest, SpectralSVM
    from .ldm.bundle import CONFIG_FILE, BundleError, load_bundle

    # The config's format says which classifier the bundle holds; each rebuilds itself from tensors only. A forest
    # or an SVM is read as numpy arrays, without importing torch (the networks' modules need it).
    kinds: dict[str, Any] = {FOREST_FORMAT: SpectralRandomForest, SVM_FORMAT: SpectralSVM}
    try:  # a first look, to choose the arrays; load_bundle checks the whole bundle and says what is wrong with it
        numpy_only = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8")).get("format") in kinds
    except (OSError, ValueError, AttributeError):
        numpy_only = False
    if not numpy_only:
        from .classify.cnn import FORMAT as CNN_FORMAT
        from .classify.cnn import SpectralSpatialCNN
        from .classify.diffusion_features import FORMAT as DFEAT_FORMAT
        from .classify.diffusion_features import DiffusionFeatureClassifier
        from .classify.ensemble import FORMAT as ENSEMBLE_FORMAT
        from .classify.ensemble import OLD_FORMATS as OLD_ENSEMBLE_FORMATS
        from .classify.ensemble import SpectralSpatialEnsemble

        kinds.update({CNN_FORMAT: SpectralSpatialCNN, ENSEMBLE_FORMAT: SpectralSpatialEnsemble,
                      DFEAT_FORMAT: DiffusionFeatureClassifier,
                      **{old: SpectralSpatialEnsemble for old in OLD_ENSEMBLE_FORMATS}})
    bundle = load_bundle(folder, arrays="numpy" if numpy_only else "torch")
    if bundle.meta.get("kind") != CLASSIFIER_KIND:
        raise BundleError(f"{folder} is not a HyperSynth classifier bundle (it holds {bundle.meta.get('kind')!r}); "
                          f"pick the '{CLASSIFIER_FOLDER}' folder of an Augment & Classify output")
    config = dict(bundle.config)
    config["device"] = device
    if config.get("format") not in kinds:
        raise BundleError(f"{folder} holds a classifier of an unknown format {config.get('format')!r}; "
                          "it was saved by another HyperSynth version: update HyperSynth or retrain")
    clf = kinds[config["format"]].from_tensors(bundle.tensors_by_part["classifier"], config)
    if config["format"] in (FOREST_FORMAT, SVM_FORMAT):
        note_cpu_only(device, "this classifier (a random forest)" if config["format"] == FOREST_FORMAT
                      else "this classifier (an SVM)")
    classes = [ClassInfo(id=int(c["id"]), name=c["name"], color=tuple(c["color"]), prompt=c.get("prompt", ""))
               for c in bundle.meta["classes"]]
    meta = dict(bundle.meta)
    if TRAINING_PART in bundle.tensors_by_part:  # (M, 2) the pixels it learnt from, on meta["training_grid"]
        meta["training_pixels"] = np.asarray(bundle.tensors_by_part[TRAINING_PART]["pixels"], dtype=np.int64)
    return clf, np.asarray(bundle.meta["class_ids"]), classes, meta
