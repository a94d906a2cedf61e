"""Scene panel: pick the hyperspectral raster, see what it holds, show it in true or false colour."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsUnitTypes
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.io.product_archives import (ARCHIVE_SUFFIXES, archived_product, archived_products, is_archive,
                                         needs_listing)
from ..core.io.products import product_facts
from ..core.io.read import MIN_BANDS, envi_data_file, holds_a_cube, is_mat_file, mat_array_shapes, source_name
from ..plugin.layers import add_input_layer
from ..plugin.rendering import (COMPOSITE_TITLES, COMPOSITES, CompositeChoice, apply_composite, read_band_info,
                                read_pixel_values, show_as)
from ..plugin.tasks import EngineTask, TaskRunner
from .leave_out_dialog import LeaveOutBands
from .scene_imports import SceneImports

PROVIDER_KINDS = {"wms": "web map (WMS/WMTS/XYZ)", "wcs": "web coverage (WCS)", "virtualraster": "virtual raster",
                  "arcgismapserver": "ArcGIS map service", "postgresraster": "PostGIS raster"}
_ARCHIVES = " ".join(f"*{suffix}" for suffix in ARCHIVE_SUFFIXES)  # a product's ZIP, an EnMAP order's .tar.gz
RASTER_FILTER = ("Rasters and sensor products (*.tif *.tiff *.img *.hdr *.bsq *.bil *.bip *.dat *.vrt *.nc *.h5 "
                 f"*.he5 *-METADATA.XML *.mat {_ARCHIVES});;EnMAP L2A metadata (*-METADATA.XML);;Sensor products as "
                 f"ordered, in a ZIP or EnMAP's .tar.gz ({_ARCHIVES});;MATLAB cubes (*.mat);;All files (*)")
LEAVE_OUT_TIP = ("Flag noisy bands the file does not flag (an uncorrected AVIRIS cube's water-vapour windows, a "
                 "detector's noisy edge) in a copy of the scene, which becomes the scene: every run leaves them out. "
                 "The scene's file is not changed.")
NO_SCENE_TEXT = "Choose a hyperspectral raster layer, or Open file…"  # the scene combo with no layer chosen
NO_SCENE_HINT = ("No scene yet: choose a raster layer of the project above, or Open file… reads a GeoTIFF, ENVI, "
                 "NetCDF/HDF file or an EnMAP, EMIT or PRISMA product (a ZIP or .tar.gz as ordered too).")


def select_layer(box: QgsMapLayerComboBox, layer) -> None:
    """Show ``layer`` in ``box``; None shows the box's empty entry and its text (QGIS 3.22's ``setLayer(None)``
    leaves the box blank, with no entry current). Signals as ``setLayer`` sends them."""
    box.setLayer(layer)
    if layer is None and box.allowEmptyLayer() and box.currentIndex() < 0:
        blocked = box.blockSignals(True)
        box.setCurrentIndex(0)  # the empty entry comes first
        box.blockSignals(blocked)


def band_count_text(count: int, bad: Optional[np.ndarray]) -> str:
    """The Bands fact: how many, and how many of them the file's metadata flags bad (ENVI/EnMAP ``bbl`` = 0),
    which a run leaves out (every band flagged bad is not meant: a run then keeps them all)."""
    flagged = int(np.count_nonzero(bad)) if bad is not None and len(bad) == count else 0
    if not flagged:
        return f"{count}"
    if flagged == count:
        return f"{count} (all flagged bad in the metadata, so a run uses them all)"
    return f"{count} ({count - flagged} usable; {flagged} flagged bad in the metadata)"


def scene_problem(layer: Optional[QgsRasterLayer]) -> Optional[str]:
    """Why ``layer`` cannot be the scene to classify (None when it can, or when there is no layer).

    The engine reads the scene's bands from a raster file, and a hyperspectral scene has at least ``MIN_BANDS``.
    """
    if layer is None:
        return None
    if not layer.isValid():
        return f"the layer '{layer.name()}' cannot be read (is its file gone?); choose another scene"
    if layer.providerType() != "gdal":
        kind = PROVIDER_KINDS.get(layer.providerType(), f"'{layer.providerType()}'")
        return (f"'{layer.name()}' is a {kind} layer, not a raster file: HyperSynth reads the scene's bands from a "
                "file; choose or open a GeoTIFF, ENVI or other GDAL raster")
    if layer.bandCount() < MIN_BANDS:
        count = layer.bandCount()
        return (f"'{layer.name()}' has {count} band{'s' if count != 1 else ''}; HyperSynth needs a hyperspectral "
                f"scene of at least {MIN_BANDS} bands, not an RGB or multispectral image")
    return None


class SeveralDatasets(ValueError):
    """The file holds several rasters (NetCDF variables, HDF arrays) and the analyst chooses which is the scene."""

    def __init__(self, path: str, datasets: list[tuple[str, str]]) -> None:
        self.datasets = datasets  # (GDAL name to open, its description), the cubes of bands first
        names = "; ".join(description for _, description in datasets[:8])
        super().__init__(f"{Path(path).name} holds several rasters ({names}{'; …' if len(datasets) > 8 else ''}): "
                         "choose the one that is the scene")


def raster_datasets(path: str) -> list[tuple[str, str]]:
    """The rasters inside a container file (NetCDF, HDF): (GDAL name, description), the cubes of bands first;
    empty for a plain raster or a file GDAL cannot open."""
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        dataset = gdal.Open(path)
        found = dataset.GetSubDatasets() if dataset is not None else []
    finally:
        gdal.PopErrorHandler()
    return sorted(((name, description) for name, description in found), key=lambda d: not _is_cube(d[1]))


def _is_cube(description: str) -> bool:
    """Whether GDAL's description of a subdataset ("[16x20x24] radiance (32-bit floating-point)") is 3-D or more."""
    return description.startswith("[") and description.split("]", 1)[0].count("x") >= 2


