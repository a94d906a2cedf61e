"""Synthetic patches written for other tools: everything as NumPy's .npz, their centre spectra as a CSV spectral
library, or the patches laid side by side as a GeoTIFF (with its class raster) that QGIS shows with wavelengths."""

from __future__ import annotations

import csv
import logging
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..outputs import OutputExistsError, write_problem
from ..scene import MAX_CLASS_ID, ClassInfo, Scene
from .pixel_values import unit_type_for
from .write import atomic_output, write_label_raster, write_scene

log = logging.getLogger("hypersynth")
# What each file ending holds: (its short name, what is in it); the command line's and Processing's help say it so.
PATCH_FORMATS = {
    ".npz": ("NumPy archive", "patches, labels, per-pixel class masks, prompts, wavelengths, FWHM (and attention)"),
    ".csv": ("spectral library", "each patch's centre spectrum, one row a patch, one column a band"),
    ".tif": ("GeoTIFF mosaic", "the patches side by side with wavelengths and FWHM, and a class raster beside them"),
}
MOSAIC_GAP = 1  # no-data pixels between two patches of the mosaic, so no patch's neighbourhood runs into another's
MOSAIC_CLASSES = "_classes"  # the mosaic's class raster: <stem>_classes.tif beside it
UNKNOWN_VALUES = "pixel values, units unknown"  # the .npz's and the CSV's where the model's scene said none


def patch_format(path: str | Path) -> str:
    """The file ending that says what :func:`write_patches` writes (".npz", ".csv" or ".tif"; ".tiff" is ".tif").

    Raises:
        ValueError: another ending, with the ones that work.
    """
    suffix = Path(path).suffix.lower()
    suffix = ".tif" if suffix == ".tiff" else suffix
    if suffix not in PATCH_FORMATS:
        stem = Path(path).stem
        stem = "patches" if not stem or stem.startswith(".") else stem  # ".npz" alone: a hidden file's name
        named = [f"{end} ({name})" for end, (name, _) in PATCH_FORMATS.items()]
        raise ValueError(f"synthetic patches are written as {', '.join(named[:-1])} or {named[-1]}; "
                         f"got {Path(path).name!r} (e.g. {stem}.npz)")
    return suffix


def companion_files(path: str | Path) -> list[Path]:
    """The files written beside ``path``: a mosaic's class raster, then its QGIS style; an existing one of them would
    be replaced too, so they are checked with the file itself before any work."""
    path = Path(path)
    if patch_format(path) != ".tif":
        return []
    classes = path.with_name(f"{path.stem}{MOSAIC_CLASSES}.tif")
    return [classes, classes.with_suffix(".qml")]


def check_patches_format(path: str | Path, attention: bool = False) -> str:
    """:func:`patch_format` of ``path``, refusing a format other than .npz where ``attention`` maps are asked for
    (only the .npz keeps them).

    Raises:
        ValueError: what to name the file instead.
    """
    path = Path(path)
    kind = patch_format(path)
    if kind != ".npz" and attention:
        raise ValueError(f"cross-attention maps are kept in a .npz file only; got {path.name!r} "
                         f"(e.g. {path.stem}.npz), or leave the attention maps out")
    return kind


def check_patches_file(out_path: str | os.PathLike, overwrite: bool, attention: bool = False) -> Path:
    """Refuse, before the model loads, a file :func:`~hypersynth.core.pipeline.synthesize_to_file` cannot write:
    not a .npz, .csv or .tif name (a .npz where ``attention`` maps are asked for), a folder, an existing file (or the
    mosaic's class raster beside it) without ``overwrite``, or a place that cannot be written to; returns the path.

    Raises:
        ValueError: the name or place is wrong (OutputExistsError for an existing file).
    """
    out = Path(out_path)
    if out.is_dir():
        raise ValueError(f"{out} is a folder; give a .npz, .csv or .tif file name in it (e.g. {out / 'patches.npz'})")
    check_patches_format(out, attention)
    _refuse_existing(out, overwrite)
    problem = write_problem(out)
    if problem:
        raise ValueError(f"cannot write the synthetic patches to {out}: {problem}; choose a place you can write to")
    return out


