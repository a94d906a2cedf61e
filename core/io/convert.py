"""Import a scene or sensor product as one GeoTIFF that QGIS, EnMAP-Box and HyperSynth read with its wavelengths."""

from __future__ import annotations

import itertools
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Collection, Optional, Sequence

from ..band_screen import leave_out_suggestion, screen_scene
from ..outputs import OutputExistsError, write_problem
from ..progress import NULL_REPORTER, Reporter
from .band_choice import describe_bands, newly_left_out, parse_bands_to_leave_out
from .products import ProductFacts, Shape, product_facts
from .read import dataset_grid, gdal_subdataset_file, opened_quietly, read_scene, source_name
from .write import write_scene

log = logging.getLogger("hypersynth")

GEOTIFF_SUFFIXES = (".tif", ".tiff")
PRODUCT_TAG = "HYPERSYNTH_PRODUCT"  # GDAL metadata item of an imported product's GeoTIFF: the product's name
IMPORTED_FROM_TAG = "HYPERSYNTH_IMPORTED_FROM"  # GDAL metadata item: the file name of an imported scene (not a product)
LEFT_OUT_TAG = "HYPERSYNTH_LEFT_OUT"  # GDAL metadata item: every band flagged bad, of an import that left out some
READ_SHARE = 0.4  # of the progress bar: reading (and for a product converting) the scene; the rest is writing


@dataclass(frozen=True)
class ImportDestination:
    """Where the dock puts the GeoTIFF of a product it imports."""

    path: Optional[Path]  # beside the product; None when its folder cannot be written (ask the analyst where)
    earlier: bool  # ``path`` holds an earlier import of this product (same bands and size): open it as it is


def import_scene(source: str | Path, out: str | Path, *, overwrite: bool = False, quality_masks: bool = True,
                 leave_out_bands: Optional[str] = None, facts: Optional[ProductFacts] = None,
                 reporter: Reporter = NULL_REPORTER) -> Path:
    """Read any scene :func:`.read.read_scene` reads and write it as a float32 GeoTIFF with :func:`.write.write_scene`.

    The GeoTIFF carries each band's wavelength, FWHM and bad-band flag (GDAL and ENVI metadata), no-data (-9999) and
    the georeference, so QGIS shows it as it is and its composites and spectra find the wavelengths. This is how a
    sensor product that QGIS cannot show as downloaded (a PRISMA .he5, an EMIT .nc needing its GLT, an EnMAP TIF whose
    wavelengths are in its XML, a product still in its ZIP) becomes a layer to label on. A product's GeoTIFF also
    records the product's name (metadata item ``HYPERSYNTH_PRODUCT``), so opening the product again finds it.

    Args:
        source: the scene as :func:`.read.read_scene` takes it: a product's file, a raster, a subdataset name.
        out: the ``.tif`` to write; written atomically (nothing is left of a failed or cancelled import).
        overwrite: replace an existing ``out``; never the file the scene is read from.
        quality_masks: write as no data the pixels a product's own quality masks flag as cloud, cloud shadow or
            cirrus (:mod:`.quality_masks`); False keeps every pixel.
        leave_out_bands: bands to flag bad in the GeoTIFF (:data:`.band_choice.LEAVE_OUT_FORMAT`: numbers from 1,
            ranges, wavelength ranges), e.g. the water-vapour windows of a cube whose file flags none. They are
            written as they are, with ``bbl`` 0, so QGIS still shows them and HyperSynth leaves them out. A pixel
            with no data in one of them alone stays no data (the scene is read with them usable).
        facts: ``source``'s :func:`.products.product_facts` when the caller has them already (None: found here).
        reporter: stages "reading …" and "writing …"; cancel is checked between them, and while a product is
            unpacked from its archive (stage "reading …: unpacking").

    Raises:
        OutputExistsError: ``out`` exists and ``overwrite`` is False (checked before anything is read).
        SceneReadError: the scene cannot be read (the message says why).
        ValueError: ``out`` is not named .tif, or is the file the scene is read from.
        BandChoiceError: ``leave_out_bands`` is not of the form above, names a band the scene lacks, only bands it
            flags bad already, or leaves no usable band (the form is checked before the scene is read).
        Cancelled: the reporter asked to stop.
    """
    from .pixel_values import engine_value_title, unit_type_for  # it names imported products by PRODUCT_TAG

    out = Path(out)
    if out.suffix.lower() not in GEOTIFF_SUFFIXES:
        raise ValueError(f"the imported scene is written as GeoTIFF; name it {out.stem or 'scene'}.tif (got "
                         f"{out.name})")
    if leave_out_bands is not None:
        parse_bands_to_leave_out(leave_out_bands)  # its form, before the scene is read
    facts = facts or product_facts(source)
    _refuse_own_input(source, facts, out)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} already exists; choose another name or allow overwriting (overwrite=True) to "
                                f"replace it")
    problem = write_problem(out)  # before a product of gigabytes is read
    if problem:
        raise ValueError(f"{out.name} cannot be written: {problem}; choose a folder you can write to")
    what = f"the {facts.kind} product {facts.name}" if facts is not None else source_name(source)
    reporter.check()
    reporter.progress(0.0, f"reading {what}")
    scene = read_scene(source, quality_masks=quality_masks, reporter=reporter.sub(0.0, READ_SHARE, f"reading {what}: "))
    tags = {PRODUCT_TAG: facts.name} if facts is not None else {IMPORTED_FROM_TAG: source_name_of_file(source)}
    done = f"written {out.name}"
    if leave_out_bands is not None:
        left_out = newly_left_out(leave_out_bands, scene.good_bands, scene.wavelengths)
        scene = replace(scene, good_bands=scene.good_bands & ~left_out.new)
        tags[LEFT_OUT_TAG] = describe_bands(~scene.good_bands, scene.wavelengths)  # all it flags, earlier ones too
        done += f"; {left_out.describe(scene.wavelengths)} flagged bad"
    reporter.check()
    reporter.progress(READ_SHARE, f"writing {out.name}")
    write_scene(scene, out, overwrite=overwrite, tags=tags,
                unit_type=unit_type_for(engine_value_title(source)))  # a copy of a GeoTIFF of reflectance says so
    suggestion = leave_out_suggestion(screen_scene(scene), scene.wavelengths)  # the bands it still has as usable
    if suggestion:
        log.warning("%s", suggestion[0].upper() + suggestion[1:])
    reporter.progress(1.0, done)
    return out


