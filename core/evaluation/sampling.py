"""Stratified random validation samples of a class map, the design Olofsson et al. 2014 recommend for accuracy and area.

A map's accuracy and class areas are estimated without bias only from validation points drawn at random; brushed
polygons are not. This module draws points stratified by map class (the map's classes are the strata, as the
estimators of :mod:`.area` assume), writes them for the analyst to label (a ``class_id`` field left empty: label
each point by looking at the ground, not at the map), and records the design beside them, so the assessment can say
its intervals hold. Written here: no library of the field draws such samples from a raster read in strips.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

import numpy as np

from ..progress import NULL_REPORTER, Reporter

if TYPE_CHECKING:
    from ..scene import Scene

DESIGN_SUFFIX = ".design.json"  # beside the points: what was drawn from which map, read back by the assessment
POINT_ID_FIELD = "point_id"  # 1, 2, ... in the order drawn: a name for a point when two people label them
DEFAULT_PER_CLASS = 50  # Olofsson et al. 2014 (section 5.1.2) advise at least 50 points in every map class
MAX_POINTS = 100_000  # more than anyone labels by eye: a typo in the size, refused with what to give
MIN_PER_STRATUM = 2  # a stratum's variance needs two points: the least minimum per class a total may give
POINT_SUFFIXES = (".gpkg", ".shp", ".fgb")  # the point files a design describes (label_draw.POINT_FORMATS)

log = logging.getLogger("hypersynth")


class SamplingError(ValueError):
    """The sample cannot be drawn or written as asked; the message says what to change."""


@dataclass
class SampleDesign:
    """A stratified random sample of a class map's pixels: the map it was drawn from and how."""

    map_name: str  # the class map's file name
    map_shape: tuple[int, int]  # its rows and columns
    seed: int  # the random seed the points were drawn with
    allocation: str  # "equal" (the same number per class) or "proportional" (by mapped area, with a minimum)
    class_pixels: dict[int, int]  # the strata: map class id -> its pixels on the map
    sample_sizes: dict[int, int]  # map class id -> points drawn on it
    class_names: dict[int, str] = field(default_factory=dict)  # map class id -> its name, where the map names it
    notes: list[str] = field(default_factory=list)  # classes with fewer pixels than points asked, ...
    transform: tuple[float, ...] = ()  # the map's GDAL geotransform (the pixel grid's, without georeference)
    drawn: list[tuple[int, int, int]] = field(default_factory=list)  # (row, column, stratum) of each point, in
    # point_id order: which stratum a labelled point came from, when another map of the grid is assessed with it
    points_file: str = ""  # the points' file name: a design is read only beside the file it describes
    map_path: str = ""  # the class map's full path when drawn: names it where another map has the same file name
    crs_wkt: str = ""  # the map's CRS (WKT; "" without georeference): points saved in another CRS are found
    # Found when the labelled points are read (labelled_sample_design), not saved: point ids of labelled points no
    # longer on the pixel they were drawn at, moved to another pixel of the map, and moved off it.
    moved: list[int] = field(default_factory=list)
    off_map: list[int] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(self.sample_sizes.values())

    def map_label(self, other: Optional[str] = None) -> str:
        """What to call the sampled map beside a map whose file is named ``other``: its file name, or its full path
        where that is the same name (every run's map is classification.tif)."""
        return self.map_path if other == self.map_name and self.map_path else self.map_name

    def describe(self, other: Optional[str] = None) -> str:
        """One line for the analyst: how many points on which map (told from a map named ``other``), drawn how."""
        sizes = ", ".join(f"{self.class_names.get(c, f'class {c}')} {n}" for c, n in sorted(self.sample_sizes.items()))
        how = "the same number per map class" if self.allocation == "equal" else "by mapped area, with a minimum"
        return (f"a stratified random sample of {self.map_label(other)}: {self.points} points over "
                f"{len(self.sample_sizes)} map classes ({how}: {sizes}), seed {self.seed}")

    def grid_problem(self, shape: tuple[int, int], transform: Sequence[float]) -> Optional[str]:
        """None when a map of ``shape`` and ``transform`` has the sampled map's pixel grid, else how it differs."""
        if tuple(shape) != tuple(self.map_shape):
            return (f"they were drawn from a map of {self.map_shape[0]} × {self.map_shape[1]} pixels "
                    f"({self.map_name}), and this one has {shape[0]} × {shape[1]}")
        if self.transform and not np.allclose(transform, self.transform, rtol=0, atol=1e-6 * abs(self.transform[1])):
            return f"they were drawn on another pixel grid ({self.map_name}'s), which this map does not share"
        return None

    def check_placeable(self, shape: tuple[int, int], transform: Sequence[float], name: str) -> None:
        """Refuse to score the points ``name`` on a grid of ``shape`` and ``transform`` where neither it nor the
        sampled map has georeference and their sizes differ: nothing then says which pixels the points are on (a crop
        of such a map starts again at pixel 0, 0), so every figure would compare other places.

        Raises:
            SamplingError: saying what to assess instead.
        """
        from ..scene import PIXEL_GRID

        pixel_grids = tuple(transform) == PIXEL_GRID and tuple(self.transform or PIXEL_GRID) == PIXEL_GRID
        if pixel_grids and tuple(shape) != tuple(self.map_shape):
            raise SamplingError(
                f"{name} was drawn on {self.map_name}, {self.map_shape[0]} × {self.map_shape[1]} pixels without "
                f"georeference, and this grid has {shape[0]} × {shape[1]}: without georeference nothing places the "
                f"points on it (a crop starts again at pixel 0, 0); score them on {self.map_name}'s grid, or draw a "
                "sample of a map of this grid")

    def same_strata(self, class_pixels: dict[int, int], strata: np.ndarray, mapped: np.ndarray) -> bool:
        """Whether a map with these pixels per class, classing the scored points (their ``strata``) as ``mapped``,
        is the one sampled (its classes are the strata)."""
        return ({c: n for c, n in class_pixels.items() if c > 0 and n > 0} == self.class_pixels
                and np.array_equal(strata, mapped))

    def strata_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``(n,)`` the stratum each pixel ``(rows[k], cols[k])`` was drawn from, 0 where it is none of the points."""
        where = {(r, c): h for r, c, h in self.drawn}  # at most MAX_POINTS
        return np.array([where.get((int(r), int(c)), 0) for r, c in zip(rows, cols)], dtype=np.int64)

    def save(self, path: str | os.PathLike) -> None:
        """Write the design as JSON to ``path`` (:func:`design_file` of its points)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def displaced(self) -> Optional[str]:
        """What the analyst did to the drawn points that unmakes the sample (moved labelled points), or None."""
        if not self.moved and not self.off_map:
            return None
        ids = sorted(self.moved + self.off_map)
        named = ", ".join(map(str, ids[:8])) + (", …" if len(ids) > 8 else "")
        where = " and ".join(part for part in (f"{len(self.moved)} to another pixel" if self.moved else "",
                                               f"{len(self.off_map)} off the map" if self.off_map else "") if part)
        return (f"{len(ids)} of the labelled points {'were' if len(ids) > 1 else 'was'} moved from where "
                f"{'they were' if len(ids) > 1 else 'it was'} drawn ({POINT_ID_FIELD} {named}: {where}), and a moved "
                "point is no random draw (move it back, or clear its class, to keep the sample)")

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["moved"], out["off_map"]  # what the labelled points showed, not the design
        for key in ("class_pixels", "sample_sizes", "class_names"):
            out[key] = {str(k): v for k, v in out[key].items()}  # JSON keys are text
        out["map_shape"] = list(self.map_shape)
        out["transform"] = list(self.transform)
        out["drawn"] = [list(point) for point in self.drawn]
        out["kind"] = "stratified random sample, strata = map classes (Olofsson et al. 2014)"
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "SampleDesign":
        return cls(map_name=str(data["map_name"]), map_shape=(int(data["map_shape"][0]), int(data["map_shape"][1])),
                   seed=int(data["seed"]), allocation=str(data["allocation"]),
                   class_pixels={int(k): int(v) for k, v in data["class_pixels"].items()},
                   sample_sizes={int(k): int(v) for k, v in data["sample_sizes"].items()},
                   class_names={int(k): str(v) for k, v in data.get("class_names", {}).items()},
                   notes=[str(n) for n in data.get("notes", [])],
                   transform=tuple(float(v) for v in data.get("transform", ())),
                   drawn=[(int(r), int(c), int(h)) for r, c, h in data.get("drawn", [])],
                   points_file=str(data.get("points_file", "")), map_path=str(data.get("map_path", "")),
                   crs_wkt=str(data.get("crs_wkt", "")))


