"""Read training labels (vector polygons/points or a label raster) onto a scene's pixel grid."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from ..scene import CLASS_ID_RANGE, MAX_CLASS_ID, PIXEL_GRID, ClassInfo, Scene, default_color

# Field names taken as the class field when none is given, best first (compared case-insensitively).
CLASS_FIELD_NAMES = ("class_id", "classid", "class", "label", "label_id", "labelid", "class_name", "classname",
                     "label_name", "labelname", "category", "landcover")
# QGIS shows a raster without georeference with x = column and y = -row; labels drawn over it use that grid.
PIXEL_GRID_GDAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
# Pixels of a label raster read and turned into class ids at a time: the temporaries of the checks stay a few
# tens of MB whatever the scene (reading a 4096² float32 raster whole took 27 bytes a pixel, 455 MB).
LABEL_CHUNK_PIXELS = 1 << 20


def label_map_dtype(largest_id: int) -> np.dtype:
    """The smallest unsigned type of a label map whose class ids go up to ``largest_id``: a byte a pixel for up to
    255 classes (the usual case), two bytes up to :data:`~..scene.MAX_CLASS_ID` (int32 took 4 bytes a pixel of a
    scene that may not fit in memory whole, for a few hundred labelled pixels)."""
    return np.dtype(np.uint8 if largest_id <= np.iinfo(np.uint8).max else np.uint16)


def row_strips(rows: int, cols: int, block_rows: int = 1, first_file_row: int = 0) -> Iterator[slice]:
    """The strips of rows a ``rows × cols`` label-like map is read or scanned by: about :data:`LABEL_CHUNK_PIXELS`
    pixels each, whole multiples of the file's ``block_rows`` (so each block is decoded once), their edges on the
    file's block edges when the map's first row is the file's row ``first_file_row``."""
    block_rows = max(1, int(block_rows))
    step = max(1, LABEL_CHUNK_PIXELS // max(1, cols * block_rows)) * block_rows
    lead = (-int(first_file_row)) % block_rows  # map rows before the first block edge
    if lead:
        yield slice(0, min(rows, lead))
    for row0 in range(lead, rows, step):
        yield slice(row0, min(rows, row0 + step))


# What the grid the labels go onto is, as messages name it: "scene", or "class map" in an accuracy assessment
_GRID: ContextVar[str] = ContextVar("labels_grid", default="scene")


@contextmanager
def labels_onto(grid: str) -> Iterator[None]:
    """While it lasts, what goes wrong reading labels is said of ``grid`` ("class map"), not of the scene."""
    token = _GRID.set(grid)
    try:
        yield
    finally:
        _GRID.reset(token)


def _grid() -> str:
    return _GRID.get()


class LabelReadError(ValueError):
    """The labels cannot be used with this scene; the message says why and what to do."""


class NothingLabelled(LabelReadError):
    """No pixel of the scene carries a class id in the labels read."""


def read_labels(path: str | Path, scene: Scene, *, class_field: Optional[str] = None,
                classes: Optional[list[ClassInfo]] = None, layer: Optional[str] = None, min_classes: int = 2,
                field_option: str = "--class-field") -> tuple[np.ndarray, list[ClassInfo]]:
    """Burn labels onto the scene's grid.

    Args:
        path: a vector file (GeoPackage, Shapefile, GeoJSON, ...; polygons, multipolygons or points), a
            label raster on the scene's grid (0 = unlabelled), or a MATLAB ground-truth map of the scene's size
            (``Indian_pines_gt.mat``-style).
        scene: the scene whose grid and CRS the labels must match.
        class_field: the attribute holding the class; by default a field named class, class_id, label,
            classname, ... Integer values are class ids; text values are class names.
        classes: known classes (e.g. from the class file): names are matched to their ids; classes not
            listed get new ids after the known ones.
        layer: the layer to read when the vector file holds several (or ``path`` names it as QGIS does,
            ``labels.gpkg|layername=points``).
        min_classes: the fewest classes the labels must hold: 2 to train a classifier (the default); 1 for
            validation labels of an accuracy assessment, which may check one class.
        field_option: the command-line option that names ``class_field``, for the message when none is found.

    Returns:
        ``(labels, classes)``: ``(H, W)`` class ids (0 = unlabelled; uint8, or uint16 for ids over 255:
        :func:`label_map_dtype`) and the classes that occur, by id.
        Polygons burn the pixels whose centre they contain; points burn the pixel they fall in.

    Raises:
        LabelReadError: unreadable file, no class field, features outside the scene, a CRS mismatch,
            or fewer than ``min_classes`` classes labelled.
    """
    from .read import SceneReadError, envi_data_file, is_mat_file

    path, layer = split_layer_name(path, layer)
    if not path.exists():
        raise LabelReadError(f"cannot read the labels {path}: the file does not exist")
    if path.is_file() and path.suffix.lower() == ".hdr":  # an ENVI label raster: GDAL opens its data file
        try:
            path = envi_data_file(path)
        except SceneReadError as error:
            raise LabelReadError(str(error)) from None
    if path.is_file() and is_mat_file(path):  # GDAL reads no MATLAB files (a folder may be a vector dataset)
        labels, found = _read_mat(path, scene, classes)
    else:
        labels, found = _read_gdal(path, scene, class_field, classes, layer, field_option,
                                   say_outside=min_classes >= 2)
    present = sorted(found)  # the ids the map holds
    if not present:
        raise LabelReadError(f"{path.name} labels no pixel of the {_grid()}")
    if len(present) < min_classes:
        raise LabelReadError(f"{path.name} labels one class only ({found[present[0]].name}): label at least "
                             f"two classes so there is something to tell apart")
    return labels, [found[i] for i in present]


def _ids_present(labels: np.ndarray) -> list[int]:
    """The class ids (not 0) of a label map, ascending, found a strip at a time: ``np.unique`` of the whole map
    would sort a copy of it."""
    found: set[int] = set()
    for rows in row_strips(*labels.shape):
        found.update(int(v) for v in np.unique(labels[rows]))
    return sorted(found - {0})


def _read_gdal(path: Path, scene: Scene, class_field: Optional[str], classes: Optional[list[ClassInfo]],
               layer: Optional[str], field_option: str = "--class-field", say_outside: bool = True
               ) -> tuple[np.ndarray, dict[int, ClassInfo]]:
    """Labels from a file GDAL opens: a vector layer if it has one, else a label raster (``say_outside``: warn of
    features outside the scene whose classes keep pixels inside, :func:`_read_vector`)."""
    from osgeo import gdal

    from .damaged import gdal_messages

    gdal.ErrorReset()  # the fallback reason below must not be an older call's error
    with gdal_messages() as messages:  # GDAL's probing and read errors stay off stderr; the first one is said
        vector = _open(path, gdal.OF_VECTOR)
        if vector is not None and vector.GetLayerCount() > 0:
            return _read_vector(path, vector, scene, class_field, classes, layer, field_option, say_outside)
        probed = len(messages)  # what the vector probe said: news only when the raster open says nothing
        raster = _open(path, gdal.OF_RASTER)
        if raster is None:
            raise LabelReadError(_unreadable(path, messages[probed:] or messages, gdal.GetLastErrorMsg()))
        del messages[:probed]  # the live list: the pixel read's errors are still to come
        return _read_raster(path, raster, scene, classes, messages)


def _unreadable(path: Path, messages: list[tuple[int, str]], fallback: str) -> str:
    """Why GDAL could not read the labels file (empty, no known format, truncated) and what to do."""
    from .damaged import describe_unreadable, first_gdal_failure

    reason = first_gdal_failure(messages, path, fallback or "no further detail")
    return describe_unreadable(path, "labels", reason, "a vector layer (GeoPackage, Shapefile, GeoJSON), a label "
                                                       f"raster on the {_grid()}'s grid or a MATLAB ground-truth map")


# --------------------------------------------------------------------------- vectors


def _read_vector(path: Path, ds: Any, scene: Scene, class_field: Optional[str],
                 classes: Optional[list[ClassInfo]], layer_name: Optional[str], field_option: str = "--class-field",
                 say_outside: bool = True) -> tuple[np.ndarray, dict[int, ClassInfo]]:
    """Burn a vector layer's features; ``say_outside``: warn when some lie outside the scene while their classes
    keep pixels inside (training labels; validation labels often cover a region the scene is a part of)."""
    from osgeo import ogr

    lyr = _pick_layer(path, ds, layer_name)
    defn = lyr.GetLayerDefn()
    fields = [defn.GetFieldDefn(i) for i in range(defn.GetFieldCount())]
    names = [f.GetName() for f in fields]
    field = pick_class_field(names, class_field)
    if field is None:
        if class_field is not None:
            raise LabelReadError(f"{path.name}: layer {lyr.GetName()!r} has no field {class_field!r}; "
                                 f"its fields are {', '.join(names) or '(none)'}")
        raise LabelReadError(f"{path.name}: no class field found in layer {lyr.GetName()!r} (looked for "
                             f"class, class_id, label, classname, ...); its fields are "
                             f"{', '.join(names) or '(none)'}. Choose the field that holds the class "
                             f"({field_option} on the command line)")
    if class_field is None and field.lower() not in CLASS_FIELD_NAMES:  # a guess by the name's start: said
        others = [n for n in names if n != field]
        logging.getLogger("hypersynth").warning(
            "%s: no field is named class_id, class or label, so the classes are read from %r, whose name starts "
            "like one%s; if another field holds them, name it (%s)", path.name, field,
            f" (the others: {', '.join(others[:6])}{', …' if len(others) > 6 else ''})" if others else "",
            field_option)
    index = names.index(field)
    kind = fields[index].GetType()
    named_by = _name_field(names, fields, index) if kind in (ogr.OFTInteger, ogr.OFTInteger64) else None
    geometries, values, said_names = [], [], []
    features = without_class = without_geometry = 0
    for feature in lyr:
        features += 1
        geom = feature.GetGeometryRef()
        if geom is None or geom.IsEmpty():
            without_geometry += 1
            continue
        if not feature.IsFieldSetAndNotNull(index):
            without_class += 1
            continue
        if named_by is not None:
            said_names.append(feature.GetFieldAsString(named_by).strip() if feature.IsFieldSetAndNotNull(named_by)
                              else "")
        value: Any
        if kind in (ogr.OFTInteger, ogr.OFTInteger64):
            value = feature.GetFieldAsInteger64(index)
        elif kind == ogr.OFTReal:
            value = feature.GetFieldAsDouble(index)
        else:
            value = feature.GetFieldAsString(index).strip()
            if not value:
                without_class += 1
                continue
        geometries.append(geom.Clone())
        values.append(value)
    _say_features_left_out(path, field, features, without_class, without_geometry)
    if not geometries:
        raise LabelReadError(f"{path.name}: layer {lyr.GetName()!r} has no feature with a geometry and a "
                             f"value in {field!r}")
    ids, found = _class_ids(path, field, values, classes)
    if named_by is not None:  # each id's name from the text field beside it, where the classes given do not name it
        known = {c.id for c in classes or []}
        layer_names = _one_name_per_id(ids, said_names)
        _say_other_names(path, names[named_by], layer_names, {c.id: c.name for c in classes or []})
        named = {i: name for i, name in layer_names.items() if i not in known and i in found}
        if named:
            for class_id, name in named.items():
                found[class_id] = replace(found[class_id], name=name)
            logging.getLogger("hypersynth").info("%s: class names taken from its field %r", path.name,
                                                 names[named_by])
    srs = _to_scene_crs(path, lyr, geometries, scene)
    keep = [i for i, v in enumerate(ids) if v != 0]  # 0 = explicitly unlabelled
    labels = _burn(scene, srs, [geometries[i] for i in keep], [ids[i] for i in keep])
    _say_shared_pixels(path, scene, [geometries[i] for i in keep], [ids[i] for i in keep], labels)
    burnt = _ids_present(labels)  # a feature may fall outside the scene, or under another
    _say_overlaps_and_empty_polygons(path, scene, srs, [geometries[i] for i in keep], [ids[i] for i in keep], labels,
                                     set(burnt))
    if not burnt:
        _explain_empty(path, geometries, scene)
    lost = sorted({ids[i] for i in keep} - set(burnt))
    outside = sum(not _overlaps_scene(geometries[i], scene) for i in keep) if lost or say_outside else 0
    if outside and not lost:  # a drifted point or two: their classes keep pixels, so nothing else says
        logging.getLogger("hypersynth").warning(
            f"%s: %d of the %d label features %s outside the {_grid()} and label nothing; check them (digitised "
            f"on another image, or in another CRS?)", path.name, outside, len(keep), "lies" if outside == 1 else "lie")
    if lost:  # said before any "one class only": the reason is here, not in the classes left
        logging.getLogger("hypersynth").warning(
            f"%s: no pixel of the {_grid()} is labelled %s: %s%s", path.name,
            ", ".join(f"{found[i].name} ({i})" for i in lost[:6]) + (", …" if len(lost) > 6 else ""),
            f"{outside} of the {len(keep)} features lie outside the {_grid()}" if outside else
            "their features contain no pixel centre or lie under other labels",
            f"; check that the labels belong to this {_grid()}" if outside else "")
    return labels, {i: found[i] for i in burnt}


def _say_features_left_out(path: Path, field: str, features: int, without_class: int, without_geometry: int) -> None:
    """Say the features left out for want of a class (a field left empty in QGIS, a validation point not labelled
    yet) or of a geometry: they were dropped without a word, and the labels counted fewer than were drawn."""
    said = []
    if without_class:
        one = without_class == 1
        said.append(f"{without_class} {'has' if one else 'have'} no class in {field!r} (give {'it' if one else 'them'}"
                    f" one, or delete {'it' if one else 'them'})")
    if without_geometry:
        said.append(f"{without_geometry} {'has' if without_geometry == 1 else 'have'} no geometry")
    if said:
        logging.getLogger("hypersynth").warning("%s: of its %d features, %s: left out", path.name, features,
                                                " and ".join(said))


# A text field beside numeric class ids that names the classes (draw-labels writes class_id and class), best first;
# not a bare "name", which a digitiser's or a plot's name often is
NAME_FIELD_NAMES = ("class", "class_name", "classname")


def _name_field(names: list[str], fields: list[Any], id_index: int) -> Optional[int]:
    """The index of a text field beside the class-id field at ``id_index`` that names the classes, None without."""
    from osgeo import ogr

    lower = [n.lower() for n in names]
    for wanted in NAME_FIELD_NAMES:
        if wanted in lower:
            i = lower.index(wanted)
            if i != id_index and fields[i].GetType() == ogr.OFTString:
                return i
    return None


def _say_other_names(path: Path, field: str, layer_names: dict[int, str], given: dict[int, str]) -> None:
    """Warn where the layer's name field and the classes given (a class file's) name one class id differently: the
    classes given win, and a prompt of another class would condition its pixels (review: said nowhere)."""
    differ = sorted(i for i, name in layer_names.items() if i in given and _name_key(name) != _name_key(given[i]))
    if not differ:
        return
    shown = "; ".join(f"{i}: {layer_names[i]!r} there, {given[i]!r} in the classes" for i in differ[:4])
    logging.getLogger("hypersynth").warning(
        "%s: its field %r names %d class id%s otherwise than the classes given (%s%s): the classes' names and "
        "prompts are used; check that both number the classes alike", path.name, field, len(differ),
        "" if len(differ) == 1 else "s", shown, "; …" if len(differ) > 4 else "")


def _one_name_per_id(ids: list[int], names: list[str]) -> dict[int, str]:
    """Each class id's name where all its features give the same non-empty one and no other id gives it too (features
    disagreeing, naming none, or a name two ids share leave the id unnamed: it is no class name, or not known)."""
    seen: dict[int, set[str]] = {}
    for class_id, name in zip(ids, names):
        seen.setdefault(class_id, set()).add(name)
    one = {i: next(iter(given)) for i, given in seen.items() if i and len(given) == 1 and "" not in given}
    ids_of = Counter(one.values())
    return {i: name for i, name in one.items() if ids_of[name] == 1}


def _overlaps_scene(geometry: Any, scene: Scene) -> bool:
    """Whether ``geometry``'s bounding box (in the scene's CRS) meets the scene's extent."""
    x0, x1, y0, y1 = geometry.GetEnvelope()
    sx0, sx1, sy0, sy1 = _scene_extent(scene)
    return x0 <= sx1 and x1 >= sx0 and y0 <= sy1 and y1 >= sy0


LAYER_NAME = "|layername="  # how QGIS names one layer of a vector file: labels.gpkg|layername=points


def split_layer_name(path: str | Path, layer: Optional[str] = None) -> tuple[Path, Optional[str]]:
    """``(file, layer)`` from a path that may name a layer of a vector file as QGIS names it
    (``labels.gpkg|layername=points``); ``layer`` given stays unless the path names one."""
    text = str(path)
    if LAYER_NAME not in text:
        return Path(path), layer
    file, _, rest = text.partition(LAYER_NAME)
    return Path(file), rest.split("|", 1)[0]


def _pick_layer(path: Path, ds: Any, name: Optional[str]) -> Any:
    layers = [ds.GetLayerByIndex(i) for i in range(ds.GetLayerCount())]
    names = [lyr.GetName() for lyr in layers]
    if name is not None:
        if name not in names:
            raise LabelReadError(f"{path.name} has no layer {name!r}; its layers are {', '.join(names)}")
        return layers[names.index(name)]
    with_features = [lyr for lyr in layers if lyr.GetFeatureCount() != 0]
    if len(with_features) > 1:
        raise LabelReadError(f"{path.name} holds several layers ({', '.join(names)}); name the one with the labels "
                             f"as QGIS does, e.g. {path}{LAYER_NAME}{with_features[0].GetName()}")
    return with_features[0] if with_features else layers[0]


def pick_class_field(names: list[str], wanted: Optional[str]) -> Optional[str]:
    """The field of ``names`` that holds the class: ``wanted`` (any case), else the first of :data:`CLASS_FIELD_NAMES`,
    else the first named class… or label…; None when there is none. Public: the plugin's run dialog checks a
    validation layer's fields by the rule the reader applies."""
    lower = {n.lower(): n for n in names}
    if wanted is not None:
        return lower.get(wanted.lower())
    for candidate in CLASS_FIELD_NAMES:
        if candidate in lower:
            return lower[candidate]
    return next((n for n in names if n.lower().startswith(("class", "label"))), None)


def _class_ids(path: Path, field: str, values: list[Any], classes: Optional[list[ClassInfo]]
               ) -> tuple[list[int], dict[int, ClassInfo]]:
    """Map field values to class ids: whole numbers are ids, text values are class names."""
    known = {c.id: c for c in classes or []}
    as_numbers = [whole_number(v) for v in values]
    if all(n is not None for n in as_numbers):
        ids = [int(n) for n in as_numbers if n is not None]
        if min(ids) < 0:
            raise LabelReadError(f"{path.name}: field {field!r} holds negative class ids ({min(ids)}); "
                                 f"ids are 1, 2, ... (0 = unlabelled)")
        if max(ids) > MAX_CLASS_ID:
            raise LabelReadError(f"{path.name}: field {field!r} holds class id {max(ids)}; class ids run "
                                 f"{CLASS_ID_RANGE} (0 = unlabelled): renumber the classes")
        found = {i: known.get(i) or ClassInfo(i, f"class {i}", default_color(i - 1)) for i in set(ids) if i}
        return ids, found
    if any(isinstance(v, float) for v in values):
        bad = next(v for v, n in zip(values, as_numbers) if n is None)
        raise LabelReadError(f"{path.name}: field {field!r} holds {bad!r}; class ids must be whole numbers")
    by_name = {_name_key(c.name): c for c in known.values()}
    new_names = sorted({str(v) for v in values if _name_key(str(v)) not in by_name}, key=_name_key)
    next_id = max(known, default=0) + 1
    for offset, name in enumerate(new_names):
        by_name.setdefault(_name_key(name), ClassInfo(next_id + offset, name, default_color(next_id + offset - 1)))
    ids = [by_name[_name_key(str(v))].id for v in values]
    return ids, {c.id: c for c in by_name.values() if c.id in set(ids)}


def _to_scene_crs(path: Path, lyr: Any, geometries: list[Any], scene: Scene) -> Any:
    """Reproject geometries in place to the scene's CRS; returns the scene's osr SRS (None: pixel grid)."""
    from osgeo import osr

    source = lyr.GetSpatialRef() or _csv_degrees(path)
    if scene.crs_wkt is None:
        if source is not None:
            raise LabelReadError(
                f"{path.name} is georeferenced ({_crs_name(source)}) but the {_grid()} has no georeference (a pixel "
                f"grid, e.g. a .mat cube). Give a label raster of the {_grid()}'s size ({scene.shape[0]} rows × "
                f"{scene.shape[1]} cols), or draw the labels over the {_grid()} in pixel coordinates (x = column, "
                f"y = -row) and save them as a Shapefile or FlatGeobuf without a CRS: a GeoPackage always records "
                f"one (\"Undefined geographic SRS\" for none) and GeoJSON is read as WGS 84")
        return None
    target = osr.SpatialReference()
    if target.ImportFromWkt(scene.crs_wkt) != 0:
        raise LabelReadError(f"the {_grid()}'s CRS cannot be understood, so {path.name} cannot be placed on it")
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    if source is None:  # taken to be in the scene's CRS, as QGIS takes it; said, as a missing .prj may be a mistake
        logging.getLogger("hypersynth").warning(
            "%s has no CRS%s: its coordinates are read as the %s's %s", path.name,
            " (a Shapefile without its .prj?)" if path.suffix.lower() == ".shp" else "", _grid(), _crs_name(target))
        return target
    if source.IsSame(target):
        return target
    source = source.Clone()
    source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)  # x = easting/longitude for both
    transform = osr.CoordinateTransformation(source, target)
    if transform is None:
        raise LabelReadError(f"cannot reproject {path.name} from {_crs_name(source)} to the {_grid()}'s "
                             f"{_crs_name(target)}")
    for geom in geometries:
        if geom.Transform(transform) != 0:
            raise LabelReadError(f"cannot reproject a feature of {path.name} from {_crs_name(source)} to "
                                 f"{_crs_name(target)}; is the layer's CRS set correctly?")
    return target


