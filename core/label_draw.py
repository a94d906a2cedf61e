"""Training labels drawn from reference labels: the benchmark's few-label draw, written as files a run takes."""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .evaluation.protocol import SPLIT_KINDS, Split, few_label_split, share_split
from .io.classes import class_file_beside
from .outputs import OutputExistsError, write_problem
from .progress import NULL_REPORTER, Reporter
from .scene import ClassInfo, Scene

DEFAULT_PATCH_SIDE = 9  # the fast preset's patch side (a test holds it to the preset's): bench's disjoint guard band
POINT_FORMATS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}  # the training points' files
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj")  # an overwritten Shapefile's parts all go
POINT_LAYER = "labels"  # the layer's name inside the file, as the dock names a label layer's
CLASS_ID_FIELD = "class_id"  # the class id, the field every reader of labels here looks for first
CLASS_NAME_FIELD = "class"  # the class name, for people reading the attribute table
VALIDATION_TAG = "HYPERSYNTH_LEFT_OVER_BY_DRAW"  # a validation raster's metadata: the draw it is what was left of
MAX_REFERENCE_CLASSES = 255  # more class ids than this is an image band or a count, not a reference of classes


class LabelDrawError(ValueError):
    """The draw cannot be made or written as asked; the message says what to change."""


@dataclass
class LabelDraw:
    """N training labels per class drawn from reference labels, and the reference pixels left to validate on."""

    split: Split  # the draw: its training and validation masks on the scene's grid
    classes: list[ClassInfo]  # the reference's classes, by id
    reference_pixels: int  # labelled reference pixels on the scene's valid pixels
    points: Optional[Path] = None  # the training points written, once written
    class_file: Optional[Path] = None  # beside the points: the classes' names, colours and prompts, for --prompts
    validation: Optional[Path] = None  # the validation label raster written, if asked for
    warnings: list[str] = field(default_factory=list)  # classes with fewer than N pixels, or none left to validate
    renumbered: dict[int, int] = field(default_factory=dict)  # a reference of names: its own id -> the analyst's id

    def summary(self) -> str:
        """One line for the analyst: what was drawn from what, and what is left to validate on."""
        train, test = int(self.split.train_mask.sum()), int(self.split.test_mask.sum())
        side = self.split.patch_size
        kind = "" if self.split.kind == "random" else (
            f" (none within {side // 2} pixel{'s' if side // 2 != 1 else ''} of them, the half-side of a {side}×{side} "
            "patch: disjoint)" if self.split.kind == "disjoint" else
            f" (none whose {side}×{side} patch shares a pixel with theirs: no-overlap)")
        return (f"{train} training labels ({amount_text(self.split)}, seed {self.split.seed}) drawn from "
                f"{self.reference_pixels} reference pixels of {len(self.classes)} classes; {test} left to "
                f"validate on{kind}")


def amount_text(split: Split) -> str:
    """How much of each class the draw took: "5 per class" or "10 % of each class"."""
    if split.share is None:
        return f"{split.labels_per_class} per class"
    return f"{share_percent(split.share)} % of each class"


def share_percent(share: float) -> str:
    """A share (0.1) as the percent the analyst gave: "10", "2.5"."""
    return f"{share * 100:g}"


def point_files(points: str | os.PathLike) -> list[Path]:
    """The files the training points ``points`` are: a Shapefile's parts, or the one file."""
    points = Path(points)
    return [points.with_suffix(part) for part in SHAPEFILE_PARTS] if points.suffix.lower() == ".shp" else [points]