def design_file(points: str | os.PathLike) -> Path:
    """The design file beside the points: ``samples.gpkg`` -> ``samples.design.json``."""
    points = Path(points)
    return points.with_name(points.stem + DESIGN_SUFFIX)


def read_design(points: str | os.PathLike, scored: bool = False) -> Optional[SampleDesign]:
    """The design recorded beside the point file ``points`` for it, None where there is none (labels of any other
    origin: a raster, another file of the same stem) or it cannot be read (said; the assessment then treats the points
    as it treats any labels). ``scored``: the points are about to be scored, so a design beside them that names
    another file (the points renamed?) is said with how to mend it."""
    points = Path(points)
    path = design_file(points)
    if points.suffix.lower() not in POINT_SUFFIXES or not path.is_file():
        return None
    try:
        design = SampleDesign.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        log.warning("%s cannot be read (%s): %s is assessed as any validation labels", path.name, exc, points.name)
        return None
    if design.points_file != points.name:  # another file's (renamed, or a namesake of another format): not these
        log.log(logging.WARNING if scored else logging.INFO,
                "%s %s, not %s: %s is assessed as any validation labels, not as the sample; if it is %s, write "
                "\"points_file\": \"%s\" in %s", path.name,
                f"describes {design.points_file}" if design.points_file else "names no points file",
                points.name, points.name, f"{design.points_file} renamed" if design.points_file else "the sample drawn",
                points.name, path.name)
        return None
    return design