def bands_flagged_at_import(path: str | Path) -> str:
    """The bands the GeoTIFF ``path`` flags bad, where an import left bands out at the analyst's word ("bands 108–112
    (…)", those the scene flagged already too), as written in its metadata (:data:`LEFT_OUT_TAG`); "" when it
    left out none."""
    with opened_quietly(path) as ds:
        return ds.tags().get(LEFT_OUT_TAG, "")


def left_out_name(name: str, path: str | Path) -> str:
    """A layer's name for the GeoTIFF ``path`` an import left bands out of: ``name`` and how many of its bands are
    usable ("salinasA (204 of 224 bands)"), so that each copy is told from the scene and from the others; ``name``
    may be a copy's (its count, or the file stem :func:`flagged_copy_destination` gives, goes)."""
    from .band_metadata import read_band_facts

    facts = read_band_facts(path)
    if facts is None:
        return name
    base = re.sub(r"(_bands_left_out(_\d+)?| \(\d+ of \d+ bands\))$", "", name)  # a copy's copy: its own count
    return f"{base} ({int(facts.flagged_good.sum())} of {facts.flagged_good.size} bands)"


def flagged_copy_destination(source: str | Path, taken: Collection[Path] = ()) -> Optional[Path]:
    """Where the dock writes a scene's copy with more bands flagged bad (:func:`import_scene` with
    ``leave_out_bands``): the first free ``<stem>_bands_left_out.tif``, ``…_1.tif``… beside the scene's file (of a
    copy's copy too: its stem without the ending), none of ``taken`` (copies being written now); None when its folder
    cannot be written (ask the analyst where)."""
    file = Path(gdal_subdataset_file(source) or source)
    stem = re.sub(r"_bands_left_out(_\d+)?$", "", file.stem) + "_bands_left_out"  # a copy's copy: the next number
    return destination_beside(file, stem, lambda tif: False, taken).path  # never an earlier copy: a new one


def import_name(source: str | Path, facts: Optional[ProductFacts] = None) -> str:
    """What a scene imported from ``source`` is called: a product's name, else the file's stem and the subdataset's
    name ("scene radiance", as the scene's own name); ``facts``: the product's, when the caller has them already."""
    facts = facts or product_facts(source)
    return facts.name if facts is not None else source_name(source)


def import_destination(source: str | Path, facts: Optional[ProductFacts] = None) -> ImportDestination:
    """Where to import the product ``source`` so that opening it again finds the same GeoTIFF: ``<name>.tif`` beside
    the product, or the first of ``<name>_1.tif``, ``<name>_2.tif``… that is free or an earlier import of it (a
    float32 GeoTIFF with its number of bands and size, or one that names the product, :data:`PRODUCT_TAG`); no path
    when the product's folder cannot be written; ``facts``: the product's, when the caller has them already.

    Raises:
        ValueError: ``source`` is no sensor product (:func:`.products.product_facts`).
    """
    facts = facts or product_facts(source)
    if facts is None:
        raise ValueError(f"{source} is not an EnMAP, EMIT or PRISMA product; open it as a raster")
    return destination_beside(facts.files[0], facts.name,  # an input named so is passed over, as any other file
                              lambda tif: not _is_input(tif, facts.files) and _is_earlier_import(tif, facts))


