"""A procedural hyperspectral scene with full ground truth, so HyperSynth can be tried without any download."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from scipy import ndimage
from scipy.interpolate import PchipInterpolator

from .scene import ClassInfo, LabelledScene, Scene

# Written by hand: no maintained library generates labelled hyperspectral scenes (torchgeo and
# diffusers only load or learn real ones), and the demo must work offline with no weights or data.

# Where the demo sits: UTM zone 33N (Potsdam, Germany), 10 m pixels, north-up.
DEMO_EPSG = 32633
DEMO_PIXEL_SIZE_M = 10.0
DEMO_ORIGIN = (368_000.0, 5_810_000.0)  # upper-left corner (easting, northing), metres

# Atmospheric water-vapour windows where real sensors see almost nothing; those bands are flagged bad.
WATER_VAPOUR_WINDOWS_NM = ((1340.0, 1460.0), (1790.0, 1960.0))


@dataclass(frozen=True)
class DemoClass:
    """One land-cover class of the demo scene and the reflectance anchors its spectrum is built from."""

    name: str  # class name as the analyst sees it
    prompt: str  # short description to condition synthesis on
    color: tuple[int, int, int]  # RGB map colour
    anchors: tuple[tuple[float, float], ...]  # (wavelength nm, reflectance 0..1) points of the typical spectrum


# Typical spectra, drawn by hand after the shapes in standard spectral libraries (USGS splib07, ECOSTRESS):
# vegetation with a green peak, chlorophyll well and red edge; leaf-water bands at 970/1200/1450/1940 nm;
# soil rising slowly with a clay feature at 2200 nm; water dark beyond 700 nm; asphalt dark and flat.
DEMO_CLASSES: tuple[DemoClass, ...] = (
    DemoClass("water", "calm open water of a lake", (31, 119, 180),
              ((400, 0.06), (480, 0.07), (560, 0.06), (650, 0.03), (700, 0.02), (800, 0.012), (1000, 0.008),
               (1300, 0.005), (1700, 0.004), (2200, 0.003), (2500, 0.003))),
    DemoClass("asphalt road", "asphalt road", (100, 100, 100),
              ((400, 0.05), (500, 0.065), (700, 0.085), (1000, 0.105), (1300, 0.12), (1700, 0.14), (1730, 0.125),
               (1800, 0.14), (2100, 0.15), (2310, 0.12), (2500, 0.13))),
    DemoClass("bare soil", "bare ploughed soil", (166, 118, 60),
              ((400, 0.07), (500, 0.11), (600, 0.17), (700, 0.22), (900, 0.25), (1100, 0.29), (1400, 0.28),
               (1650, 0.34), (1900, 0.28), (2100, 0.33), (2200, 0.28), (2350, 0.29), (2500, 0.26))),
    DemoClass("dry grass", "dry senescent grassland", (222, 205, 110),
              ((400, 0.05), (500, 0.08), (600, 0.14), (680, 0.18), (750, 0.26), (900, 0.32), (1100, 0.36),
               (1200, 0.33), (1450, 0.24), (1650, 0.37), (1940, 0.18), (2100, 0.28), (2200, 0.26), (2300, 0.25),
               (2500, 0.16))),
    DemoClass("green crop", "green crop field in full growth", (120, 200, 60),
              ((400, 0.03), (500, 0.045), (550, 0.11), (600, 0.06), (670, 0.03), (700, 0.09), (750, 0.43),
               (800, 0.48), (1000, 0.47), (1100, 0.46), (1200, 0.39), (1300, 0.41), (1450, 0.17), (1650, 0.30),
               (1800, 0.25), (1940, 0.06), (2200, 0.15), (2500, 0.05))),
    DemoClass("deciduous forest", "deciduous broadleaf forest", (20, 110, 40),
              ((400, 0.025), (500, 0.035), (550, 0.075), (600, 0.045), (670, 0.025), (700, 0.07), (750, 0.33),
               (800, 0.37), (1000, 0.36), (1100, 0.35), (1200, 0.29), (1300, 0.31), (1450, 0.12), (1650, 0.22),
               (1800, 0.18), (1940, 0.04), (2200, 0.10), (2500, 0.035))),
    DemoClass("red tile roof", "red clay tile roofs", (200, 60, 50),
              ((400, 0.05), (500, 0.06), (560, 0.08), (600, 0.17), (700, 0.27), (900, 0.33), (1100, 0.37),
               (1400, 0.39), (1700, 0.42), (1900, 0.40), (2200, 0.41), (2500, 0.38))),
    DemoClass("conifer forest", "dense conifer forest", (10, 70, 50),
              ((400, 0.02), (500, 0.03), (550, 0.055), (600, 0.035), (670, 0.02), (700, 0.05), (750, 0.22),
               (800, 0.25), (1000, 0.25), (1100, 0.24), (1200, 0.20), (1300, 0.21), (1450, 0.08), (1650, 0.15),
               (1800, 0.12), (1940, 0.03), (2200, 0.07), (2500, 0.025))),
)

_WATER, _ROAD, _ROOF, _SOIL = "water", "asphalt road", "red tile roof", "bare soil"
_VEGETATION = {"dry grass", "green crop", "deciduous forest", "conifer forest"}


@dataclass
class DemoFiles:
    """The files :func:`write_demo` writes, all on the same 10 m UTM grid."""

    scene: Path  # float32 GeoTIFF cube with wavelengths (reflectance 0..1)
    labels: Path  # sparse label raster: a few labelled pixels per class, 0 elsewhere
    ground_truth: Path  # full ground-truth label raster, for validation only
    labels_gpkg: Path  # GeoPackage of the sparse labels as points, fields `class` (text) and `class_id` (int)
    classes_json: Path  # class ids, names, colours and prompts


def demo_classes(n_classes: int = 6) -> list[ClassInfo]:
    """The first ``n_classes`` demo classes as :class:`ClassInfo` with ids 1..n_classes."""
    _check_n_classes(n_classes)
    return [ClassInfo(id=i + 1, name=c.name, color=c.color, prompt=c.prompt)
            for i, c in enumerate(DEMO_CLASSES[:n_classes])]


def make_demo_scene(size: int = 96, bands: int = 120, n_classes: int = 6, seed: int = 0) -> LabelledScene:
    """A deterministic synthetic hyperspectral scene with full ground truth.

    Fields of land cover (warped Voronoi cells) crossed by a road, spectra built from typical library
    shapes, region-to-region and pixel-to-pixel spectral variability, illumination changes, mixed pixels
    at every boundary (a sensor point-spread function) and sensor noise. Classes overlap, so the scene
    is easy but not trivial to classify.

    Args:
        size: side of the square grid in pixels (at least 32).
        bands: number of bands spread evenly over 400–2500 nm (at least 10).
        n_classes: how many of :data:`DEMO_CLASSES` to use, in order (2..8).
        seed: the same seed always gives the same scene.

    Returns:
        A georeferenced scene (UTM 33N, 10 m pixels) whose ``labels`` hold every pixel's class (1..n_classes).
    """
    if size < 32:
        raise ValueError(f"demo size must be at least 32 pixels; got {size}")
    if bands < 10:
        raise ValueError(f"demo bands must be at least 10; got {bands}")
    _check_n_classes(n_classes)
    rng = np.random.default_rng(seed)
    classes = DEMO_CLASSES[:n_classes]
    wavelengths = np.linspace(400.0, 2500.0, bands)  # (B,)
    library = np.stack([_spectrum(c.anchors, wavelengths) for c in classes])  # (K, B)

    class_map, region_map = _layout(size, classes, rng)  # (H, W) class index 0..K-1, (H, W) region id
    pure = _pure_cube(class_map, region_map, classes, library, wavelengths, rng)  # (H, W, B)

    # Linear mixing at boundaries: a Gaussian sensor PSF averages neighbouring pure pixels.
    mixed = ndimage.gaussian_filter(pure, sigma=(0.7, 0.7, 0.0), mode="nearest")  # (H, W, B)
    # Illumination: smooth terrain shading times a small per-pixel jitter.
    shading = 1.0 + 0.12 * _smooth_field(size, sigma=size / 6, rng=rng) + rng.normal(0.0, 0.02, (size, size))
    cube = mixed * shading[:, :, None]  # (H, W, B)

    # Atmosphere and sensor: water-vapour bands nearly opaque; noise highest at the spectrum ends.
    vapour = _in_windows(wavelengths, WATER_VAPOUR_WINDOWS_NM)  # (B,)
    cube[:, :, vapour] *= 0.05
    noise_sd = 0.004 + 0.006 * ((wavelengths - 1450.0) / 1050.0) ** 2 + 0.01 * vapour  # (B,)
    cube = cube + rng.normal(0.0, 1.0, cube.shape) * noise_sd  # (H, W, B)

    scene = Scene(
        cube=np.ascontiguousarray(cube.transpose(2, 0, 1), dtype=np.float32),  # (B, H, W)
        valid=np.ones((size, size), dtype=bool),
        wavelengths=wavelengths,
        fwhm=np.full(bands, 1.2 * (wavelengths[1] - wavelengths[0])),
        good_bands=~vapour,
        transform=demo_transform(),
        crs_wkt=demo_crs_wkt(),
        name=f"HyperSynth demo (seed {seed})",
    )
    labels = (class_map + 1).astype(np.int32)  # (H, W) ids 1..K
    return LabelledScene(scene=scene, labels=labels, classes=demo_classes(n_classes))


def sparse_labels(labels: np.ndarray, n_per_class: int = 5, seed: int = 0) -> np.ndarray:
    """Keep ``n_per_class`` labelled pixels per class, as an analyst clicking a few samples would.

    Pixels in pure interiors (all 8 neighbours of the same class) are preferred; a class with too few
    interior pixels is topped up from its edges, and a class with fewer pixels than asked keeps them all.

    Args:
        labels: ``(H, W)`` integer label map, 0 = unlabelled.
        n_per_class: labelled pixels to keep per class (at least 1).
        seed: the same seed picks the same pixels.

    Returns:
        ``(H, W)`` int32 label map with at most ``n_per_class`` pixels of each class, 0 elsewhere.
    """
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D (rows, cols) map; got shape {labels.shape}")
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1; got {n_per_class}")
    rng = np.random.default_rng(seed)
    out = np.zeros(labels.shape, dtype=np.int32)
    for class_id in np.unique(labels[labels > 0]):
        mask = labels == class_id
        interior = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), border_value=0)
        core = np.flatnonzero(interior)
        edge = np.flatnonzero(mask & ~interior)
        picked = rng.choice(core, size=min(n_per_class, core.size), replace=False)
        missing = n_per_class - picked.size
        if missing > 0 and edge.size:
            picked = np.concatenate([picked, rng.choice(edge, size=min(missing, edge.size), replace=False)])
        out.flat[picked] = class_id
    return out


def write_demo(folder: Union[str, Path], *, seed: int = 0, n_per_class: int = 5, overwrite: bool = False
               ) -> DemoFiles:
    """Write the default demo scene and its labels as files an analyst opens in QGIS.

    Args:
        folder: created if needed; receives ``demo_scene.tif``, ``demo_labels.tif``,
            ``demo_ground_truth.tif``, ``demo_label_points.gpkg`` and ``demo_classes.json`` (the points
            get their own name: QGIS would apply the label raster's ``demo_labels.qml`` style to them).
        seed: scene and label-picking seed.
        n_per_class: sparse labelled pixels per class.
        overwrite: replace existing files; otherwise an existing file raises ``FileExistsError``.
    """
    from .io.classes import write_classes
    from .io.write import write_label_raster, write_scene

    folder = Path(folder)
    files = DemoFiles(scene=folder / "demo_scene.tif", labels=folder / "demo_labels.tif",
                      ground_truth=folder / "demo_ground_truth.tif", labels_gpkg=folder / "demo_label_points.gpkg",
                      classes_json=folder / "demo_classes.json")
    if not overwrite:
        existing = [str(p) for p in vars(files).values() if p.exists()]
        if existing:
            raise FileExistsError(f"demo files already exist (pass overwrite=True to replace them): {existing}")
    folder.mkdir(parents=True, exist_ok=True)
    demo = make_demo_scene(seed=seed)
    sparse = sparse_labels(demo.labels, n_per_class=n_per_class, seed=seed)
    scene = demo.scene
    write_scene(scene, files.scene, overwrite=overwrite, unit_type="reflectance")  # its spectra are reflectance
    write_label_raster(files.labels, sparse, demo.classes, transform=scene.transform, crs_wkt=scene.crs_wkt,
                       overwrite=overwrite)
    write_label_raster(files.ground_truth, demo.labels, demo.classes, transform=scene.transform,
                       crs_wkt=scene.crs_wkt, overwrite=overwrite)
    write_label_points(files.labels_gpkg, sparse, demo.classes, scene.transform, scene.crs_wkt, overwrite)
    write_classes(files.classes_json, demo.classes, overwrite=overwrite)
    return files


def demo_transform() -> tuple[float, ...]:
    """GDAL geotransform of the demo grid (north-up, 10 m pixels)."""
    x0, y0 = DEMO_ORIGIN
    return (x0, DEMO_PIXEL_SIZE_M, 0.0, y0, 0.0, -DEMO_PIXEL_SIZE_M)


def demo_crs_wkt() -> str:
    """WKT of the demo CRS (WGS 84 / UTM zone 33N)."""
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(DEMO_EPSG)
    return str(srs.ExportToWkt())


# --- building blocks ---------------------------------------------------------------------------------

def _check_n_classes(n_classes: int) -> None:
    if not 2 <= n_classes <= len(DEMO_CLASSES):
        raise ValueError(f"the demo has 2..{len(DEMO_CLASSES)} classes; got n_classes={n_classes}")


def _spectrum(anchors: tuple[tuple[float, float], ...], wavelengths: np.ndarray) -> np.ndarray:
    """Smooth reflectance through the anchor points (monotone cubic, so no overshoot below 0)."""
    nm, refl = np.array(anchors, dtype=float).T
    return np.clip(PchipInterpolator(nm, refl)(wavelengths), 0.001, 1.0)  # (B,)


def _in_windows(wavelengths: np.ndarray, windows: tuple[tuple[float, float], ...]) -> np.ndarray:
    inside = np.zeros(wavelengths.shape, dtype=bool)
    for lo, hi in windows:
        inside |= (wavelengths >= lo) & (wavelengths <= hi)
    return inside


def _smooth_field(size: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered white noise scaled to about -1..1: smooth random terrain."""
    field = ndimage.gaussian_filter(rng.normal(size=(size, size)), sigma=sigma, mode="wrap")
    return field / (np.abs(field).max() + 1e-12)  # (H, W)


def _layout(size: int, classes: tuple[DemoClass, ...], rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Class index and region id per pixel: warped Voronoi fields, a road, small roofs beside it."""
    names = [c.name for c in classes]
    area = [k for k, n in enumerate(names) if n not in (_ROAD, _ROOF)]  # classes that fill fields
    n_cells = max(3 * len(area), size * size // 400)
    seeds = rng.uniform(0, size, size=(n_cells, 2))  # (C, 2) row, col
    cell_class = np.array([area[i % len(area)] for i in rng.permutation(n_cells)])  # (C,) every class >= 3 cells

    rows, cols = np.mgrid[0:size, 0:size].astype(float)  # (H, W) each
    # Warp the coordinates with smooth noise so field borders wiggle like real parcels and shores.
    warp = size / 10
    wr = rows + warp * _smooth_field(size, size / 8, rng)
    wc = cols + warp * _smooth_field(size, size / 8, rng)
    dist = (wr[None] - seeds[:, 0, None, None]) ** 2 + (wc[None] - seeds[:, 1, None, None]) ** 2  # (C, H, W)
    region = np.argmin(dist, axis=0)  # (H, W)
    class_map = cell_class[region]  # (H, W)

    if _ROAD in names:
        road = _road_mask(size, rng)
        class_map[road] = names.index(_ROAD)
        region[road] = n_cells
        if _ROOF in names:
            roofs = _roof_mask(size, road, rng) & (class_map != names.index(_WATER))  # no houses in the lake
            class_map[roofs] = names.index(_ROOF)
            region[roofs] = n_cells + 1 + ndimage.label(roofs)[0][roofs]
    return class_map, region


def _road_mask(size: int, rng: np.random.Generator, width: float = 3.0) -> np.ndarray:
    """A gently curving 3-pixel road across the scene from the left edge to the right edge."""
    cols = np.arange(size, dtype=float)
    start, end = rng.uniform(0.2 * size, 0.8 * size, 2)
    bend = rng.uniform(-0.1, 0.1) * size * np.sin(np.pi * cols / size)
    centre = start + (end - start) * cols / size + bend  # (W,) road centre row per column
    rows = np.arange(size, dtype=float)[:, None]
    return np.abs(rows - centre[None, :]) < width / 2  # (H, W)


def _roof_mask(size: int, road: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A row of small rectangular buildings a few pixels off the road."""
    roofs = np.zeros_like(road)
    road_rows = [np.flatnonzero(road[:, c]) for c in range(size)]
    for c in range(2, size - 6, max(8, size // 10)):
        if not road_rows[c].size:
            continue
        top = road_rows[c].max() + 3  # two pixels of verge between road and house
        h, w = int(rng.integers(3, 5)), int(rng.integers(3, 6))
        roofs[top:top + h, c:c + w] = True
    return roofs & ~road


def _pure_cube(class_map: np.ndarray, region: np.ndarray, classes: tuple[DemoClass, ...], library: np.ndarray,
               wavelengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each pixel's unmixed spectrum: its class's spectrum varied per region and per pixel."""
    size = class_map.shape[0]
    n_regions = int(region.max()) + 1
    bands = wavelengths.size
    # Smooth spectral perturbation shapes: low-order cosines over the spectrum.
    x = (wavelengths - wavelengths[0]) / (wavelengths[-1] - wavelengths[0])  # (B,) 0..1
    basis = np.stack([np.cos(np.pi * k * x) for k in range(1, 5)])  # (4, B)

    # Region variability (field to field: variety, growth stage, moisture): shape change and brightness.
    region_shape = 1.0 + rng.normal(0.0, 0.08, (n_regions, 4)) @ basis  # (R, B)
    region_gain = rng.uniform(0.85, 1.15, n_regions)  # (R,)
    # Pixel variability (endmember variability within a field).
    pixel_shape = 1.0 + rng.normal(0.0, 0.03, (size * size, 4)) @ basis  # (N, B)
    pixel_gain = rng.normal(1.0, 0.05, size * size)  # (N,)

    flat_class = class_map.ravel()  # (N,)
    flat_region = region.ravel()  # (N,)
    spectra = library[flat_class] * region_shape[flat_region] * pixel_shape  # (N, B)
    spectra *= (region_gain[flat_region] * pixel_gain)[:, None]

    # Vegetation covers the ground only in part: mix in some bare soil (sparser in some fields than others).
    names = [c.name for c in classes]
    soil = library[names.index(_SOIL)] if _SOIL in names else _spectrum(DEMO_CLASSES[2].anchors, wavelengths)
    veg = np.isin(flat_class, [k for k, n in enumerate(names) if n in _VEGETATION])  # (N,)
    region_cover = rng.uniform(0.0, 0.3, n_regions)  # (R,) mean soil fraction per field
    soil_fraction = np.clip(region_cover[flat_region] + rng.normal(0.0, 0.05, size * size), 0.0, 0.6) * veg  # (N,)
    spectra = (1.0 - soil_fraction)[:, None] * spectra + soil_fraction[:, None] * soil[None, :]  # (N, B)
    return np.clip(spectra, 0.0, 1.0).reshape(size, size, bands)  # (H, W, B)


def write_label_points(path: Path, labels: np.ndarray, classes: list[ClassInfo], transform: tuple[float, ...],
                        crs_wkt: str, overwrite: bool) -> None:
    """The labelled pixels as points at pixel centres, in a GeoPackage layer ``labels``."""
    from osgeo import ogr, osr

    from .io.write import atomic_output

    names = {c.id: c.name for c in classes}
    x0, dx, rx, y0, ry, dy = transform
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    with atomic_output(path, overwrite) as tmp:
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp))
        if ds is None:
            raise OSError(f"could not create a GeoPackage at {tmp}")
        layer = ds.CreateLayer("labels", srs, ogr.wkbPoint)
        layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
        layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
        layer.StartTransaction()
        for r, c in zip(*np.nonzero(labels)):
            feature = ogr.Feature(layer.GetLayerDefn())
            class_id = int(labels[r, c])
            feature.SetField("class", names.get(class_id, str(class_id)))
            feature.SetField("class_id", class_id)
            point = ogr.Geometry(ogr.wkbPoint)
            point.AddPoint_2D(x0 + (c + 0.5) * dx + (r + 0.5) * rx, y0 + (c + 0.5) * ry + (r + 0.5) * dy)
            feature.SetGeometry(point)
            layer.CreateFeature(feature)
        layer.CommitTransaction()
        feature = layer = ds = None  # closes and flushes the GeoPackage before the rename