def copy_design(points: str | os.PathLike, copy: str | os.PathLike, scored: bool = False) -> None:
    """Put the design of the points ``points`` beside their copy ``copy`` (a layer written out with its edits), as
    the copy's own; ``scored``: as :func:`read_design` takes it."""
    design = read_design(points, scored)
    if design is not None:
        design.points_file = Path(copy).name
        design.save(design_file(copy))


def remove_design_of(points: str | os.PathLike) -> None:
    """Remove the design beside ``points`` that describes them: their file is being replaced by other points."""
    if read_design(points) is not None:
        design_file(points).unlink()


def labelled_sample_design(points: str | os.PathLike, class_field: Optional[str] = None,
                           grid: Optional["Scene"] = None, name: Optional[str] = None) -> Optional[SampleDesign]:
    """The design of validation labels drawn as a sample (:func:`read_design`; None for labels of any other origin),
    read once for the assessment or run that scores them on ``grid`` (a scene, or a map's grid), with the labelled
    points moved from where they were drawn (``moved``, ``off_map``); a sample of which no point has a class yet (the
    analyst's step not done), or that cannot be placed on the grid (:meth:`SampleDesign.check_placeable`), is
    refused, saying what to do. ``class_field``: the field the labels are read from (None or ``class_id``: the
    sample's own); ``name``: what messages call the points (a layer copied for a run: the layer, not the copy).

    Raises:
        SamplingError: naming the file and its points.
    """
    from osgeo import ogr

    from ..label_draw import CLASS_ID_FIELD, POINT_LAYER

    design = read_design(points, scored=True)
    if design is not None and grid is not None:
        design.check_placeable(grid.shape, grid.transform, name or Path(points).name)
    if design is None or (class_field is not None and class_field.lower() != CLASS_ID_FIELD):
        return design  # labels of another origin, or read from a field of the analyst's: the label reader checks
    try:
        ds = ogr.Open(str(points))
    except RuntimeError:  # GDAL set to raise: the label reader says what is wrong with the file
        return design
    layer = None if ds is None else ds.GetLayerByName(POINT_LAYER) or (ds.GetLayer(0) if ds.GetLayerCount() == 1
                                                                        else None)
    if layer is None or layer.GetLayerDefn().GetFieldIndex(CLASS_ID_FIELD) < 0:
        return design  # no longer the file drawn here: the label reader says what it finds
    layer.SetAttributeFilter(f"{CLASS_ID_FIELD} IS NOT NULL")
    if layer.GetFeatureCount() == 0:
        raise SamplingError(f"{name or Path(points).name}: none of its {design.points} validation points has a class "
                            f"yet: fill in each point's {CLASS_ID_FIELD} (the class you see on the ground or in finer "
                            "imagery, not the map's), save, and assess again")
    map_crs = design.crs_wkt or (grid.crs_wkt if grid is not None else None) or ""
    design.moved, design.off_map = _displaced_points(layer, design, map_crs)
    return design  # ds was open while its layer was read