def source_name_of_file(source: str | Path) -> str:
    """The file name an import of ``source`` records (:data:`IMPORTED_FROM_TAG`): a subdataset's container's."""
    return Path(gdal_subdataset_file(source) or source).name


def matlab_import_destination(path: str | Path, taken: Collection[Path] = ()) -> ImportDestination:
    """Where the dock puts the GeoTIFF of a MATLAB scene it imports (QGIS cannot read a .mat): ``<stem>.tif`` beside
    it, or the first of ``<stem>_1.tif``… that is free or an earlier import of it (a float32 GeoTIFF recording the
    .mat's name, :data:`IMPORTED_FROM_TAG`, written after the .mat last changed); no path when its folder cannot be
    written; ``taken``: files being written now, passed over."""
    path = Path(path)
    return destination_beside(path, path.stem, lambda tif: is_import_of(tif, path, float32=True), taken)


def destination_beside(path: Path, stem: str, is_earlier: Callable[[Path], bool], taken: Collection[Path] = (),
                 beside: Sequence[str] = ()) -> ImportDestination:
    """The first of ``<stem>.tif``, ``<stem>_1.tif``… beside ``path`` that ``is_earlier`` (an earlier import to open
    again) or that is free with its ``beside`` files, and not ``taken``; no path when the folder cannot be written."""
    if write_problem(path.parent):
        return ImportDestination(None, False)
    for n in itertools.count():
        tif = path.with_name(f"{stem}_{n}.tif" if n else f"{stem}.tif")
        if tif in taken:
            continue
        if is_earlier(tif):
            return ImportDestination(tif, True)
        files = [tif, *(tif.with_name(tif.stem + end) for end in beside)]
        if not any(f.exists() or f.is_symlink() for f in files):
            return ImportDestination(tif, False)
    raise AssertionError("itertools.count() never ends")


def is_import_of(tif: Path, source: Path, float32: bool) -> bool:
    """Whether ``tif`` is a GeoTIFF an import wrote of ``source`` (:data:`IMPORTED_FROM_TAG`; a scene's float32),
    after ``source`` last changed."""
    facts = _import_facts(tif, float32)
    return (facts is not None and facts[1].get(IMPORTED_FROM_TAG) == source.name
            and tif.stat().st_mtime >= source.stat().st_mtime)


def scene_grid(source: str | Path) -> tuple[tuple[float, ...], Optional[str]]:
    """``(GDAL geotransform, CRS as WKT or None)`` of the raster ``source``, as :func:`.read.read_scene` gives a
    scene's (:func:`.read.dataset_grid`)."""
    with opened_quietly(source) as ds:
        return dataset_grid(ds)


def _import_facts(path: Path, float32: bool = True) -> Optional[tuple[Shape, dict[str, str]]]:
    """``((bands, rows, cols), dataset tags)`` of a GeoTIFF as :func:`import_scene` writes (``float32``) or a label
    import (one band); None for any other file."""
    from rasterio.errors import RasterioError

    if not path.is_file():
        return None
    try:
        with opened_quietly(path) as ds:
            kind = set(ds.dtypes) == {"float32"} if float32 else ds.count == 1
            return ((ds.count, ds.height, ds.width), ds.tags()) if ds.driver == "GTiff" and kind else None
    except (RasterioError, OSError):  # RasterioIOError is an OSError
        return None


def _refuse_own_input(source: str | Path, facts: Optional[ProductFacts], out: Path) -> None:
    """Refuse writing the GeoTIFF over a file the scene is read from, even with ``overwrite``."""
    inputs = facts.files if facts is not None else ((gdal_subdataset_file(source) or Path(source)),)
    if _is_input(out, inputs):
        raise ValueError(f"{out} is the file the scene is read from; choose another name for the imported GeoTIFF")


def _is_input(path: Path, inputs: tuple[Path, ...]) -> bool:
    """Whether ``path`` is one of ``inputs`` (the same file, whatever the spelling, link or letter case)."""
    if not path.exists():
        return False
    return any(f.exists() and os.path.samefile(path, f) for f in inputs)


def _is_earlier_import(path: Path, facts: ProductFacts) -> bool:
    """Whether ``path`` is a float32 GeoTIFF as :func:`import_scene` writes of the product ``facts`` tells of: of its
    shape when the product's layout tells it; else naming the product (a product in a ZIP, whose HDF5 layout would
    have to be unpacked to be read)."""
    found = _import_facts(path)
    if found is None:
        return False
    shape, tags = found
    return shape == facts.shape if facts.shape is not None else tags.get(PRODUCT_TAG) == facts.name