def _burn(scene: Scene, srs: Any, geometries: list[Any], ids: list[int]) -> np.ndarray:
    """Rasterise (GDAL, pixel centres) polygons first, then lines and points, so points win where they overlap."""
    from osgeo import ogr

    is_area = [ogr.GT_Flatten(g.GetGeometryType()) in (ogr.wkbPolygon, ogr.wkbMultiPolygon) for g in geometries]
    order = sorted(range(len(geometries)), key=lambda i: not is_area[i])
    return _rasterise(scene, srs, [geometries[i] for i in order], [ids[i] for i in order],
                      label_map_dtype(max(ids, default=0)))


def _rasterise(scene: Scene, srs: Any, geometries: list[Any], values: list[int], dtype: Any,
               window: Optional[tuple[int, int, int, int]] = None) -> np.ndarray:
    """``values`` of ``geometries`` burnt in order (a later one over an earlier) at the pixel centres they contain,
    0 elsewhere: the whole grid, or ``window`` ``(row0, row1, col0, col1)`` of it (``(row1 − row0, col1 − col0)``)."""
    from osgeo import gdal, gdal_array, ogr

    row0, row1, col0, col1 = window if window is not None else (0, scene.shape[0], 0, scene.shape[1])
    memory = ogr.GetDriverByName("Memory").CreateDataSource("labels")
    lyr = memory.CreateLayer("labels", srs=srs, geom_type=ogr.wkbUnknown)
    lyr.CreateField(ogr.FieldDefn("burn", ogr.OFTInteger))
    for geometry, value in zip(geometries, values):
        feature = ogr.Feature(lyr.GetLayerDefn())
        feature.SetGeometry(geometry)
        feature.SetField("burn", int(value))
        lyr.CreateFeature(feature)
    out = np.zeros((row1 - row0, col1 - col0), dtype=dtype)  # (h, w)
    target = gdal_array.OpenArray(out)  # a MEM raster over the array's own memory: GDAL burns into it, no copy
    x0, a, b, y0, d, e = _scene_geotransform(scene)
    target.SetGeoTransform((x0 + col0 * a + row0 * b, a, b, y0 + col0 * d + row0 * e, d, e))
    if srs is not None:
        target.SetProjection(srs.ExportToWkt())
    if gdal.RasterizeLayer(target, [1], lyr, options=["ATTRIBUTE=burn", "ALL_TOUCHED=FALSE"]) != gdal.CE_None:
        raise LabelReadError(f"GDAL could not rasterise the labels: {gdal.GetLastErrorMsg()}")
    target.FlushCache()  # the MEM raster's blocks are the array: nothing left to copy
    target = None
    return out