def _displaced_points(layer: Any, design: SampleDesign, crs_wkt: str) -> tuple[list[int], list[int]]:
    """Point ids of the (filtered: labelled) features of ``layer`` no longer on the pixel drawn for their id: moved
    to another pixel of the map (``crs_wkt``: its CRS, "" for a pixel grid), and moved off it. Nothing found for a
    design without its grid (drawn before it was recorded), points in a CRS that cannot be compared with the map's
    (the label reader says what is wrong), or points without ids (the strata check sees points added by hand)."""
    from osgeo import gdal, osr

    from ..io.labels import whole_number
    from ..label_draw import CLASS_ID_FIELD
    from ..scene import PIXEL_GRID

    inverse = gdal.InvGeoTransform(tuple(design.transform)) if len(design.transform) == 6 else None
    if inverse is None or layer.GetLayerDefn().GetFieldIndex(POINT_ID_FIELD) < 0:
        return [], []
    to_map = None
    srs = layer.GetSpatialRef()
    if srs is not None and crs_wkt:  # saved in another CRS ("Save as…" can reproject): compared on the map's
        target = osr.SpatialReference()
        target.ImportFromWkt(crs_wkt)
        if not srs.IsSame(target):
            for ref in (srs, target):
                ref.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            to_map = osr.CoordinateTransformation(srs, target)
    elif srs is not None and tuple(design.transform) != PIXEL_GRID:
        return [], []  # points in a CRS and a georeferenced map of unknown CRS: not comparable here
    away: dict[int, bool] = {}  # point id -> on the map, for the ids none of whose labelled points is where drawn
    kept: set[int] = set()  # ids with a labelled point where drawn (a copy-pasted point beside it is an added one)
    layer.ResetReading()
    for feature in layer:
        point_id, geometry = whole_number(feature.GetField(POINT_ID_FIELD)), feature.GetGeometryRef()
        if point_id is None or not 1 <= point_id <= len(design.drawn) or geometry is None or geometry.IsEmpty():
            continue  # a point added by hand, or without a place: not a drawn point (the strata check sees added ones)
        if whole_number(feature.GetField(CLASS_ID_FIELD)) in (None, 0):
            continue  # 0: unlabelled, as the label reader reads it
        centre = geometry.Centroid()  # a point's own place; a polygon drawn over a point by hand, its centre
        x, y = centre.GetX(), centre.GetY()
        if to_map is not None:
            try:
                x, y, _ = to_map.TransformPoint(x, y)
            except RuntimeError:  # GDAL set to raise: the label reader says the CRS is wrong
                return [], []
        if not (math.isfinite(x) and math.isfinite(y)):
            return [], []  # no place on the map's CRS (a wrong CRS assigned): the label reader says so
        col = math.floor(inverse[0] + x * inverse[1] + y * inverse[2])
        row = math.floor(inverse[3] + x * inverse[4] + y * inverse[5])
        drawn_row, drawn_col, _ = design.drawn[point_id - 1]
        if (row, col) == (drawn_row, drawn_col):
            kept.add(point_id)
        else:
            away[point_id] = away.get(point_id, False) or (0 <= row < design.map_shape[0]
                                                           and 0 <= col < design.map_shape[1])
    moved = sorted(i for i, inside in away.items() if inside and i not in kept)
    return moved, sorted(i for i, inside in away.items() if not inside and i not in kept)