def draw_labels(reference: np.ndarray, valid: np.ndarray, classes: list[ClassInfo], *, labels_per_class: int = 5,
                seed: int, split: str = "random", patch_side: int = DEFAULT_PATCH_SIDE,
                share: Optional[float] = None) -> LabelDraw:
    """Draw ``labels_per_class`` training pixels per class from ``reference`` (``(H, W)`` class ids, 0 unlabelled)
    on the scene's ``valid`` pixels, exactly as ``bench`` draws them for the same seed, so a benchmark row can be
    run again by hand. ``split="disjoint"`` leaves out of the validation pixels every pixel within ``patch_side // 2``
    of a training pixel, as the benchmark's disjoint split does; ``"no-overlap"`` every pixel within twice that, so no
    validation pixel's patch shares a pixel with a training label's (:func:`~.evaluation.protocol.guard_radius`).

    ``share`` (0..1) draws that share of each class's pixels instead (0.1: 10 %, rounded, at least one), the protocol
    of the papers that train on 10 % of Indian Pines or 5 % of Pavia University, to compare with their figures."""
    if split not in SPLIT_KINDS:
        raise LabelDrawError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_KINDS)}")
    if share is None and int(labels_per_class) < 1:
        raise LabelDrawError(f"labels per class must be at least 1; got {labels_per_class}")
    if share is not None and not 0.0 < float(share) < 1.0:
        raise LabelDrawError(f"the share of each class must lie between 0 and 1 (0.1 or 10 %); got {share}")
    if int(patch_side) < 1:
        raise LabelDrawError(f"the patch side must be at least 1 pixel; got {patch_side}")
    valid = np.asarray(valid, dtype=bool)
    labels = np.where(valid, reference, 0)  # the benchmark masks the reference by the scene's valid pixels too
    if not (labels > 0).any():
        raise LabelDrawError("the reference labels no valid pixel of the scene; check that they cover it")
    present = [int(i) for i in np.unique(labels) if i > 0]
    if len(present) > MAX_REFERENCE_CLASSES:
        raise LabelDrawError(f"the reference holds {len(present)} different class ids (from {present[0]} to "
                             f"{present[-1]}): that is no map of classes but an image band or a count, it seems; "
                             f"choose the reference labels (at most {MAX_REFERENCE_CLASSES} classes)")
    if share is None:
        drawn = few_label_split(labels, int(labels_per_class), int(seed), kind=split, patch_size=int(patch_side),
                                valid=valid)
    else:
        drawn = share_split(labels, float(share), int(seed), kind=split, patch_size=int(patch_side), valid=valid)
    kept = [c for c in classes if c.id in set(present)]
    return LabelDraw(drawn, kept, int((labels > 0).sum()), warnings=_named_warnings(drawn, kept))


def _named_warnings(drawn: Split, classes: list[ClassInfo]) -> list[str]:
    """What the analyst should know of each class the draw could not serve as asked, by the class's name: too few
    reference pixels for N training labels and one to validate on, or none left to validate on."""
    warnings = []
    for class_id, (train, test) in drawn.counts().items():
        name = next((f"'{c.name}' (id {c.id})" for c in classes if c.id == class_id), f"class {class_id}")
        held = int((drawn.labels == class_id).sum())  # the test count of a disjoint split is after its guard band
        asked = drawn.labels_per_class if drawn.share is None else max(1, int(round(drawn.share * held)))
        if train < asked:
            warnings.append(f"{name} has only {held} reference pixel{'s' if held != 1 else ''}: "
                            f"{train} drawn for training, {test} left to validate on")
        elif test == 0 and drawn.kind != "random":
            warnings.append(f"{name} has no pixel left to validate on outside the {drawn.patch_size}×"
                            f"{drawn.patch_size} patches around its training labels" if drawn.kind == "disjoint" else
                            f"{name} has no pixel left to validate on whose {drawn.patch_size}×{drawn.patch_size} "
                            "patch shares no pixel with a training label's")
        elif test == 0:
            warnings.append(f"{name} has no pixel left to validate on")
    return warnings