def _pixel_window(scene: Scene, geometries: list[Any]) -> Optional[tuple[int, int, int, int]]:
    """``(row0, row1, col0, col1)``: the part of the grid the geometries' bounding boxes cover, a pixel wider on each
    side; None where it misses the grid."""
    from osgeo import gdal

    inverse = gdal.InvGeoTransform(_scene_geotransform(scene))
    if inverse is None or not geometries:
        return None
    envelopes = np.array([g.GetEnvelope() for g in geometries])  # (N, 4): xmin, xmax, ymin, ymax
    corners = [gdal.ApplyGeoTransform(inverse, float(x), float(y))
               for x in (envelopes[:, 0].min(), envelopes[:, 1].max())
               for y in (envelopes[:, 2].min(), envelopes[:, 3].max())]  # (col, row) of the box's corners
    cols, rows = [c for c, _ in corners], [r for _, r in corners]
    row0, row1 = max(int(math.floor(min(rows))) - 1, 0), min(int(math.ceil(max(rows))) + 1, scene.shape[0])
    col0, col1 = max(int(math.floor(min(cols))) - 1, 0), min(int(math.ceil(max(cols))) + 1, scene.shape[1])
    return (row0, row1, col0, col1) if row0 < row1 and col0 < col1 else None


def _say_shared_pixels(path: Path, scene: Scene, geometries: list[Any], ids: list[int], labels: np.ndarray) -> None:
    """Say where points fall on one pixel: one label a pixel is kept (the last point's), so duplicates count once and,
    where their classes differ, one class is chosen for the pixel (field points a GPS put within a pixel)."""
    from osgeo import gdal, ogr

    points = [(g.GetX(), g.GetY(), i) for g, i in zip(geometries, ids)
              if ogr.GT_Flatten(g.GetGeometryType()) == ogr.wkbPoint]
    if len(points) < 2:
        return
    inverse = gdal.InvGeoTransform(_scene_geotransform(scene))
    if inverse is None:
        return
    by_pixel: dict[tuple[int, int], list[int]] = {}
    for x, y, class_id in points:
        col, row = gdal.ApplyGeoTransform(inverse, x, y)
        if 0 <= row < scene.shape[0] and 0 <= col < scene.shape[1]:
            by_pixel.setdefault((int(row), int(col)), []).append(class_id)
    shared = {at: found for at, found in by_pixel.items() if len(found) > 1}
    if not shared:
        return
    on_shared = sum(len(found) for found in shared.values())
    conflicts = {at: found for at, found in shared.items() if len(set(found)) > 1}
    text = (f"{path.name}: {on_shared} points share {len(shared)} pixel{'s' if len(shared) != 1 else ''}: each such "
            "pixel is one label")
    if conflicts:
        (row, col), found = next(iter(sorted(conflicts.items())))
        text += (f"; at {len(conflicts)} pixel{'s' if len(conflicts) != 1 else ''} their classes differ and one is "
                 f"kept (e.g. row {row}, column {col}: classes {', '.join(map(str, sorted(set(found))))}, kept "
                 f"{int(labels[row, col])}): check those points")
    logging.getLogger("hypersynth").warning("%s", text)