EXPECTED_ACCURACY = 0.8  # a map class's user's accuracy where none is given (--expected-accuracy's default)


def _expected(expected_accuracy: float | dict[int, float], class_id: int) -> float:
    """The user's accuracy expected of map class ``class_id``: one for all, or per class id (others
    :data:`EXPECTED_ACCURACY`)."""
    if isinstance(expected_accuracy, dict):
        return expected_accuracy.get(class_id, EXPECTED_ACCURACY)
    return expected_accuracy


def sample_size(class_pixels: dict[int, int], expected_accuracy: float | dict[int, float],
                target_error: float) -> int:
    """Points needed for the overall accuracy's standard error to be ``target_error`` (0..1), given each map class's
    expected user's accuracy (one for all, or per class id): Olofsson et al. 2014, eq. 13 (Cochran 1977, eq. 5.25),
    n = (Σ W_i S_i / S(Ô))², with W_i the class's share of the map and S_i = √(U_i (1 − U_i))."""
    if not 0 < target_error < 1:
        raise SamplingError(f"the target standard error is a fraction of 1, e.g. 0.01 for one point of accuracy; "
                            f"got {target_error}")
    total = sum(class_pixels.values())
    spread = 0.0
    for class_id, pixels in class_pixels.items():
        u = _expected(expected_accuracy, class_id)
        if not 0 < u < 1:
            raise SamplingError(f"an expected user's accuracy is a fraction between 0 and 1 (e.g. 0.8); got {u}")
        spread += pixels / total * math.sqrt(u * (1 - u))
    return int(math.ceil((spread / target_error) ** 2))


def expected_error(class_pixels: dict[int, int], sizes: dict[int, int],
                   expected_accuracy: float | dict[int, float]) -> float:
    """The overall accuracy's standard error that ``sizes`` points a class give where the map classes' user's
    accuracies are as expected: Olofsson et al. 2014, eq. 5, √(Σ W_i² U_i (1 − U_i) / (n_i − 1)), without the finite
    population correction (as eq. 13 has none)."""
    total = sum(class_pixels.values())
    variance = 0.0
    for class_id, pixels in class_pixels.items():
        u = _expected(expected_accuracy, class_id)
        n = sizes.get(class_id, 0)
        if pixels and n > 1:
            variance += (pixels / total) ** 2 * u * (1 - u) / (n - 1)
    return math.sqrt(variance)


def _error_reached(class_pixels: dict[int, int], sizes: dict[int, int], expected_accuracy: float | dict[int, float],
                   target_error: float) -> str:
    """The note on what ``--target-error``'s points reach: eq. 13 sizes the total for the best (Neyman) allocation,
    and the draw shares it by area with a minimum a class, so the standard error it gives differs a little
    (review: the help promised the target)."""
    reached = expected_error(class_pixels, sizes, expected_accuracy)
    unlisted = (sorted(c for c in class_pixels if c not in expected_accuracy)
                if isinstance(expected_accuracy, dict) else [])
    assumed = (f"; map class{'es' if len(unlisted) > 1 else ''} {', '.join(str(c) for c in unlisted)} "
               f"{'are' if len(unlisted) > 1 else 'is'} taken to be {EXPECTED_ACCURACY:g} right, not being in the "
               "expected accuracies"
               if unlisted else "")
    return (f"with the points shared this way and the user's accuracies as expected, the overall accuracy's standard "
            f"error is about {reached:.4f} (the target {target_error:g}: Olofsson et al.'s eq. 13 sizes the total for "
            f"the best allocation){assumed}")