def check_draw_outputs(points: str | os.PathLike, validation: Optional[str | os.PathLike], *, georeferenced: bool,
                       inputs: tuple[Optional[str | os.PathLike], ...] = (), overwrite: bool = False,
                       what: str = "training labels", beside: Optional[Path] = None) -> None:
    """Refuse, before anything is read or written, outputs the draw cannot write: a format other than GeoPackage,
    Shapefile or FlatGeobuf for the points (a GeoPackage only for a georeferenced scene: it always records a CRS,
    which a pixel grid has not), a validation raster that is no GeoTIFF, an output that is one of the ``inputs`` or
    another output, and an existing file unless ``overwrite``; the class file beside the points
    (:func:`class_file_beside`), or ``beside`` when given, is an output too. ``what``: the points, in the messages."""
    points = Path(points)
    suffix = points.suffix.lower()
    own = what == "training labels"  # the draw's own wording, which its tests and users know
    if suffix not in POINT_FORMATS:
        raise LabelDrawError(f"{points.name}: {what} are written as a GeoPackage (.gpkg), a Shapefile (.shp) "
                             f"or a FlatGeobuf (.fgb); give the file one of those endings")
    if suffix == ".gpkg" and not georeferenced:
        raise LabelDrawError(f"{points.name}: the {'scene' if own else 'map'} has no georeference, and a GeoPackage "
                             f"always records a CRS, which the {'scene' if own else 'map'}'s pixel grid has not; write "
                             f"the {'labels' if own else what} as {points.stem}.shp or {points.stem}.fgb")
    outputs = [points, beside or class_file_beside(points)]
    if validation is not None:
        validation = Path(validation)
        if validation.suffix.lower() not in (".tif", ".tiff"):
            raise LabelDrawError(f"{validation.name}: the validation labels are written as a GeoTIFF; give it the "
                                 "ending .tif")
        outputs.append(validation)
    resolved = [p.resolve() for p in outputs]  # three endings: never one file twice
    taken = {Path(i).resolve(): i for i in inputs if i is not None and not str(i).startswith("/vsi")}
    for path, full in zip(outputs, resolved):
        if full in taken:
            raise LabelDrawError(f"{path} is one of the inputs; write the {'drawn labels' if own else what} to another "
                                 "file")
        if not path.parent.is_dir():
            raise LabelDrawError(f"the folder {path.parent} does not exist; create it or choose another")
        problem = write_problem(path.parent)  # before the reference and the scene are read
        if problem:
            raise LabelDrawError(f"{path.name} cannot be written: {problem}; choose a folder you can write to")
        held = next((part for part in point_files(path) if part.exists()), None)  # a stray .prj would give a CRS
        if held is not None and not overwrite:
            raise OutputExistsError(f"{held} already exists; choose another name or allow overwriting to replace it")
        others = _other_layers(path) if path == points and suffix == ".gpkg" and path.exists() else []
        if others:
            raise LabelDrawError(f"{path.name} holds other layers ({', '.join(others)}), and the draw writes a whole "
                                 f"file: write the {what} to a new file")


def _renumbered(draw: LabelDraw, theirs: np.ndarray, classes: list[ClassInfo]) -> LabelDraw:
    """``draw`` with its classes' ids those of ``theirs``, the same reference read with the analyst's classes (a
    reference of class names takes their ids; one of ids keeps them): the pixels drawn stay bench's."""
    own = draw.split.labels
    mapping = {}
    for class_id in (int(i) for i in np.unique(own) if i > 0):
        found = np.unique(theirs[own == class_id])
        if len(found) != 1:  # one reference read two ways: a class is one class both times
            raise LabelDrawError(f"the reference's class {class_id} is not one class under your classes' ids")
        mapping[class_id] = int(found[0])
    split = draw.split
    split.labels = theirs
    present = set(mapping.values())
    kept = [c for c in classes if c.id in present]
    return LabelDraw(split, kept, draw.reference_pixels, warnings=_named_warnings(split, kept),
                     renumbered={own_id: id_ for own_id, id_ in mapping.items() if own_id != id_})


def _other_layers(path: Path) -> list[str]:
    """The layers of the existing GeoPackage ``path`` other than one a draw wrote (:data:`POINT_LAYER`)."""
    from osgeo import gdal

    ds = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    if ds is None:
        return []
    names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
    return [n for n in names if n != POINT_LAYER]


def is_validation_of_a_draw(path: str | os.PathLike) -> bool:
    """Whether the raster ``path`` holds the reference pixels a draw left to validate on (its metadata says so), so
    it is no reference to draw from again."""
    from rasterio.errors import RasterioError

    from .io.read import opened_quietly

    try:
        with opened_quietly(path) as ds:
            return bool(ds.tags().get(VALIDATION_TAG))
    except (RasterioError, OSError):  # not a raster rasterio opens: not one a draw wrote
        return False


