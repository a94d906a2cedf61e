"""Scenes QGIS cannot open as they come, imported for the Scene panel: sensor products, MATLAB cubes and their
ground-truth maps."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtWidgets import QFileDialog

from ..core.io.convert import (ImportDestination, import_destination, import_name, import_scene,
                               matlab_import_destination, scene_grid)
from ..core.io.mat_labels import earlier_label_import, import_label_map, label_import_destination
from ..core.io.products import ProductFacts
from ..core.io.read import gdal_subdataset_file, plain_raster_shape
from ..plugin.layers import add_input_layer, gdal_name
from ..plugin.rendering import class_palette_renderer
from ..plugin.tasks import EngineTask


class SceneImports:
    """The Scene panel's imports (a mixin of :class:`~.scene_panel.ScenePanel`, whose ``note``, ``imports`` task
    runner, ``_importing`` set, ``scene_layer`` and ``_add_scene`` it uses): each file is written once as a GeoTIFF
    beside it, as a task, and opened again when it was imported earlier."""

    def import_product(self, source: str, facts: ProductFacts, project: Optional[QgsProject] = None
                       ) -> Optional[QgsRasterLayer]:
        """Open the product ``source`` (``facts``: its :func:`~hypersynth.core.io.products.product_facts`) through a
        GeoTIFF of it.

        The GeoTIFF goes beside the product (``<product>.tif``, or the next free ``<product>_1.tif``…); an earlier
        import found there is opened at once. Where the product's folder cannot be written, the analyst chooses the
        file. The conversion runs as a task in QGIS's task manager (progress, Cancel); when it ends, its layer is
        added and becomes the scene, or the note says why it failed.

        Returns:
            The scene layer of an earlier import; None while the import runs or when no file was chosen.
        """
        return self._import_as_geotiff(source, f"{facts.kind} product", import_name(source, facts),
                                       import_destination(source, facts), facts, project, "with its wavelengths")

    def import_matlab(self, path: str, project: Optional[QgsProject] = None) -> Optional[QgsRasterLayer]:
        """Open the MATLAB scene ``path`` (the standard benchmark cubes' format, which QGIS cannot read) through a
        GeoTIFF of it, as :meth:`import_product` does a product: ``<stem>.tif`` beside it
        (:func:`~hypersynth.core.io.convert.matlab_import_destination`), an earlier import opened at once."""
        return self._import_as_geotiff(path, "MATLAB file", Path(path).stem, matlab_import_destination(path), None,
                                       project, "the largest 3-D array as its bands (a .mat names no wavelengths)")

    def import_label_map(self, path: str, project: Optional[QgsProject] = None) -> QgsRasterLayer:
        """Add the ground-truth map saved by MATLAB at ``path`` (``Indian_pines_gt.mat``) as a label raster on the
        scene's grid, ``<stem>.tif`` beside it (the next free ``<stem>_1.tif``…; an earlier import of the map is
        opened again), in its class colours, with a class file of its classes (the benchmark's names and prompts where
        it is one's) for the Classes tab's Load classes…; it stays a label layer, the scene does not change. The note
        says what was added.

        Raises:
            ValueError: no scene read from a raster file is chosen, the file holds no map of the scene's size (the
                message says what it holds), or its folder cannot be written.
        """
        scene = self.scene_layer()
        if scene is None or not scene.isValid() or scene.providerType() != "gdal":
            raise ValueError(f"{Path(path).name} holds a label map, not a scene: open its scene first (a raster "
                             "file), then the map, which takes the scene's grid")
        destination = label_import_destination(path, self._importing)
        if destination.path is None:
            raise ValueError(f"the folder of {Path(path).name} cannot be written: copy the map where you can write")
        shape = (scene.height(), scene.width())
        try:
            found = plain_raster_shape(destination.path) if destination.earlier else None
            earlier = found is not None and found[1:] == shape  # (bands, rows, cols): of this scene's size
            if earlier:
                imported = earlier_label_import(destination.path)
            else:
                transform, crs_wkt = scene_grid(gdal_name(scene.source()))
                imported = import_label_map(path, destination.path, shape, transform=transform, crs_wkt=crs_wkt)
        except OSError as error:  # the scene's file or the map unreadable
            raise ValueError(f"{Path(path).name} was not added: {error}") from error
        layer = QgsRasterLayer(str(imported.raster), imported.raster.stem, "gdal")
        layer.setRenderer(class_palette_renderer(layer, imported.classes))
        add_input_layer(layer, project)
        of = f"the ground truth of {imported.dataset}" if imported.dataset else f"{len(imported.classes)} classes"
        how = "Opened again" if earlier else "Added"
        self.note.setText(f"{how} {imported.raster.name}: {of}, {imported.labelled} labelled pixels on the grid of "
                          f"{scene.name()}. Choose it as Validation labels in the run dialog; its classes, with "
                          f"their prompts, are in {imported.class_file.name} (Load classes… in the Classes tab).")
        return layer

    def _import_as_geotiff(self, source: str, kind: str, name: str, destination: ImportDestination,
                           facts: Optional[ProductFacts], project: Optional[QgsProject], what: str
                           ) -> Optional[QgsRasterLayer]:
        """:meth:`import_product` for a ``kind`` of file ("PRISMA L2D product", "MATLAB file") whose layer is
        ``name``; ``what``: what the note says the import gave."""
        shown = Path(gdal_subdataset_file(source) or source).name
        target, overwrite = destination.path, False
        if target is None:
            chosen = self._ask_import_file(shown, name)
            if chosen is None:
                self.note.setText(f"The {kind} {shown} was not opened: its folder cannot be written, and no file was "
                                  "chosen for its GeoTIFF.")
                return None
            target, overwrite = chosen
        if destination.earlier:
            layer = self._add_scene(target, name, project)
            self.note.setText(f"Opened {target.name}, the GeoTIFF of the {kind} {shown} imported earlier.")
            return layer
        if target in self._importing:
            self.note.setText(f"The {kind} {shown} is being imported as {target.name} already.")
            return None
        into = project or QgsProject.instance()

        def done(path: Path) -> None:  # main thread
            self._importing.discard(target)
            try:
                self._add_scene(path, name, into)
            except ValueError as error:
                self.note.setText(str(error))
                return
            said = " ".join(task.warnings)  # what reading it found: clouds left out, or no quality masks beside it
            self.note.setText(f"Imported the {kind} {shown} as {path}, {what}." + (f" {said}" if said else ""))

        def failed(message: str) -> None:  # main thread
            self._importing.discard(target)
            self.note.setText(f"The {kind} {shown} was not imported: {message}")

        task = EngineTask(f"Import the {kind} {name}",
                          lambda reporter: import_scene(source, target, overwrite=overwrite, facts=facts,
                                                        reporter=reporter),
                          on_success=done, on_failure=failed)
        self._importing.add(target)
        self.imports.submit(task)
        self.note.setText(f"Importing the {kind} {shown} as {target} … (progress and Cancel in QGIS's task manager)")
        return None

    def _ask_import_file(self, shown: str, name: str) -> Optional[tuple[Path, bool]]:
        """The GeoTIFF the analyst chooses for a product whose own folder cannot be written, and whether it may
        replace a file there (the dialog asked, for the name as chosen); None when none was chosen."""
        chosen, _ = QFileDialog.getSaveFileName(
            self, f"The folder of {shown} cannot be written: save its GeoTIFF as", str(Path.home() / f"{name}.tif"),
            "GeoTIFF (*.tif *.tiff)")
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() in (".tif", ".tiff"):
            return path, True
        return path.with_name(f"{path.name}.tif"), False  # a name the dialog did not ask about: never replaced