SMALL_POLYGON = 3  # pixels: a polygon whose bounding box is narrower than this either way may hold no pixel centre


def _say_overlaps_and_empty_polygons(path: Path, scene: Scene, srs: Any, geometries: list[Any], ids: list[int],
                                     labels: np.ndarray, burnt: set[int]) -> None:
    """Say the pixels that a class's polygons or lines cover while the labels give them another class (another
    class's polygon drawn later, or its point), and the small polygons that contain no pixel centre and label nothing,
    where their class keeps pixels elsewhere (a class left with none is said on its own): both went by without a word
    (review). One more burn of the grid (the shapes in reverse order) finds the first; each small polygon burnt over
    its own window, the second. Three classes over one pixel with the first and last alike hide the middle one."""
    from osgeo import ogr

    kinds = [ogr.GT_Flatten(g.GetGeometryType()) for g in geometries]
    shapes = [i for i, k in enumerate(kinds) if k not in (ogr.wkbPoint, ogr.wkbMultiPoint)]
    # the shapes burnt in reverse order (the first drawn wins) against the labels (the last drawn wins, points over
    # them): a pixel two classes cover differs; one more burn of the grid, compared a block of rows at a time
    first = _rasterise(scene, srs, [geometries[i] for i in reversed(shapes)], [ids[i] for i in reversed(shapes)],
                       labels.dtype) if shapes else None
    n, example = 0, None  # pixels two classes cover; (row, col) of the first
    rows_per_block = max(1, LABEL_CHUNK_PIXELS // max(scene.shape[1], 1))
    for row0 in range(0, scene.shape[0] if first is not None else 0, rows_per_block):
        a, b = first[row0:row0 + rows_per_block], labels[row0:row0 + rows_per_block]  # (h, W) each
        clash = (a != 0) & (b != 0) & (a != b)
        n += int(clash.sum())
        if example is None and clash.any():
            r, c = (int(v) for v in np.argwhere(clash)[0])
            example = (row0 + r, c, int(a[r, c]), int(b[r, c]))
    if example is not None:
        row, col, covering, kept_id = example
        logging.getLogger("hypersynth").warning(
            "%s: %d pixel%s lie under labels of two classes (e.g. row %d, column %d: class %d's feature, and class "
            "%d kept there); one class is kept for each (a point's over a polygon's, else the feature drawn last), "
            "which may be the wrong one: check the overlapping features", path.name, n, "" if n == 1 else "s", row,
            col, covering, kept_id)
    del first
    empty = areas = 0
    for i in shapes:
        if kinds[i] not in (ogr.wkbPolygon, ogr.wkbMultiPolygon) or ids[i] not in burnt:
            continue
        areas += 1
        window = _pixel_window(scene, [geometries[i]])
        if window is None or min(window[1] - window[0], window[3] - window[2]) > SMALL_POLYGON + 2:
            continue  # off the grid (said on its own), or wide enough to hold a pixel centre
        empty += not _rasterise(scene, srs, [geometries[i]], [1], np.uint8, window).any()
    if empty:
        logging.getLogger("hypersynth").warning(
            "%s: %d of its %d label polygons %s no pixel centre (smaller than a pixel, or a sliver between pixel "
            "centres) and %s nothing: draw them larger than a pixel, or give points", path.name, empty, areas,
            "contains" if empty == 1 else "contain", "labels" if empty == 1 else "label")


def _explain_empty(path: Path, geometries: list[Any], scene: Scene) -> None:
    """Raise the right error when no pixel got a label: features outside the scene, or too small."""
    envelopes = np.array([g.GetEnvelope() for g in geometries])  # (N, 4): xmin, xmax, ymin, ymax
    lx0, lx1 = envelopes[:, 0].min(), envelopes[:, 1].max()
    ly0, ly1 = envelopes[:, 2].min(), envelopes[:, 3].max()
    sx0, sx1, sy0, sy1 = _scene_extent(scene)
    crs = "pixel coordinates" if scene.crs_wkt is None else f"{_crs_name_wkt(scene.crs_wkt)}, the {_grid()}'s CRS"
    overlapping = sum(_overlaps_scene(g, scene) for g in geometries)  # each feature's box, not all features' one
    if not overlapping:  # points on either side of a small scene overlap it together, and none of them alone
        raise LabelReadError(
            f"all {len(geometries)} features of {path.name} lie outside the {_grid()}: the labels cover "
            f"x {lx0:.10g}..{lx1:.10g}, y {ly0:.10g}..{ly1:.10g}, the {_grid()} covers x {sx0:.10g}..{sx1:.10g}, "
            f"y {sy0:.10g}..{sy1:.10g} (in {crs}). Check that the labels belong to this {_grid()} and that their "
            f"layer's CRS is set correctly")
    raise LabelReadError(f"{overlapping} of the {len(geometries)} features of {path.name} overlap the {_grid()} "
                         f"but contain no pixel centre; draw polygons larger than a pixel, or use points")


# --------------------------------------------------------------------------- label rasters


def _read_raster(path: Path, ds: Any, scene: Scene, classes: Optional[list[ClassInfo]],
                 messages: list[tuple[int, str]]) -> tuple[np.ndarray, dict[int, ClassInfo]]:
    from osgeo import gdal_array, osr

    rows, cols = scene.shape
    if ds.RasterCount != 1:
        raise LabelReadError(f"{path.name} has {ds.RasterCount} bands; a label raster has one band of class ids "
                             f"(0 = unlabelled). Did you choose the {_grid()} instead of the labels?")
    truncated = _truncated_raw(path, ds)
    if truncated:  # GDAL would read the missing part as 0 = unlabelled without a word
        raise LabelReadError(truncated)
    transform = ds.GetGeoTransform(can_return_null=True)  # also loads GDAL's .aux.xml (category names)
    wkt = ds.GetProjection()
    shape = (ds.RasterYSize, ds.RasterXSize)
    # a raster that lost its CRS (its .prj or .aux.xml left behind) still says where its pixels lie: placed by it
    located = transform is not None and tuple(transform) not in (PIXEL_GRID_GDAL, (0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    if scene.crs_wkt and (wkt or located):
        mine = osr.SpatialReference()
        mine.ImportFromWkt(scene.crs_wkt)
        if wkt:
            theirs = osr.SpatialReference()
            theirs.ImportFromWkt(wkt)
            if not mine.IsSame(theirs):
                raise LabelReadError(
                    f"{path.name} is in {_crs_name(theirs)} but the {_grid()} is in {_crs_name(mine)}; reproject the "
                    f"labels onto the {_grid()}'s grid (e.g. gdalwarp -t_srs {_crs_argument(mine)} -te {_te(scene)} "
                    f"-ts {cols} {rows} -r near)")
        else:  # as a vector layer without a CRS is read: in the scene's, and said
            logging.getLogger("hypersynth").warning("%s has no CRS: its grid is read in the %s's %s", path.name,
                                                    _grid(), _crs_name(mine))
        offset = _pixel_offset(transform, scene.transform, shape == (rows, cols))
        if offset is None:
            raise LabelReadError(
                f"{path.name} is on a different grid ({_grid_text(shape, transform)}) than the {_grid()} "
                f"({_grid_text(scene.shape, scene.transform)}); resample the labels to the {_grid()}'s grid "
                f"(e.g. gdalwarp -te {_te(scene)} -ts {cols} {rows} -r near)")
        row_off, col_off = offset
        if not (row_off < shape[0] and row_off + rows > 0 and col_off < shape[1] and col_off + cols > 0):
            raise LabelReadError(f"{path.name} ({_grid_text(shape, transform)}) covers no pixel of the {_grid()} "
                                 f"({_grid_text(scene.shape, scene.transform)}); give the labels of this {_grid()}")
    elif shape != (rows, cols):
        raise LabelReadError(f"{path.name} is {shape[0]}×{shape[1]} px but the {_grid()} is {rows}×{cols}; a label "
                             f"raster must cover the {_grid()}'s grid pixel for pixel")
    else:
        row_off, col_off = 0, 0
    band = ds.GetRasterBand(1)
    # the part of the raster over the scene: a larger map (a land-cover map of the region) on the scene's pixel
    # lattice is cut to it, a smaller one leaves the rest unlabelled
    c0, c1 = max(col_off, 0), min(col_off + cols, shape[1])  # the raster's columns over the scene
    file_type = gdal_array.GDALTypeCodeToNumericTypeCode(band.DataType)  # rows beyond the raster: 0 in its type

    def read_rows(row0: int, row1: int) -> np.ndarray:
        r0, r1 = max(row0 + row_off, 0), min(row1 + row_off, shape[0])  # the raster's rows over these scene rows
        try:
            values = band.ReadAsArray(c0, r0, c1 - c0, r1 - r0) if r1 > r0 else None  # (h', w')
        except RuntimeError as err:  # someone switched on gdal.UseExceptions()
            raise LabelReadError(_unreadable(path, messages, str(err))) from None
        if values is None and r1 > r0:
            raise LabelReadError(_unreadable(path, messages, ""))
        band.FlushCache()  # drop the decoded blocks: GDAL's cache would otherwise keep the whole raster
        if (r0, r1, c0, c1) == (row0 + row_off, row1 + row_off, col_off, col_off + cols):
            return values  # (h, W): the raster covers these rows of the scene
        out = np.zeros((row1 - row0, cols), dtype=file_type)  # (h, W), unlabelled where the raster does not reach
        if values is not None:
            out[r0 - row_off:r1 - row_off, c0 - col_off:c1 - col_off] = values
        return out

    try:
        return _class_ids_of(path, read_rows, (rows, cols), band.GetNoDataValue(), classes,
                             band.GetCategoryNames() or [], band.GetColorTable(), block_rows=band.GetBlockSize()[1],
                             first_file_row=row_off)
    except NothingLabelled:
        if (row_off, col_off, shape) != (0, 0, (rows, cols)) and _labels_anywhere(band):  # outside the scene's part
            raise LabelReadError(
                f"{path.name} labels no pixel of the {_grid()}, but it holds labels elsewhere: the {_grid()} covers "
                f"its rows {max(row_off, 0) + 1}–{min(row_off + rows, shape[0])} and columns {c0 + 1}–{c1} of "
                f"{shape[0]} × {shape[1]}; check that these labels belong to this {_grid()} (another part of the "
                f"image, or another crop?)") from None
        raise


def _labels_anywhere(band: Any) -> bool:
    """Whether a label band holds a class id (a value above 0, not its no-data) anywhere, from GDAL's exact maximum
    (a sample missed sparse labels in a striped file; read only on this error's path)."""
    try:
        return float(band.ComputeRasterMinMax(False)[1]) > 0
    except RuntimeError:  # every value its no-data
        return False


def _read_mat(path: Path, scene: Scene, classes: Optional[list[ClassInfo]]
              ) -> tuple[np.ndarray, dict[int, ClassInfo]]:
    """A ground-truth map saved by MATLAB (e.g. ``Indian_pines_gt.mat``): the 2-D integer array of the scene's
    size (rows × cols), the one whose name says gt/label/map when there are several."""
    from ..datasets.registry import dataset_of_label_array
    from .read import SceneReadError, find_label_key, read_mat_arrays

    try:
        arrays = read_mat_arrays(path)
    except SceneReadError as exc:
        raise LabelReadError(f"cannot read the labels {path}: {exc}") from exc
    key = find_label_key(arrays, scene.shape)
    if key is None:
        abundances = _abundance_labels(path, arrays, scene.shape, classes)  # an unmixing benchmark's reference
        if abundances is not None:
            return abundances
        flat = {k: a for k, a in arrays.items() if getattr(a, "ndim", 0) == 2}
        shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in flat.items())
        if flat and all(tuple(a.shape) != tuple(scene.shape) for a in flat.values()):  # another scene's map
            bands_first = any(tuple(a.shape) == (scene.shape[1], scene.bands) for a in flat.values())
            raise LabelReadError(
                f"{path.name} holds {shapes}, none of the {_grid()}'s size {scene.shape[0]} × {scene.shape[1]}: "
                + (f"the {_grid()}'s cube was likely saved bands first (bands × rows × cols) and read as "
                   f"{scene.shape[0]} rows × {scene.shape[1]} columns × {scene.bands} bands; save it as rows × cols × "
                   "bands (numpy: cube.transpose(1, 2, 0)) or with a 'wavelength' vector beside it"
                   if bands_first else f"these labels belong to another {_grid()} (or crop); give the labels of this "
                   f"{_grid()}"))
        raise LabelReadError(f"{path.name} holds no single 2-D label map of the {_grid()}'s size {scene.shape[0]} × "
                             f"{scene.shape[1]} (2-D arrays: {shapes or 'none'}); save the map under a name with "
                             f"'gt' or 'label' in it, or as a label raster")
    values = np.asarray(arrays[key])
    labels, found = _class_ids_of(path, lambda row0, row1: values[row0:row1], values.shape, None, classes, [], None)
    spec = dataset_of_label_array(key)
    if spec is not None:  # a benchmark's ground truth: its classes' names and prompts, unless the class file gives them
        given = {c.id for c in classes or []}
        found = {i: c if i in given or i not in spec.class_names else
                 ClassInfo(i, spec.class_names[i], c.color, spec.prompts.get(i, "")) for i, c in found.items()}
    return labels, found


ABUNDANCE_PURITY = 0.8  # a pixel of abundances takes its largest endmember as class from this share (the benchmarks')


def abundance_cube(array: Any, shape: tuple[int, int]) -> Optional[np.ndarray]:
    """``(K, H, W)`` fractional abundances of a grid of ``shape`` from an unmixing dataset's array, as MATLAB files
    keep them (``(H, W, K)``, ``(K, H, W)``, or ``(K, H·W)`` / ``(H·W, K)`` in MATLAB's column order: Jasper Ridge's
    end4.mat, Samson.mat); None when the array is no such thing (its values must lie in 0..1 and sum to 1 a pixel,
    within a few per cent)."""
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.floating) or a.ndim not in (2, 3):
        return None
    rows, cols = shape
    if a.ndim == 3 and a.shape[:2] == (rows, cols) and a.shape[2] != rows:
        cube = np.transpose(a, (2, 0, 1))
    elif a.ndim == 3 and a.shape[1:] == (rows, cols):
        cube = a
    elif a.ndim == 2 and rows * cols in a.shape and min(a.shape) < rows * cols:
        from .read import matlab_pixel_grid

        cube = matlab_pixel_grid(a, rows, cols)
    else:
        return None
    if not 2 <= len(cube) <= 64 or not np.isfinite(cube).all():
        return None
    total = cube.sum(axis=0)
    if cube.min() < -0.05 or cube.max() > 1.05 or np.median(np.abs(total - 1)) > 0.05:
        return None
    return cube.astype(np.float32)


def _abundance_labels(path: Path, arrays: dict[str, Any], shape: tuple[int, int],
                      classes: Optional[list[ClassInfo]]) -> Optional[tuple[np.ndarray, dict[int, ClassInfo]]]:
    """Class ids ``1..K`` from the first array of ``arrays`` holding abundances of the grid (:func:`abundance_cube`):
    each pixel's largest endmember where it is at least :data:`ABUNDANCE_PURITY`, the benchmarks' rule (mixed pixels
    stay unlabelled), said in a warning; the classes are the class file's, else a benchmark's whose file this is,
    else ``endmember k``. None without such an array."""
    from ..datasets.loaders import dominant_endmember_labels
    from ..datasets.registry import list_datasets

    found = next(((k, c) for k, a in arrays.items() if (c := abundance_cube(a, shape)) is not None), None)
    if found is None:
        return None
    key, cube = found
    spec = next((d for d in list_datasets() for f in d.files if f.role == "abundances" and f.name == path.name), None)
    purity = float(spec.min_abundance) if spec is not None and spec.min_abundance else ABUNDANCE_PURITY
    labels = dominant_endmember_labels(cube, purity).astype(label_map_dtype(len(cube)))
    given = {c.id: c for c in classes or []}
    names = spec.class_names if spec is not None else {}
    prompts = spec.prompts if spec is not None else {}
    held = {i: given.get(i) or ClassInfo(i, names.get(i, f"endmember {i}"), default_color(i - 1), prompts.get(i, ""))
            for i in range(1, len(cube) + 1) if np.any(labels == i)}
    mixed = int((labels == 0).sum())
    logging.getLogger("hypersynth").warning(
        "%s holds abundances, not class ids ('%s', %s, %d endmembers): each pixel takes its largest endmember as its "
        "class where that abundance is at least %g (the unmixing benchmarks' rule); %d mixed pixels of %d stay "
        "unlabelled", path.name, key, " × ".join(map(str, np.shape(arrays[key]))), len(cube), purity, mixed,
        labels.size)
    return labels, held


def _truncated_raw(path: Path, ds: Any) -> Optional[str]:
    """Why a one-band ENVI or ESRI .hdr label raster shorter than its header describes cannot be read; None if it
    is whole."""
    from osgeo import gdal_array

    from .damaged import describe_truncated_raw

    dtype = gdal_array.GDALTypeCodeToNumericTypeCode(ds.GetRasterBand(1).DataType)
    return describe_truncated_raw(path, "labels", ds.GetDriver().ShortName, list(ds.GetFileList() or []),
                                  (ds.RasterCount, ds.RasterYSize, ds.RasterXSize), dtype,
                                  ds.GetMetadata("ENVI") or {})


def _class_ids_of(path: Path, read_rows: Callable[[int, int], np.ndarray], shape: tuple[int, int],
                  nodata: Optional[float], classes: Optional[list[ClassInfo]], names: list[str], table: Any,
                  block_rows: int = 1, first_file_row: int = 0) -> tuple[np.ndarray, dict[int, ClassInfo]]:
    """``(H, W)`` class ids from a label array read ``read_rows(row0, row1)`` a chunk of rows at a time (no-data
    and NaN: 0), and each id's class: the known one, else a name and colour from the file's categories and colour
    table, else ``class i``. Memory: the map (a byte a pixel for an array of bytes, else 2 while it is read, then
    :func:`label_map_dtype`'s) and one chunk's temporaries (``block_rows``: the file's block height, which the
    chunks are whole multiples of, from the file's row ``first_file_row``, the map's first)."""
    if nodata is not None and any(c.id == nodata for c in classes or []):  # the class would vanish without a word
        name = next(c.name for c in classes or [] if c.id == nodata)
        logging.getLogger("hypersynth").warning(
            "%s marks %g as no-data, which is also class %d (%s): its pixels are read as unlabelled; unset "
            "the no-data value (gdal_edit.py -unsetnodata %s) if they are labels", path.name, nodata,
            int(nodata), name, path.name)
    from .read import invalid_values

    labels: Optional[np.ndarray] = None  # (H, W), made for the largest id the file's type holds
    present: set[int] = set()
    for rows in row_strips(*shape, block_rows, first_file_row):
        values = read_rows(rows.start, rows.stop)  # (h, W) in the file's type
        if labels is None:
            largest = np.iinfo(values.dtype).max if values.dtype.kind in "ui" else MAX_CLASS_ID
            labels = np.zeros(shape, dtype=label_map_dtype(min(largest, MAX_CLASS_ID)))
        values = np.where(invalid_values(values[None], [nodata], None)[0], 0, values)  # NaN and no-data: unlabelled
        if values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
            raise LabelReadError(f"{path.name} holds fractional values; a label raster holds whole class ids "
                                 f"(0 = unlabelled)")
        if values.size and values.min() < 0:
            raise LabelReadError(f"{path.name} holds negative values ({values.min():g}); class ids are 1, 2, ... "
                                 f"(0 = unlabelled)")
        if values.size and values.max() > MAX_CLASS_ID:
            raise LabelReadError(f"{path.name} holds the value {values.max():g}; class ids run {CLASS_ID_RANGE} "
                                 f"(0 = unlabelled): renumber the classes, or set the value as the raster's "
                                 f"no-data if it marks unlabelled pixels")
        labels[rows] = values  # whole numbers within the id range and the file type's: exact
        present.update(int(v) for v in np.unique(values) if v != 0)
    if not present:
        raise NothingLabelled(f"{path.name} labels no pixel of the {_grid()}: every value is 0 (unlabelled)"
                             + (f", NaN or its no-data value {nodata:g}" if nodata is not None else " or NaN")
                             + "; give the raster with your labels (class ids 1, 2, ...)")
    compact = label_map_dtype(max(present))  # ids up to 255: a byte a pixel from here on
    labels = labels.astype(compact, copy=False) if labels is not None else np.zeros(shape, compact)
    known = {c.id: c for c in classes or []}
    found = {}
    for i in sorted(present):
        if i in known:
            found[i] = known[i]
            continue
        name = names[i].strip() if i < len(names) and names[i].strip() else f"class {i}"
        color = tuple(table.GetColorEntry(i)[:3]) if table is not None and i < table.GetCount() else None
        found[i] = ClassInfo(i, name, color or default_color(i - 1))
    return labels, found


# --------------------------------------------------------------------------- helpers


def _pixel_offset(transform: Optional[tuple[float, ...]], scene_transform: tuple[float, ...], same_shape: bool
                  ) -> Optional[tuple[int, int]]:
    """``(row, col)`` of the scene's first pixel in a raster of ``transform`` on the same pixel lattice, to a
    thousandth of a pixel: ``(0, 0)`` for the scene's own grid (a rotated one too, with ``same_shape``); else the same
    pixel size without rotation, corners a whole number of pixels apart. None otherwise."""
    if transform is None:
        return None
    tolerance = 1e-3 * abs(scene_transform[1])
    if same_shape and np.allclose(transform, scene_transform, rtol=0, atol=tolerance):
        return 0, 0
    x0, dx, rx, y0, ry, dy = transform
    sx0, sdx, srx, sy0, sry, sdy = scene_transform
    turned = max(abs(rx), abs(ry), abs(srx), abs(sry)) > 1e-9 * abs(sdx)  # rotated (not a writer's rounding)
    if turned or abs(dx - sdx) > 1e-6 * abs(sdx) or abs(dy - sdy) > 1e-6 * abs(sdy):
        return None
    col, row = (sx0 - x0) / dx, (sy0 - y0) / dy
    if abs(col - round(col)) * abs(dx) > tolerance or abs(row - round(row)) * abs(dy) > tolerance:
        return None
    return int(round(row)), int(round(col))


def _scene_geotransform(scene: Scene) -> tuple[float, ...]:
    return PIXEL_GRID_GDAL if tuple(scene.transform) == PIXEL_GRID else tuple(scene.transform)


def _scene_extent(scene: Scene) -> tuple[float, float, float, float]:
    """xmin, xmax, ymin, ymax of the scene's grid (corners through the geotransform, rotation included)."""
    x0, dx, rx, y0, ry, dy = _scene_geotransform(scene)
    rows, cols = scene.shape
    xs = [x0 + c * dx + r * rx for r in (0, rows) for c in (0, cols)]
    ys = [y0 + c * ry + r * dy for r in (0, rows) for c in (0, cols)]
    return min(xs), max(xs), min(ys), max(ys)


def _grid_text(shape: tuple[int, int], transform: Optional[tuple[float, ...]]) -> str:
    if transform is None:
        return f"{shape[0]}×{shape[1]} px, no geotransform"
    return f"{shape[0]}×{shape[1]} px, origin {transform[0]:.10g}, {transform[3]:.10g}, pixel {transform[1]:.6g}"


def _te(scene: Scene) -> str:
    x0, x1, y0, y1 = _scene_extent(scene)
    return f"{x0:.10g} {y0:.10g} {x1:.10g} {y1:.10g}"


def whole_number(value: Any) -> Optional[int]:
    """A field's value as a whole number (an integer, a whole real, or such text), else None."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    return int(text) if re.fullmatch(r"[-+]?[0-9]+", text) else None


def _name_key(name: str) -> str:
    """Class names match case-, space- and underscore-blind ('Low vegetation' == 'low_vegetation')."""
    return re.sub(r"[\s_]+", " ", name.strip().lower())


def _crs_name(srs: Any) -> str:
    code = srs.GetAuthorityCode(None)
    name = srs.GetName() or "an unnamed CRS"
    return f"{srs.GetAuthorityName(None)}:{code} {name}" if code else name


def _crs_argument(srs: Any) -> str:
    """The CRS as gdalwarp's -t_srs takes it: its authority code (EPSG:32633), else a placeholder to fill in."""
    code = srs.GetAuthorityCode(None)
    return f"{srs.GetAuthorityName(None)}:{code}" if code else f"<the {_grid()}'s CRS>"


def _crs_name_wkt(wkt: str) -> str:
    from osgeo import osr

    srs = osr.SpatialReference()
    return _crs_name(srs) if srs.ImportFromWkt(wkt) == 0 else "unknown CRS"


# a CSV's point columns GDAL's CSV driver takes for x and y (any case): a table of field points read as points
# (review: its rows had no geometry and were all left out)
CSV_POINT_COLUMNS = ["X_POSSIBLE_NAMES=x,lon,long,longitude,easting,east,x_*,*_x",
                     "Y_POSSIBLE_NAMES=y,lat,latitude,northing,north,y_*,*_y", "KEEP_GEOM_COLUMNS=NO"]


def _csv_degrees(path: Path) -> Any:
    """WGS 84 (EPSG:4326) for a CSV whose header names lon/lat columns (a CSV has no CRS to say it; review: its
    points were read in the scene's metres and lay off the scene), else None."""
    from osgeo import osr

    if path.suffix.lower() != ".csv":
        return None
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as table:
            header = {name.strip().strip('"').lower() for name in re.split(r"[,;\t]", table.readline())}
    except OSError:
        return None
    if not (header & {"lon", "long", "longitude"} and header & {"lat", "latitude"}):
        return None
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    logging.getLogger("hypersynth").info("%s: its lon/lat columns are read as WGS 84 degrees", path.name)
    return wgs84


def _open(path: Path, kind: int) -> Any:
    """gdal.OpenEx that gives None on failure whether or not someone switched on gdal.UseExceptions(); a CSV's x/y
    columns (:data:`CSV_POINT_COLUMNS`) are its points, as its WKT column is."""
    from osgeo import gdal

    options = CSV_POINT_COLUMNS if Path(path).suffix.lower() == ".csv" and kind & gdal.OF_VECTOR else []
    try:
        return gdal.OpenEx(str(path), kind, open_options=options)
    except RuntimeError:
        return None