def _refuse_existing(path: Path, overwrite: bool) -> None:
    """Refuse, unless ``overwrite``, ``path`` or a file written beside it (:func:`companion_files`) that exists."""
    for existing in [path, *companion_files(path)]:
        if existing.exists() and not overwrite:
            beside = f" (written beside {path.name})" if existing != path else ""
            raise OutputExistsError(f"{existing} already exists{beside}; choose another name or allow overwriting "
                                    "(overwrite=True) to replace it")


def write_patches(path: str | Path, patches: np.ndarray, labels: np.ndarray, masks: np.ndarray,
                  prompts: Sequence[str], *, wavelengths: Optional[np.ndarray], classes: Sequence[ClassInfo],
                  attention: Optional[np.ndarray] = None, overwrite: bool = False, values: str = "",
                  fwhm: Optional[np.ndarray] = None, tokens: Optional[Sequence[Sequence[str]]] = None,
                  started_from: Optional[tuple[float, np.ndarray]] = None) -> list[Path]:
    """Write synthetic patches in the format ``path``'s ending names (:data:`PATCH_FORMATS`), whole or not at all
    (:func:`~.write.atomic_output`); returns the files written.

    Args:
        path: the .npz, .csv or .tif to write.
        patches: ``(N, B, p, p)`` float32, the scene's units (as the engine reads it).
        labels: ``(N,)`` class id each patch was sampled for (its centre pixel's).
        masks: ``(N, p, p)`` class id of every pixel of each patch.
        prompts: ``(N,)`` the prompt each patch was sampled from.
        wavelengths: ``(B,)`` nm, or None when the model's scene had none (bands are then numbered).
        classes: the model's classes: the CSV names each patch's class by them, the mosaic's class raster is
            coloured and named by them (an id they lack, a free prompt's label, by its prompt, in grey).
        attention: ``(N, layers, T, L)`` cross-attention maps, kept in the .npz only, with what its axes are.
        tokens: each patch's prompt as the text encoder split it (the L axis of ``attention``: start and end included,
            shorter prompts padded), kept with the maps.
        overwrite: replace existing files (the mosaic's class raster too).
        values: what the values are ("Reflectance", "Radiance (W/(m2 sr um))"; the synthesis model's
            ``values``): the mosaic's bands' unit type, a column of the CSV, an item of the .npz; "" unknown.
        fwhm: ``(B,)`` each band's full width at half maximum (nm; the synthesis model's ``fwhm``), in the .npz and
            the mosaic's band metadata (GDAL and ENVI, as a scene's); None when the model's scene did not say. A
            spectral library's CSV has one column a band and a row a patch, so it keeps the wavelengths alone.
        started_from: ``(anchor strength, (N,) anchor index)`` where the patches started from labelled patches kept
            with the model: kept in the .npz as ``anchor_strength`` and ``anchor_index`` (each patch's row among its
            class's kept patches, ``SynthesisModel.examples_of``; -1 from noise); None: not said.

    Raises:
        OutputExistsError: a file exists and ``overwrite`` is False.
        ValueError: no patches, or a label id a class raster cannot hold.
    """
    path = Path(path)
    kind = patch_format(path)
    if len(patches) == 0:
        raise ValueError(f"no synthetic patches to write to {path.name}")
    check_label(labels)
    bands = patches.shape[1]
    for name, per_band in (("wavelengths", wavelengths), ("fwhm", fwhm)):
        if per_band is not None and np.shape(per_band) != (bands,):
            raise ValueError(f"{name} must hold one value per band of the patches ({bands}), got shape "
                             f"{np.shape(per_band)}")
    _refuse_existing(path, overwrite)
    with atomic_output(path, overwrite) as tmp:
        if kind == ".npz":
            _write_npz(tmp, patches, labels, masks, prompts, wavelengths, fwhm, attention, values, tokens,
                       started_from)
        elif kind == ".csv":
            _write_spectral_library(tmp, patches, labels, prompts, wavelengths, _with_labels(classes, labels, prompts),
                                    values)
        else:
            _write_mosaic(tmp, patches, masks, wavelengths, fwhm, _with_labels(classes, labels, prompts), values)
        written = [path] + [path.with_name(p.name) for p in sorted(tmp.parent.iterdir()) if p != tmp]
    if kind == ".tif":  # an earlier mosaic's class raster this one does not replace (label 0) would pass for its own
        classes_raster = companion_files(path)[0]
        for stale in (*companion_files(path), Path(f"{classes_raster}.aux.xml")):
            if stale not in written:
                stale.unlink(missing_ok=True)
    return written


