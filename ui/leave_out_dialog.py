"""Leaving out bands of the scene: the Scene panel's flow that writes a copy with them flagged bad, and its dialog."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import QApplication, QFileDialog, QInputDialog, QLineEdit, QWidget

from ..core.band_screen import BandScreen, screen_file
from ..core.io.band_choice import LeftOut, describe_bands, newly_left_out
from ..core.io.convert import flagged_copy_destination, import_scene, left_out_name
from ..plugin.layers import gdal_name
from ..plugin.tasks import EngineTask

WIDTH = 80  # characters a line of the dialog's text: wider, the dialog outgrows a laptop's screen


class LeaveOutBands:
    """The Scene panel's Leave out bands… (a mixin of :class:`~.scene_panel.ScenePanel`, whose ``note``, ``imports``
    task runner, ``_importing`` set, ``_wavelengths`` and ``_bad`` flags, ``scene_layer`` and ``_add_scene`` it
    uses)."""

    def leave_out_bands(self, text: str, target: Optional[Path] = None, project: Optional[QgsProject] = None,
                        overwrite: bool = False) -> bool:
        """Flag the bands ``text`` names (:data:`~hypersynth.core.io.band_choice.LEAVE_OUT_FORMAT`) bad in a GeoTIFF
        copy of the scene, which becomes the scene when written, shown as the scene was (its composite's bands moved
        off the bands now flagged), the scene hidden: the copy keeps every band's values, so QGIS still shows them,
        and every run on it leaves them out. The scene's own file is not changed.

        ``target``: the copy (default: ``<stem>_bands_left_out.tif`` beside the scene's file, a name no other copy
        being written has, :func:`~hypersynth.core.io.convert.flagged_copy_destination`); ``overwrite``: replace an
        existing ``target`` (the analyst agreed to, in the file dialog). The copy is written as a task in QGIS's task
        manager (progress, Cancel). Returns whether it started; the note says why not, or what was done.
        """
        layer = self.scene_layer()
        try:
            left_out = self._left_out(text)
        except ValueError as problem:
            self.note.setText(f"No band was left out: {problem}.")
            return False
        source = gdal_name(layer.source())
        target = target or flagged_copy_destination(source, self._importing)
        if target is None:
            self.note.setText(f"No band was left out: the folder of {Path(source).name} cannot be written; choose "
                              "where the copy goes (Leave out bands… asks).")
            return False
        if target in self._importing:
            self.note.setText(f"No band was left out: {target.name} is being written already; choose another file.")
            return False
        into, name, original = project or QgsProject.instance(), layer.name(), layer.id()
        said = left_out.describe(self._wavelengths)

        def done(path: Path) -> None:  # main thread
            self._importing.discard(target)
            try:  # the scene it copies, unless it left the project meanwhile
                copy = self._add_scene(path, left_out_name(name, path), into, original=into.mapLayer(original),
                                       copied=True)
            except ValueError as error:
                self.note.setText(str(error))
                return
            them = "them" if said.startswith("bands") else "it"
            self.note.setText(f"{said[0].upper() + said[1:]} flagged bad in {path.name}, now the scene "
                              f"'{copy.name()}': runs leave {them} out. {Path(source).name} is unchanged (hidden).")

        def failed(message: str) -> None:  # main thread
            self._importing.discard(target)
            self.note.setText(f"No band was left out: {message}")

        self._importing.add(target)
        self.imports.submit(EngineTask(f"Leave out {said} of {name}",
                                       lambda reporter: import_scene(source, target, leave_out_bands=text,
                                                                     overwrite=overwrite, reporter=reporter),
                                       on_success=done, on_failure=failed))
        self.note.setText(f"Writing {target} with {said} flagged bad … (progress and Cancel in QGIS's task manager)")
        return True

    def leave_out_problem(self, text: str) -> Optional[str]:
        """Why the bands ``text`` names cannot be left out of the scene (none chosen, none of that form, none still
        usable, none left), or None; known from the scene's metadata before anything is written."""
        try:
            self._left_out(text)
        except ValueError as problem:
            return str(problem)
        return None

    def _left_out(self, text: str) -> LeftOut:
        """What leaving out the bands ``text`` names does to the scene, by its file's bad-band flags (a band without
        data anywhere, which a run also leaves out, the import finds when it reads the scene).

        Raises:
            ValueError: no scene read from a raster file; :func:`~hypersynth.core.io.band_choice.newly_left_out`'s.
        """
        layer = self.scene_layer()
        if layer is None or not layer.isValid() or layer.providerType() != "gdal":
            raise ValueError("choose a scene read from a raster file first: its copy gets the bands flagged bad")
        return newly_left_out(text, ~self._bad_bands(layer), self._wavelengths)

    def _bad_bands(self, layer: QgsRasterLayer) -> np.ndarray:
        """``(B,)`` bool: the bands the scene's file flags bad, as the panel read them when it became the scene (one
        read of its metadata, not one each time the dialog checks a text)."""
        bad, bands = self._bad, layer.bandCount()
        return np.asarray(bad, dtype=bool) if bad is not None and len(bad) == bands else np.zeros(bands, bool)

    def _ask_leave_out(self) -> None:
        layer = self.scene_layer()
        if layer is None or layer.providerType() != "gdal":
            self.note.setText("Choose a scene read from a raster file first.")
            return
        bad = self._bad_bands(layer)
        if bad.all():
            self.note.setText(f"Every band of {layer.name()} is flagged bad already: there is none left to leave out.")
            return
        QApplication.setOverrideCursor(Qt.WaitCursor)  # the screen reads a few squares of the file: a second or so
        try:
            screen = _screened(gdal_name(layer.source()), ~bad)
        finally:
            QApplication.restoreOverrideCursor()
        text = ask_bands_to_leave_out(self, layer.name(), bad, self._wavelengths, self.leave_out_problem,
                                      screen=screen)
        if text is None:
            return
        target = flagged_copy_destination(gdal_name(layer.source()), self._importing)
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the scene with the bands flagged bad",
                                                str(target or Path.home() / "scene_bands_left_out.tif"),
                                                "GeoTIFF (*.tif *.tiff)")
        if not chosen:
            return
        path = Path(chosen)
        asked = path.suffix.lower() in (".tif", ".tiff")  # the dialog asked before a file of this name was replaced
        path = path if asked else path.with_name(f"{path.name}.tif")
        if not asked and (path.exists() or path.is_symlink()):
            self.note.setText(f"No band was left out: {path} exists; choose another name.")
            return
        self.leave_out_bands(text, path, overwrite=asked)