class ScenePanel(SceneImports, LeaveOutBands, QWidget):
    """The scene chooser with its facts and the composite buttons."""

    sceneChanged = pyqtSignal(object)  # the new scene QgsRasterLayer, or None

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._wavelengths: Optional[np.ndarray] = None
        self._bad: Optional[np.ndarray] = None  # (B,) bool: the bands the scene's file flags bad; None: none flagged
        self.imports = TaskRunner()  # products being imported as GeoTIFF, in QGIS's task manager
        self._importing: set[Path] = set()  # the GeoTIFFs being written: one task at a time writes each
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.layer_box = QgsMapLayerComboBox()
        self.layer_box.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.layer_box.setAllowEmptyLayer(True, NO_SCENE_TEXT)
        self.layer_box.setToolTip("The hyperspectral scene to label and classify")
        self.layer_box.layerChanged.connect(self._layer_changed)
        row.addWidget(self.layer_box, 1)
        self.open_button = QPushButton("Open file…")
        self.open_button.setToolTip("Add a raster file or a sensor product to the project and make it the scene")
        self.open_button.clicked.connect(self._ask_open)
        row.addWidget(self.open_button)
        layout.addLayout(row)

        facts = QGroupBox("Scene")
        grid = QGridLayout(facts)
        self.fact_labels: dict[str, QLabel] = {}
        for i, (key, title) in enumerate([("bands", "Bands"), ("wavelengths", "Wavelengths"), ("values", "Values"),
                                          ("size", "Size"), ("crs", "CRS")]):
            grid.addWidget(QLabel(f"{title}:"), i, 0)
            value = QLabel("–")
            value.setWordWrap(True)
            self.fact_labels[key] = value
            grid.addWidget(value, i, 1)
        self.leave_out_button = QPushButton("Leave out bands…")
        self.leave_out_button.setToolTip(LEAVE_OUT_TIP)
        self.leave_out_button.clicked.connect(self._ask_leave_out)
        grid.addWidget(self.leave_out_button, grid.rowCount(), 1, Qt.AlignLeft)  # under the facts, in their column
        grid.setColumnStretch(1, 1)
        layout.addWidget(facts)

        show = QGroupBox("Show as")
        buttons = QHBoxLayout(show)
        self.composite_buttons: dict[str, QPushButton] = {}
        for key in COMPOSITES:
            button = QPushButton(COMPOSITE_TITLES[key])  # its tooltip: _layer_changed
            button.clicked.connect(lambda _=False, k=key: self.apply_composite(k))
            buttons.addWidget(button)
            self.composite_buttons[key] = button
        layout.addWidget(show)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self._layer_changed(self.layer_box.currentLayer())

    def scene_layer(self) -> Optional[QgsRasterLayer]:
        layer = self.layer_box.currentLayer()
        return layer if isinstance(layer, QgsRasterLayer) else None

    def set_scene_layer(self, layer: Optional[QgsRasterLayer]) -> None:
        select_layer(self.layer_box, layer)

    def wavelengths(self) -> Optional[np.ndarray]:
        """``(B,)`` nm of the current scene, None when it has none."""
        return self._wavelengths

    def open_file(self, path: str, project: Optional[QgsProject] = None) -> Optional[QgsRasterLayer]:
        """Add the raster at ``path`` to the project and make it the scene.

        ``path`` may be an ENVI header (its data file is opened, as GDAL wants), a NetCDF or HDF file holding one
        cube of bands among other variables (that cube is opened), or a GDAL subdataset name
        (``NETCDF:"scene.nc":radiance``). A sensor product (EnMAP L2A, EMIT, PRISMA; any of its files or
        subdatasets) is not opened as GDAL shows it (image rows as bands, no wavelengths, no orthorectification) but
        imported once as a GeoTIFF (:meth:`import_product`), which becomes the scene. Of an archive holding several
        products (an EnMAP order of several tiles), the analyst chooses one, opened as ``<archive>/<product name>``.

        Returns:
            The scene layer; None while a product is being imported (its layer comes when the import ends), when no
            file was chosen for it, or when no product of an archive was chosen.

        Raises:
            SeveralDatasets: the file holds several rasters and none is the only cube of bands: choose one.
            ValueError: when QGIS cannot read the file as a raster, or it is a ZIP or tar holding no product or a
                damaged one.
        """
        if Path(path).suffix.lower() == ".hdr":  # a header without its data file: which files it looked for
            path = str(envi_data_file(Path(path)))
        if needs_listing(path):  # an order's .tar.gz is read whole to list its products: not on QGIS's main thread
            return self._list_then_open(path, project)
        facts = product_facts(path)  # read once: the import uses them throughout
        if facts is not None:
            return self.import_product(path, facts, project)
        if Path(path).is_file() and is_mat_file(Path(path)):
            shapes = mat_array_shapes(path)  # from its header: a cube, a ground-truth map, or neither
            if holds_a_cube(shapes):
                return self.import_matlab(path, project)
            if any(len(shape) == 2 for shape in shapes.values()):
                self.import_label_map(path, project)  # a label layer on the scene's grid; the scene stays
                return self.scene_layer()
            held = ", ".join(f"{k} {shape}" for k, shape in shapes.items()) or "no array"
            raise ValueError(f"{Path(path).name} holds no scene (a rows × cols × bands array of at least {MIN_BANDS} "
                             f"bands) and no label map (a rows × cols array): it holds {held}")
        if is_archive(path):  # an archive holding no product, several or a damaged one
            found = archived_products(Path(path))  # a tar's listing is kept: the product chosen is not listed again
            if len(found) > 1:
                name = self._ask_product(Path(path), [product.name for product in found])
                return self.open_file(str(Path(path) / name), project) if name is not None else None
            archived_product(Path(path))  # its reader says what to do
            raise ValueError(f"{Path(path).name} cannot be opened; unpack it and open the scene inside")
        layer = QgsRasterLayer(path, source_name(path))
        if not layer.isValid():
            datasets = raster_datasets(path)
            cubes = [name for name, description in datasets if _is_cube(description)]
            if len(cubes) == 1:
                return self.open_file(cubes[0], project)
            if datasets:
                raise SeveralDatasets(path, datasets)
            raise ValueError(f"QGIS cannot open {path} as a raster; choose a GeoTIFF, ENVI or another GDAL format")
        return self._add_scene_layer(layer, project)

    def _add_scene_layer(self, layer: QgsRasterLayer, project: Optional[QgsProject]) -> QgsRasterLayer:
        """Add a scene file the analyst opened here and make it the scene, in true colour where its bands have
        wavelengths: QGIS shows a new raster's bands 1, 2, 3, a hyperspectral scene's deep blues (a flat grey)."""
        add_input_layer(layer, project)
        self.set_scene_layer(layer)
        if self.wavelengths() is not None:  # read from the file as it became the scene
            said = self.note.text()
            self.apply_composite("true colour")  # the note says which bands it shows
            if said:  # a problem with the scene stays what the note says
                self.note.setText(said)
        return layer

    def cleanup(self) -> None:
        """Stop the imports still running and forget them (call from the plugin's unload)."""
        self.imports.cancel_all(detach=True)
        self._importing.clear()

    def _add_scene(self, path: Path, name: str, project: Optional[QgsProject],
                   original: Optional[QgsRasterLayer] = None, copied: bool = False) -> QgsRasterLayer:
        """Add the GeoTIFF ``path`` and make it the scene; ``copied``: it is a copy of the scene ``original`` (None
        when that left the project) with more bands flagged bad, and takes its look
        (:func:`~hypersynth.plugin.rendering.show_as`), ``original`` hidden."""
        layer = QgsRasterLayer(str(path), name, "gdal")
        if not layer.isValid():
            raise ValueError(f"QGIS cannot open {path} as a raster; import the product again")
        if original is None and not copied:
            return self._add_scene_layer(layer, project)
        add_input_layer(layer, project)
        if original is None or show_as(layer, original) is None:
            apply_composite(layer, "true colour")  # QGIS's bands 1-3 may be the bands just flagged (without
            # wavelengths: bands spread over the range, off the flagged ones)
        node = (project or QgsProject.instance()).layerTreeRoot().findLayer(original.id()) if original else None
        if node is not None:
            node.setItemVisibilityChecked(False)
        self.set_scene_layer(layer)
        return layer

    def _list_then_open(self, path: str, project: Optional[QgsProject]) -> None:
        """List the order ``path`` in a task (QGIS's task manager: progress, Cancel), then open it as
        :meth:`open_file` does, on its kept listing: its one product is imported, or the analyst chooses one."""
        shown = Path(path).name

        def listed(_products: list) -> None:  # main thread
            try:
                self.open_file(path, project)
            except ValueError as error:  # holds no product, or one ZIP named as a product holds none
                self.note.setText(str(error))

        def failed(message: str) -> None:  # main thread
            self.note.setText(f"{shown} was not opened: {message}")

        self.imports.submit(EngineTask(f"List the products in {shown}",
                                       lambda reporter: archived_products(Path(path), reporter),
                                       on_success=listed, on_failure=failed))
        self.note.setText(f"Reading {shown} to list its products … (Cancel in QGIS's task manager)")
        return None

    def _ask_product(self, archive: Path, names: list[str]) -> Optional[str]:
        """The name of the product the analyst chooses among ``names``, those ``archive`` holds; None on Cancel."""
        chosen, ok = QInputDialog.getItem(self, "Open a product of the order", f"{archive.name} holds {len(names)} "
                                          "products; which one do you open?", names, 0, False)
        return chosen if ok and chosen in names else None

    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a hyperspectral scene", "", RASTER_FILTER)
        if not path:
            return
        try:
            try:
                self.open_file(path)
            except SeveralDatasets as several:  # a NetCDF/HDF file with several cubes: which one is the scene?
                descriptions = [description for _, description in several.datasets]
                chosen, ok = QInputDialog.getItem(self, "Choose the scene", f"{Path(path).name} holds several "
                                                  "rasters; which is the hyperspectral scene?", descriptions, 0, False)
                if ok and chosen in descriptions:
                    self.open_file(several.datasets[descriptions.index(chosen)][0])
        except ValueError as error:
            self.note.setText(str(error))

    def _layer_changed(self, layer) -> None:
        layer = layer if isinstance(layer, QgsRasterLayer) else None
        self.note.setText("")
        composable = layer is not None and scene_problem(layer) is None  # an RGB image is no scene: nothing to pick
        for key, button in self.composite_buttons.items():  # composites pick bands by the file's wavelengths
            button.setEnabled(composable)
            targets = " / ".join(f"{t:.0f}" for t in COMPOSITES[key])
            button.setToolTip(f"Red / green / blue from the bands nearest to {targets} nm"
                              + ("" if composable else f".\nNeeds a hyperspectral scene of at least {MIN_BANDS} "
                                 "bands read from a raster file"))
        self.leave_out_button.setEnabled(composable)  # a copy of the scene's file gets the bands flagged
        if layer is None:
            self._wavelengths = self._bad = None
            for value in self.fact_labels.values():
                value.setText("–")
            self.note.setText(NO_SCENE_HINT)
            self.sceneChanged.emit(None)
            return
        problem = scene_problem(layer)
        from_file = layer.isValid() and layer.providerType() == "gdal"  # GDAL would not open a web layer's URL
        self._wavelengths, self._bad = read_band_info(layer.source()) if from_file else (None, None)
        wl = self._wavelengths
        self.fact_labels["bands"].setText(band_count_text(layer.bandCount(), self._bad))
        self.fact_labels["wavelengths"].setText(
            f"{wl.min():.0f}–{wl.max():.0f} nm" if wl is not None else "not in the file's metadata")
        # what the values are, as the spectral profile's axis names them (reflectance, radiance and its units)
        self.fact_labels["values"].setText(read_pixel_values(layer.source()).axis_title() if from_file else "–")
        self.fact_labels["size"].setText(size_text(layer))
        crs = layer.crs()
        self.fact_labels["crs"].setText(crs.userFriendlyIdentifier() if crs.isValid() else "none (a pixel grid)")
        if problem:
            self.note.setText(problem[0].upper() + problem[1:] + ".")
        self.sceneChanged.emit(layer)

    def apply_composite(self, composite: str) -> Optional[CompositeChoice]:
        """Render the scene as ``composite`` and tell the analyst which bands were used."""
        layer = self.scene_layer()
        if layer is None:
            self.note.setText("Choose a scene first.")
            return None
        try:
            choice = apply_composite(layer, composite)
        except ValueError as error:
            self.note.setText(str(error))
            return None
        if choice.wavelengths is not None:
            used = ", ".join(f"band {b} ({w:.0f} nm)" for b, w in zip(choice.bands, choice.wavelengths))
        else:
            used = ", ".join(f"band {b}" for b in choice.bands)
        self.note.setText(f"{COMPOSITE_TITLES[composite]}: R, G, B = {used}. {choice.note}".strip())
        return choice


def size_text(layer: QgsRasterLayer) -> str:
    """The scene's size in pixels and, where the file says, their size on the ground: "86 × 83 pixels of 30 m"; a
    scene without CRS has pixels of 1 unit (GDAL's default grid, "of 1 units" said nothing) or of its map units."""
    pixels = f"{layer.width()} × {layer.height()} pixels"
    size, crs = layer.rasterUnitsPerPixelX(), layer.crs()
    if crs.isValid():
        return f"{pixels} of {size:g} {QgsUnitTypes.toAbbreviatedString(crs.mapUnits())}"
    return pixels if size == 1 else f"{pixels} of {size:g} map units (no CRS)"