def written_files(points: str | os.PathLike, validation: Optional[str | os.PathLike] = None) -> list[Path]:
    """Every file :func:`write_draw` writes for these outputs: the points (a Shapefile's parts), their class file, and
    the validation raster with its style and GDAL sidecar."""
    files = point_files(points) + [class_file_beside(points)]
    if validation is not None:
        validation = Path(validation)
        files += [validation, validation.with_suffix(".qml"), Path(f"{validation}.aux.xml")]
    return files


def write_draw(draw: LabelDraw, scene: Scene, points: str | os.PathLike,
               validation: Optional[str | os.PathLike] = None, *, overwrite: bool = False) -> LabelDraw:
    """Write the draw's training pixels as points at the pixel centres (``class_id`` and ``class`` fields; a label
    layer the dock and every command take), their classes beside them (:func:`class_file_beside`, which ``--prompts``
    and the dock's *Load classes…* read) and, when ``validation`` is given, the reference pixels left to validate on
    as a label raster on the scene's grid. The files appear together or none does."""
    from .evaluation.sampling import remove_design_of
    from .io.classes import classes_to_text
    from .io.write import atomic_output, write_label_raster

    check_draw_outputs(points, validation, georeferenced=scene.georeferenced, overwrite=overwrite)
    points = Path(points)
    with ExitStack() as stack:  # each file is moved into place only when both are written
        tmp_points = stack.enter_context(atomic_output(points, overwrite=overwrite))
        tmp_classes = stack.enter_context(atomic_output(class_file_beside(points), overwrite=overwrite))
        tmp_classes.write_text(classes_to_text(draw.classes), encoding="utf-8")
        if validation is not None:
            tmp_validation = stack.enter_context(atomic_output(validation, overwrite=overwrite))
            write_label_raster(tmp_validation, np.where(draw.split.test_mask, draw.split.labels, 0), draw.classes,
                               transform=scene.transform, crs_wkt=scene.crs_wkt)
            _tag_validation(tmp_validation, draw)
        _write_points(tmp_points, draw, scene)
        if overwrite:
            drop_stale_parts(points, tmp_points)
    remove_design_of(points)  # a validation sample's design naming these points: they are others now
    draw.points, draw.class_file = points, class_file_beside(points)
    draw.validation = Path(validation) if validation is not None else None
    return draw


def drop_stale_parts(points: Path, written: Path) -> None:
    """Remove the parts of the points file being replaced that the new one, ``written`` (not yet moved into place),
    lacks: a replaced Shapefile's .prj would give the new points the old CRS."""
    for old in point_files(points):
        if old.exists() and not written.with_suffix(old.suffix).exists():
            old.unlink()


def _tag_validation(path: Path, draw: LabelDraw) -> None:
    """Record in the validation raster's metadata which draw it is what was left of (read back by
    :func:`is_validation_of_a_draw`)."""
    from osgeo import gdal

    split = draw.split
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.SetMetadataItem(VALIDATION_TAG, f"{amount_text(split)}, seed {split.seed}, {split.kind} split")
    ds = None


def _write_points(path: Path, draw: LabelDraw, scene: Scene) -> None:
    """One point a training pixel, at its centre, with its class id and name."""
    rows, cols, ids = draw.split.train_pixels()
    names = {c.id: c.name for c in draw.classes}
    write_pixel_points(path, rows, cols, scene.transform, scene.crs_wkt, [
        (CLASS_ID_FIELD, "integer", [int(i) for i in ids]),
        (CLASS_NAME_FIELD, "text", [names.get(int(i), f"class {int(i)}") for i in ids])])


