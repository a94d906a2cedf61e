"""In-memory types shared across the engine: a hyperspectral scene, its classes and its labels."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

# A pixel grid without georeference: identity transform, no CRS (e.g. a .mat benchmark cube).
PIXEL_GRID = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # GDAL order: x0, dx, rot, y0, rot, dy (no CRS: a pixel grid)
# Class ids: 1 .. 65535 (0 means unlabelled); a class map is written as uint8, as uint16 when an id is above 255.
MIN_CLASS_ID, MAX_CLASS_ID = 1, 65535
CLASS_ID_RANGE = f"from {MIN_CLASS_ID} to {MAX_CLASS_ID}"  # for messages: "class ids run from 1 to 65535"


@dataclass
class Scene:
    """A hyperspectral cube on a (possibly georeferenced) pixel grid.

    The cube is always float32 ``(bands, rows, cols)`` with scale/offset applied; pixels that are
    nodata (or NaN/inf) in any *usable* band are marked invalid in ``valid`` and hold 0 in ``cube``.
    """

    cube: np.ndarray  # (B, H, W) float32, physical units (e.g. reflectance 0..1)
    valid: np.ndarray  # (H, W) bool, True where the pixel can be classified (a layout's: a PixelMask, 1 bit a pixel)
    wavelengths: Optional[np.ndarray] = None  # (B,) float, nanometres, None when unknown
    fwhm: Optional[np.ndarray] = None  # (B,) float, nanometres, None when unknown
    good_bands: Optional[np.ndarray] = None  # (B,) bool, False for bands that are nodata everywhere / flagged bad
    transform: tuple[float, ...] = PIXEL_GRID  # GDAL geotransform (x0, dx, rx, y0, ry, dy)
    crs_wkt: Optional[str] = None  # CRS as WKT, None for a pixel grid
    name: str = "scene"  # what the analyst calls it (file stem or dataset name)
    source: Optional[str] = None  # path it was read from, if any
    band_names: list[str] = field(default_factory=list)  # one per band, may be empty
    # (B,) bool: the bands a run was told to leave out (the analyst's noisy bands; those the file flags too), now
    # flagged bad in good_bands too; None when it was told none (the report tells them from those the file flags)
    named_left_out: Optional[np.ndarray] = None
    told_by: str = "as the run was told"  # who named them, for the report ("as the classifier's training run was told")

    def __post_init__(self) -> None:
        if self.cube.ndim != 3:
            raise ValueError(f"a scene cube must be (bands, rows, cols); got shape {self.cube.shape}")
        if self.valid.shape != self.cube.shape[1:]:
            raise ValueError(f"valid mask {self.valid.shape} does not match the cube's grid {self.cube.shape[1:]}")
        if self.good_bands is None:
            self.good_bands = np.ones(self.cube.shape[0], dtype=bool)

    @property
    def bands(self) -> int:
        return int(self.cube.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the pixel grid."""
        return int(self.cube.shape[1]), int(self.cube.shape[2])

    @property
    def georeferenced(self) -> bool:
        return self.crs_wkt is not None

    def usable_cube(self) -> np.ndarray:
        """The cube restricted to good bands, ``(B_good, H, W)`` float32: the cube itself when every band is good (a
        run then holds one cube, not two; read it, do not write into it), else a copy of its good bands."""
        assert self.good_bands is not None
        return self.cube if self.good_bands.all() else self.cube[self.good_bands]

    def split_usable(self) -> tuple["Scene", np.ndarray]:
        """The usable cube (:meth:`usable_cube`) and the scene's layout, holding its pixels once: the scene gives its
        pixels up to the run.

        When some band is bad, the scene returned, and this scene too, get a read-only placeholder of NaN of the
        same shape as the cube (no memory): their bands, good bands, wavelengths, grid and valid mask stay for what
        describes the scene (reports, band checks). A cube that nothing else holds (as a run's freshly read scene's)
        becomes the usable cube itself: its good bands move to the front and the bad bands' memory goes back, so a
        full-size scene never needs its full cube and a copy of its good bands at once (1.6 GB for a 1000 × 1000 ×
        230 scene). A cube also held elsewhere, or one that is a view, is left as it is and its good bands copied.
        When every band is good, the scene itself and its cube.

        Returns:
            ``(scene, cube)``: the layout scene and the ``(B_good, H, W)`` float32 usable cube.
        """
        assert self.good_bands is not None
        cube = self.cube
        if self.good_bands.all():
            return self, cube
        layout = replace(self, cube=np.broadcast_to(np.float32(np.nan), cube.shape))
        self.cube = layout.cube
        probe = np.empty(0)  # referenced once, as ``cube`` is when nothing but this call holds it
        if not (cube.flags.owndata and cube.flags.c_contiguous and cube.flags.writeable
                and sys.getrefcount(cube) <= sys.getrefcount(probe)):
            return layout, cube[self.good_bands]
        keep = np.flatnonzero(self.good_bands)
        for to, band in enumerate(keep):  # forward moves only (to <= band): no band is overwritten before it moves
            if to != band:
                cube[to] = cube[band]
        try:
            cube.resize((len(keep),) + cube.shape[1:])  # a realloc that keeps the front: the tail's memory goes back
        except ValueError:  # numpy saw another reference after all: the whole buffer stays, its front is the cube
            cube = cube[:len(keep)]
        return layout, cube

    def usable_wavelengths(self) -> Optional[np.ndarray]:
        assert self.good_bands is not None
        return None if self.wavelengths is None else self.wavelengths[self.good_bands]

    def usable_fwhm(self) -> Optional[np.ndarray]:
        """Each usable band's full width at half maximum (nm), None when the scene does not say."""
        assert self.good_bands is not None
        return None if self.fwhm is None else self.fwhm[self.good_bands]


@dataclass
class ClassInfo:
    """One land-cover class as the analyst sees it."""

    id: int  # label value in label rasters, MIN_CLASS_ID..MAX_CLASS_ID (0 is "unlabelled")
    name: str  # e.g. "Lettuce_romaine_4wk"
    color: tuple[int, int, int] = (128, 128, 128)  # RGB 0..255 used in maps and plots
    prompt: str = ""  # text prompt for synthesis; defaults to the name when empty

    @property
    def text(self) -> str:
        """The prompt to condition on (the class name when no prompt was written)."""
        return self.prompt.strip() or self.name.replace("_", " ")


@dataclass
class LabelledScene:
    """A scene with a label map and its classes (what the benchmarks and the pipeline consume)."""

    scene: Scene
    labels: np.ndarray  # (H, W) int32, 0 = unlabelled, else a ClassInfo.id
    classes: list[ClassInfo]  # sorted by id
    test_labels: Optional[np.ndarray] = None  # (H, W) int32 official held-out labels, if the dataset has them

    def __post_init__(self) -> None:
        if self.labels.shape != self.scene.shape:
            raise ValueError(f"labels {self.labels.shape} do not match the scene grid {self.scene.shape}")
        self.classes = sorted(self.classes, key=lambda c: c.id)


# A qualitative palette for classes that come without colours (Tableau 20-like).
DEFAULT_COLORS: list[tuple[int, int, int]] = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
    (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148), (247, 182, 210), (199, 199, 199),
    (219, 219, 141), (158, 218, 229),
]


def default_color(index: int) -> tuple[int, int, int]:
    """The palette colour for the ``index``-th class (0-based)."""
    return DEFAULT_COLORS[index % len(DEFAULT_COLORS)]