def allocate(class_pixels: dict[int, int], *, per_class: Optional[int] = None, total: Optional[int] = None,
             min_per_class: int = DEFAULT_PER_CLASS) -> tuple[dict[int, int], list[str]]:
    """Points per map class, and notes on classes given fewer than asked (they have fewer pixels).

    ``per_class``: the same number on every class (equal allocation). ``total``: that many points shared by mapped
    area, each class given at least ``min_per_class`` (Olofsson et al. 2014's advice: enough on rare classes for
    their user's accuracy, the rest where the area is), rounded by largest remainder so they add up to ``total``.
    """
    classes = sorted(c for c, n in class_pixels.items() if n > 0)
    if not classes:
        raise SamplingError("the map has no classified pixel to draw from (every pixel is no data or 0)")
    if (per_class is None) == (total is None):
        raise SamplingError("give the points per class or the total, not both")
    notes: list[str] = []
    if per_class is not None:
        if per_class < MIN_PER_STRATUM or per_class * len(classes) > MAX_POINTS:
            raise SamplingError(f"points per class must be {MIN_PER_STRATUM} to {MAX_POINTS // len(classes):,} for "
                                f"{len(classes)} classes (a map class's variance needs two); got {per_class}")
        sizes = {c: min(per_class, class_pixels[c]) for c in classes}
    else:
        assert total is not None
        if not 1 <= total <= MAX_POINTS:
            raise SamplingError(f"the total number of points must be 1 to {MAX_POINTS:,}; got {total}")
        if min_per_class < MIN_PER_STRATUM:
            raise SamplingError(f"the minimum per class must be at least {MIN_PER_STRATUM} (a map class's variance "
                                f"needs two points; Olofsson et al. 2014 advise 50); got {min_per_class}")
        if min_per_class * len(classes) > total:
            raise SamplingError(f"{total} points cannot give each of the {len(classes)} map classes "
                                f"{min_per_class}: give a total of at least {min_per_class * len(classes)} or a lower "
                                "minimum per class")
        classified = sum(class_pixels[c] for c in classes)
        if total > classified:
            notes.append(f"the map has only {classified} classified pixels: all of them are drawn")
        sizes = _proportional(class_pixels, classes, min(total, classified), min_per_class)
    for c in classes:
        asked = per_class if per_class is not None else min_per_class
        if class_pixels[c] < asked:
            notes.append(f"map class {c} has only {class_pixels[c]} pixels: all of them are drawn")
    small = sorted(c for c in classes if sizes[c] < min(DEFAULT_PER_CLASS, class_pixels[c]))
    if small:  # a class whose few points all agree reads ± 0.0 (review: 5 a class went by without a word)
        fewest = min(sizes[c] for c in small)
        notes.append(f"map class{'es' if len(small) > 1 else ''} {', '.join(str(c) for c in small)} "
                     f"{'get' if len(small) > 1 else 'gets'} fewer than the {DEFAULT_PER_CLASS} points a class "
                     f"Olofsson et al. 2014 advise (the fewest: {fewest}): their intervals will be wide, or read "
                     f"± 0 where all their points agree, which is no certainty; draw at least {DEFAULT_PER_CLASS} "
                     "points a class for a tighter estimate")
    return sizes, notes