def check_label(labels: "np.ndarray | int") -> None:
    """Refuse label ids a class raster cannot hold (0, no class, to :data:`~..scene.MAX_CLASS_ID`).

    Raises:
        ValueError: the id and the range.
    """
    ids = np.atleast_1d(np.asarray(labels))
    wrong = ids[(ids < 0) | (ids > MAX_CLASS_ID)]
    if wrong.size:
        raise ValueError(f"label {int(wrong[0])} is out of range: give the patches a label from 1 to {MAX_CLASS_ID} "
                         "(0: no class)")


def _write_npz(tmp: Path, patches: np.ndarray, labels: np.ndarray, masks: np.ndarray, prompts: Sequence[str],
               wavelengths: Optional[np.ndarray], fwhm: Optional[np.ndarray], attention: Optional[np.ndarray],
               values: str, tokens: Optional[Sequence[Sequence[str]]] = None,
               started_from: Optional[tuple[float, np.ndarray]] = None) -> None:
    """Everything in one compressed NumPy archive: what :func:`write_patches` was given, under the same names; the
    attention maps with ``attention_axes`` saying what their axes are and, given, each patch's ``tokens`` (padded
    with "") and ``n_tokens``, as a run's ``attention.npz`` keeps them."""
    arrays = {"patches": patches, "labels": labels, "masks": masks, "prompts": np.array(prompts, dtype="U200"),
              "values": np.array(values or UNKNOWN_VALUES)}
    if started_from is not None:
        arrays["anchor_strength"] = np.array(float(started_from[0]), dtype=np.float64)
        arrays["anchor_index"] = np.asarray(started_from[1], dtype=np.int64)
    if wavelengths is not None:
        arrays["wavelengths"] = np.asarray(wavelengths, dtype=np.float32)
    if fwhm is not None:
        arrays["fwhm"] = np.asarray(fwhm, dtype=np.float32)
    if attention is not None:
        arrays["attention"] = attention
        side = math.isqrt(np.shape(attention)[2])
        arrays["attention_axes"] = np.array(f"patch, layer (mean over heads and sampling steps), latent position "
                                            f"(row by row of the {side} × {side} latent grid), token of the prompt "
                                            "(tokens; past n_tokens: padding)")
    if attention is not None and tokens is not None:
        from ..tokens import token_table

        arrays["tokens"], arrays["n_tokens"] = token_table(tokens)
    write_npz(tmp, arrays)