def write_pixel_points(path: Path, rows: np.ndarray, cols: np.ndarray, transform: tuple[float, ...],
                       crs_wkt: Optional[str], fields: list[tuple[str, str, list[Optional[object]]]]) -> None:
    """One point a pixel ``(rows[k], cols[k])``, at its centre in the grid's CRS (pixel coordinates, x = column and
    y = −row, on a grid without georeference), written with OGR (the engine has no QGIS) as the layer
    :data:`POINT_LAYER`; ``fields``: ``(name, "integer" | "text", one value a point, None = NULL)``."""
    from osgeo import gdal, ogr, osr

    x0, dx, rx, y0, ry, dy = transform
    x = x0 + (cols + 0.5) * dx + (rows + 0.5) * rx  # (n,) pixel centres
    y = y0 + (cols + 0.5) * ry + (rows + 0.5) * dy
    srs = None
    if crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    driver = ogr.GetDriverByName(POINT_FORMATS[path.suffix.lower()])
    ds = driver.CreateDataSource(str(path))
    options = ["SPATIAL_INDEX=NO"] if path.suffix.lower() == ".fgb" else []  # an index reorders the points
    layer = ds.CreateLayer(POINT_LAYER, srs, ogr.wkbPoint, options=options) if ds is not None else None
    if layer is None:
        raise OSError(f"could not write {path.name}: {gdal.GetLastErrorMsg() or 'GDAL gave no reason'}")
    for name, kind, _ in fields:
        definition = ogr.FieldDefn(name, ogr.OFTInteger if kind == "integer" else ogr.OFTString)
        if kind == "text":
            definition.SetWidth(100)
        layer.CreateField(definition)
    layer.StartTransaction()
    for k, (xi, yi) in enumerate(zip(x, y)):
        feature = ogr.Feature(layer.GetLayerDefn())
        for name, _, values in fields:
            if values[k] is None:
                feature.SetFieldNull(name)
            else:
                feature.SetField(name, values[k])
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(float(xi), float(yi))
        feature.SetGeometry(point)
        if layer.CreateFeature(feature) != 0:
            raise OSError(f"could not write {path.name}: {gdal.GetLastErrorMsg() or 'GDAL gave no reason'}")
    if layer.CommitTransaction() != 0:
        raise OSError(f"could not write {path.name}: {gdal.GetLastErrorMsg() or 'GDAL gave no reason'}")
    ds = None  # closes and flushes the file


def draw_labels_from_files(scene_path: str | os.PathLike, reference_path: str | os.PathLike,
                           points: str | os.PathLike, *, labels_per_class: int = 5, seed: int, split: str = "random",
                           patch_side: int = DEFAULT_PATCH_SIDE, validation: Optional[str | os.PathLike] = None,
                           classes_path: Optional[str | os.PathLike] = None, class_field: Optional[str] = None,
                           known_classes: Optional[list[ClassInfo]] = None, share: Optional[float] = None,
                           overwrite: bool = False, reporter: Reporter = NULL_REPORTER) -> LabelDraw:
    """Read the scene's grid and valid pixels (a plain raster in one pass that keeps no pixel) and the reference
    labels (a label raster, a vector layer or a MATLAB ground truth, as a run reads labels; names and colours from
    ``classes_path`` when given, which must then define every class the reference holds), draw, and write
    (:func:`write_draw`).

    ``known_classes`` (without ``classes_path``): the classes the analyst has already, the dock's: class names in the
    reference are matched to their ids (a reference of names numbers the others after them), and an id among them
    keeps its name, colour and prompt; the reference may hold other classes too."""
    from .io.labels import read_labels
    from .io.read import read_scene, read_scene_layout
    from .run_checks import read_labels_and_classes

    inputs = (scene_path, reference_path, classes_path)
    check_draw_outputs(points, validation, georeferenced=True, inputs=inputs, overwrite=overwrite)
    reading = reporter.sub(0.0, 0.8)
    scene = read_scene_layout(scene_path, reading) or read_scene(scene_path, reporter=reading)
    check_draw_outputs(points, validation, georeferenced=scene.georeferenced, inputs=inputs, overwrite=overwrite)
    valid = np.asarray(scene.valid)
    reference, classes = read_labels_and_classes(reference_path, scene, classes_path, class_field,
                                                 labels_name=Path(reference_path).name)  # as bench reads it
    draw = draw_labels(reference, valid, classes, labels_per_class=labels_per_class, seed=seed, split=split,
                       patch_side=patch_side, share=share)
    if classes_path is None and known_classes:  # the same pixels, under the ids the analyst's classes give names
        theirs, known = read_labels(reference_path, scene, class_field=class_field, classes=list(known_classes))
        draw = _renumbered(draw, np.where(valid, theirs, 0), known)
    reporter.check()  # a Cancel while the labels were read: nothing written
    reporter.progress(0.9, "writing the labels")
    written = write_draw(draw, scene, points, validation, overwrite=overwrite)
    reporter.progress(1.0, "done")
    return written