def _proportional(class_pixels: dict[int, int], classes: list[int], total: int, floor: int) -> dict[int, int]:
    """``total`` points by mapped area, each class at least ``floor`` and at most its pixels."""
    fixed: dict[int, int] = {}
    while True:  # classes whose share falls under the floor (or over their pixels) are fixed there; the rest re-shared
        free = [c for c in classes if c not in fixed]
        rest = total - sum(fixed.values())
        area = sum(class_pixels[c] for c in free)
        share = {c: rest * class_pixels[c] / area for c in free} if area else {}
        out = {c for c in free if share[c] < min(floor, class_pixels[c]) or share[c] > class_pixels[c]}
        if not out:
            break
        for c in out:
            fixed[c] = min(floor, class_pixels[c]) if share[c] < min(floor, class_pixels[c]) else class_pixels[c]
    sizes = dict(fixed) | {c: int(math.floor(share[c])) for c in free}
    by_remainder = sorted(free, key=lambda c: (-(share[c] - math.floor(share[c])), c))
    for c in by_remainder[:total - sum(sizes.values())]:
        sizes[c] += 1
    return {c: sizes[c] for c in classes}


def draw_points(strips: Iterable[tuple[slice, np.ndarray]], class_pixels: dict[int, int], sizes: dict[int, int],
                seed: int, height: int, reporter: Reporter = NULL_REPORTER
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, map class ids)`` of the points, in random order: ``sizes[c]`` pixels drawn without replacement,
    each with the same chance, among the ``class_pixels[c]`` pixels of map class ``c``; ``strips`` yields ``(rows,
    (h, W) class ids)`` of the map's ``height`` rows in order (one strip is held: the ranks drawn are found in the
    strips as they pass)."""
    rng = np.random.default_rng(seed)
    wanted = {c: np.sort(rng.choice(class_pixels[c], sizes[c], replace=False)) for c in sorted(sizes) if sizes[c]}
    seen = dict.fromkeys(wanted, 0)
    rows_out, cols_out, ids_out = [], [], []
    for rows, class_ids in strips:
        reporter.check()
        for c, ranks in wanted.items():
            r, k = np.nonzero(class_ids == c)  # row-major, as the ranks count
            lo, hi = np.searchsorted(ranks, [seen[c], seen[c] + r.size])
            picked = ranks[lo:hi] - seen[c]
            rows_out.append(r[picked] + rows.start)
            cols_out.append(k[picked])
            ids_out.append(np.full(picked.size, c, np.int64))
            seen[c] += r.size
        reporter.progress(0.5 + 0.4 * rows.stop / max(height, 1), "drawing the points")
    if not rows_out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows_all, cols_all, ids_all = np.concatenate(rows_out), np.concatenate(cols_out), np.concatenate(ids_out)
    canonical = np.lexsort((cols_all, rows_all))  # row-major whatever the strips were, then shuffled: the order to
    rows_all, cols_all, ids_all = rows_all[canonical], cols_all[canonical], ids_all[canonical]
    order = rng.permutation(rows_all.size)  # label them in gives no hint of their map class
    return rows_all[order], cols_all[order], ids_all[order]


def _total_for_error(class_pixels: dict[int, int], expected_accuracy: float | dict[int, float], target_error: float,
                     min_per_class: int) -> tuple[int, list[str]]:
    """The total for ``target_error`` (:func:`sample_size`), raised to the minimum per class when that asks more (a
    note says so), refused in the target's terms when it asks more than :data:`MAX_POINTS`."""
    needed = sample_size(class_pixels, expected_accuracy, target_error)
    if needed > MAX_POINTS:
        raise SamplingError(f"a standard error of {target_error:g} needs {needed:,} points, more than the "
                            f"{MAX_POINTS:,} drawn at most; give a larger target error (e.g. "
                            f"{target_error * math.sqrt(needed / MAX_POINTS) * 1.01:.3g})")
    floor = min_per_class * sum(1 for n in class_pixels.values() if n > 0)
    if needed >= floor:
        return needed, []
    return floor, [f"a standard error of {target_error:g} needs {needed} points; the total is raised to {floor}, so "
                   f"that every map class gets the minimum of {min_per_class} (or all its pixels)"]