def write_npz(path: str | Path, arrays: dict[str, Any]) -> None:
    """``np.savez_compressed(path, **arrays)``'s file, written in a with block: numpy's own leaves its archive open
    when stopped (Ctrl+C, SIGTERM), and closing it later, on a file already closed, raised on the terminal."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def _with_labels(classes: Sequence[ClassInfo], labels: np.ndarray, prompts: Sequence[str]) -> list[ClassInfo]:
    """``classes`` and a grey class named by its prompt for each label id they lack (a free prompt's; 0, no class
    in a class raster, is left out)."""
    known = {c.id for c in classes}
    extra = {int(label): prompt for label, prompt in zip(labels, prompts) if int(label) not in known and label > 0}
    return [*classes, *(ClassInfo(i, prompt) for i, prompt in sorted(extra.items()))]


def _write_spectral_library(tmp: Path, patches: np.ndarray, labels: np.ndarray, prompts: Sequence[str],
                            wavelengths: Optional[np.ndarray], classes: Sequence[ClassInfo], values: str) -> None:
    """One row a patch: its number, class id and name, prompt, what its values are, and its centre spectrum; band
    columns named by wavelength ("452.347 nm") or number ("band 7"), as spreadsheet, pandas and spectral-library
    tools read a CSV."""
    from ..classify.base import centre_spectra

    spectra = centre_spectra(patches)  # (N, B)
    names = {c.id: c.name for c in classes}
    bands = [f"{w:.6g} nm" for w in wavelengths] if wavelengths is not None else \
        [f"band {b + 1}" for b in range(spectra.shape[1])]
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["patch", "class_id", "class_name", "prompt", "values", *bands])
        for i, spectrum in enumerate(spectra):
            label = int(labels[i])
            writer.writerow([i + 1, label, names.get(label, ""), prompts[i], values or UNKNOWN_VALUES,
                             *(f"{v:.6g}" for v in spectrum)])


def _write_mosaic(tmp: Path, patches: np.ndarray, masks: np.ndarray, wavelengths: Optional[np.ndarray],
                  fwhm: Optional[np.ndarray], classes: Sequence[ClassInfo], values: str) -> None:
    """The patches in rows of about √N, :data:`MOSAIC_GAP` no-data pixels apart, on a north-up grid of 1-unit
    pixels without CRS (GIS programs place it; a pixel grid without a geotransform makes QGIS complain); and beside
    it the class of each pixel (0 in the gaps and where a patch's pixel has no class), styled in the class colours."""
    n, bands, p, _ = patches.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    step = p + MOSAIC_GAP
    height, width = rows * step - MOSAIC_GAP, cols * step - MOSAIC_GAP
    cube = np.zeros((bands, height, width), dtype=np.float32)
    valid = np.zeros((height, width), dtype=bool)
    class_ids = np.zeros((height, width), dtype=np.int32)
    for i in range(n):
        r, c = divmod(i, cols)
        window = np.s_[r * step:r * step + p, c * step:c * step + p]
        cube[(slice(None), *window)] = patches[i]
        valid[window] = True
        class_ids[window] = masks[i]
    grid = (0.0, 1.0, 0.0, float(height), 0.0, -1.0)  # north-up, the lower-left corner at (0, 0)
    mosaic = Scene(cube, valid, wavelengths=None if wavelengths is None else np.asarray(wavelengths, dtype=float),
                   fwhm=None if fwhm is None else np.asarray(fwhm, dtype=float), transform=grid, name=tmp.stem)
    # bands named by wavelength: a model's bands are the scene's usable ones, so "B7" would not be the scene's 7th
    labels = None if wavelengths is None else [f"{w:.1f} nm" for w in np.asarray(wavelengths, dtype=float)]
    write_scene(mosaic, tmp, overwrite=True, band_labels=labels, unit_type=unit_type_for(values))
    present = [c for c in classes if c.id in set(np.unique(class_ids).tolist())]  # its legend: these alone
    if not present:  # label 0 (a free prompt's default): no class to write
        log.warning("%s: the patches' label is 0, which a class raster leaves unlabelled, so no %s%s.tif is "
                    "written; give them a label id of 1 or more to have it", tmp.name, tmp.stem, MOSAIC_CLASSES)
        return
    class_ids[~np.isin(class_ids, [c.id for c in present])] = 0  # label 0: unlabelled
    write_label_raster(tmp.with_name(f"{tmp.stem}{MOSAIC_CLASSES}.tif"), class_ids, present,
                       transform=grid, crs_wkt=None, overwrite=True)