def _screened(source: str, flagged_good: np.ndarray) -> Optional[BandScreen]:
    """The band screen of the scene's file (a few squares of it read: a second or so; ``flagged_good``: the bands its
    file does not flag bad, as the panel read them), or None where it cannot be read now (the dialog then asks
    without a suggestion)."""
    try:
        return screen_file(source, flagged_good)
    except (OSError, ValueError):  # rasterio's read errors are OSErrors
        return None


def leave_out_prompt(name: str, bad: np.ndarray, wavelengths: Optional[np.ndarray],
                     screen: Optional[BandScreen] = None) -> str:
    """The dialog's text for the scene ``name`` with ``bad`` ``(B,)`` bands flagged already: which those are, what
    the data suggest (``screen``: :func:`~hypersynth.core.band_screen.screen_file`'s), and an example in the scene's
    own terms (its wavelengths' water-vapour windows, or numbers of bands still usable), wrapped to :data:`WIDTH`."""
    bands = len(bad)
    usable = np.flatnonzero(~np.asarray(bad, dtype=bool)) + 1
    ends = (f"{usable[0]}-{usable[2]}, {usable[-3]}-{usable[-1]}" if usable.size > 6 else
            f"{usable[0]}" if usable.size else "none: every band is flagged already")
    if wavelengths is not None and np.nanmax(wavelengths) >= 1450:  # a sensor that reaches the first window
        how = "band numbers, ranges of them or wavelength ranges"
        example = f"1340-1450nm, 1790-1960nm (the water-vapour windows), or {ends}"
    elif wavelengths is not None:
        how = "band numbers, ranges of them or wavelength ranges"
        example = f"{ends}, or {np.nanmin(wavelengths):.0f}-{np.nanmin(wavelengths) + 30:.0f}nm"
    else:
        how = "band numbers or ranges of them (the scene has no wavelengths)"
        example = ends
    flagged = f"It flags {describe_bands(bad, wavelengths)} bad already." if bad.any() else "It flags no band bad."
    found = []
    if screen is not None:
        said = screen.describe(wavelengths, pixels=False)
        found = [_wrapped(f"From the data ({screen.pixels:,} pixels read): {said}."
                          + (" Filled in below: check them in the spectral profile." if screen.suggested.any()
                             else ""))]
    return "\n".join([_wrapped(f"Bands of {name} to flag bad ({bands} bands, numbered from 1). {flagged}"), *found,
                      _wrapped(f"Give {how}, separated by commas, e.g. {example}."),
                      _wrapped("A copy of the scene gets them flagged and becomes the scene; its file is not "
                               "changed.")])


def ask_bands_to_leave_out(parent: QWidget, name: str, bad: np.ndarray, wavelengths: Optional[np.ndarray],
                           problem_of: Callable[[str], Optional[str]],
                           screen: Optional[BandScreen] = None) -> Optional[str]:
    """The bands the analyst names, or None when they cancel; a text ``problem_of`` refuses is asked again with the
    problem above the question and the text kept, so a typo costs no retyping. The bands ``screen`` suggests are
    filled in to start with."""
    prompt = leave_out_prompt(name, bad, wavelengths, screen)
    text = screen.option_text() if screen is not None else ""
    problem: Optional[str] = None
    while True:
        label = prompt if problem is None else f"{_wrapped(f'Not left out: {problem}.')}\n\n{prompt}"
        text, ok = get_text(parent, "Leave out bands", label, text)
        if not ok or not text.strip():
            return None
        problem = problem_of(text)
        if problem is None:
            return text


def get_text(parent: QWidget, title: str, label: str, text: str) -> tuple[str, bool]:
    """QInputDialog.getText, but with ``text`` kept unselected, the cursor at its end: the analyst fixes a typo in it
    (getText selects it all, so the first key typed would replace it)."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextValue(text)

    def unselect() -> None:
        edit = dialog.findChild(QLineEdit)
        if edit is not None:
            edit.deselect()
            edit.end(False)

    QTimer.singleShot(0, unselect)  # once shown: showing selects the text
    ok = dialog.exec_() == QInputDialog.Accepted
    return dialog.textValue(), ok


def _wrapped(text: str) -> str:
    return "\n".join(textwrap.wrap(text, WIDTH, break_on_hyphens=False))