def sample_validation(class_map_path: str | os.PathLike, points: str | os.PathLike, *, seed: int,
                      per_class: Optional[int] = None, total: Optional[int] = None,
                      min_per_class: int = DEFAULT_PER_CLASS, target_error: Optional[float] = None,
                      expected_accuracy: float | dict[int, float] = EXPECTED_ACCURACY, overwrite: bool = False,
                      reporter: Reporter = NULL_REPORTER) -> SampleDesign:
    """Draw a stratified random sample of the map's classified pixels and write it: points at the pixel centres with
    an empty ``class_id`` (the analyst's reference class) and a ``point_id``, and the design beside them
    (:func:`design_file`). Without ``per_class``, ``total`` or ``target_error``: :data:`DEFAULT_PER_CLASS` a class.
    ``target_error``: the total from :func:`sample_size`, shared by area (:func:`allocate`). The map is read a strip
    at a time, twice; the files appear together or not at all.

    Raises:
        SamplingError: a size that cannot be drawn, an output that cannot be written (what to change).
        OutputExistsError: the points or their design exist and ``overwrite`` is False.
        ValueError: the map cannot be read, or is no class map (:func:`~.assess.check_class_ids`).
    """
    import rasterio

    from ..io.read import dataset_grid, opened_quietly
    from ..io.write import atomic_output
    from ..label_draw import CLASS_ID_FIELD, LabelDrawError, check_draw_outputs, drop_stale_parts, write_pixel_points
    from .assess import class_counts, class_names_of_map, map_strips

    if sum(x is not None for x in (per_class, total, target_error)) > 1:
        raise SamplingError("give one of: points per class, a total, or a target standard error")
    points = Path(points)
    try:
        with opened_quietly(class_map_path) as src:
            if src.count != 1:
                raise SamplingError(f"{Path(class_map_path).name} has {src.count} bands; a class map has one")
            transform, crs_wkt = dataset_grid(src)
            try:
                check_draw_outputs(points, None, georeferenced=bool(crs_wkt), inputs=(class_map_path,),
                                   overwrite=overwrite, what="validation points", beside=design_file(points))
            except LabelDrawError as exc:
                raise SamplingError(str(exc)) from exc
            shape = (src.height, src.width)
            counts = {c: n for c, n in class_counts(src, class_map_path, reporter.sub(0.0, 0.5)).items() if c > 0}
            said = []
            if target_error is not None:
                total, said = _total_for_error(counts, expected_accuracy, target_error, min_per_class)
            if per_class is None and total is None:
                per_class = DEFAULT_PER_CLASS
            sizes, notes = allocate(counts, per_class=per_class, total=total, min_per_class=min_per_class)
            if target_error is not None:
                said.append(_error_reached(counts, sizes, expected_accuracy, target_error))
            notes = said + notes
            rows, cols, strata = draw_points(map_strips(src, class_map_path), counts, sizes, seed, src.height,
                                             reporter)
    except rasterio.errors.RasterioIOError as exc:
        raise ValueError(f"cannot read the class map {class_map_path}: {exc}") from exc
    names = class_names_of_map(class_map_path)
    design = SampleDesign(Path(class_map_path).name, shape, seed, "equal" if per_class is not None else "proportional",
                          dict(sorted(counts.items())), sizes, {c: names[c] for c in sizes if c in names}, notes,
                          tuple(float(v) for v in transform), list(zip(rows.tolist(), cols.tolist(), strata.tolist())),
                          points_file=points.name, map_path=str(Path(class_map_path).resolve()), crs_wkt=crs_wkt or "")
    reporter.progress(0.9, "writing the points")
    with atomic_output(design_file(points), overwrite=overwrite) as tmp_design, \
            atomic_output(points, overwrite=overwrite) as tmp_points:  # both, or neither; the points moved first
        write_pixel_points(tmp_points, rows, cols, transform, crs_wkt, [
            (POINT_ID_FIELD, "integer", list(range(1, rows.size + 1))),
            (CLASS_ID_FIELD, "integer", [None] * rows.size)])
        design.save(tmp_design)
        if overwrite:
            drop_stale_parts(points, tmp_points)
    reporter.progress(1.0, "done")
    return design
