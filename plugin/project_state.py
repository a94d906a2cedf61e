"""The dock's work kept in the QGIS project: layers, classes with colours and prompts, run settings, the model.

An analyst who saves the project and opens it again the next day finds the dock as they left it. Without this,
the prompts (kept nowhere else: the label layer holds only class ids and names) were lost with the session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from qgis.core import Qgis, QgsMessageLog, QgsProject, QgsRasterLayer, QgsVectorLayer

from ..core.io.classes import classes_from_entries, classes_to_entries
from .tasks import LOG_TAG

SCOPE = "HyperSynth"  # the project's entry scope for this plugin
KEY = "dock"  # one entry: the JSON of :func:`dock_state`
FORMAT = 1  # bumped when the entry changes meaning; an unknown one is left alone, not misread


def dock_state(dock: Any, last_bundle: Optional[str], last_run: Optional[tuple[str, str]] = None) -> dict:
    """What the project keeps of ``dock`` (layer ids, not layers: the project restores the layers itself);
    ``last_run``: ``(output folder, title)`` of the run whose synthetic spectra and attention the docks show."""
    scene, labels = dock.scene_layer(), dock.label_layer()
    return {
        **({"last_run_folder": last_run[0], "last_run_title": last_run[1]} if last_run else {}),
        "format": FORMAT,
        "scene_layer_id": scene.id() if scene is not None else "",
        "label_layer_id": labels.id() if labels is not None else "",
        "classes": classes_to_entries(dock.current_classes()),
        "last_model": last_bundle or "",
        "run_settings": dict(dock.last_run_settings),  # the run dialog starts there again
    }


def save_dock_state(project: QgsProject, dock: Any, last_bundle: Optional[str],
                    last_run: Optional[tuple[str, str]] = None) -> bool:
    """Write the dock's state into ``project`` (:func:`dock_state`); returns whether it changed (only then is the
    project marked as modified, so opening a project and closing it untouched asks nothing)."""
    text = json.dumps(dock_state(dock, last_bundle, last_run), ensure_ascii=False, sort_keys=True)
    stored, found = project.readEntry(SCOPE, KEY, "")
    if found and stored == text:
        return False
    project.writeEntry(SCOPE, KEY, text)
    return True


def forget_dock_state(project: QgsProject) -> None:
    """Remove the dock's entry from ``project``, leaving its modified flag as it was.

    For QgsProject.cleared: while a project is cleared, its layers leave after its entries are gone, and the dock,
    following them, writes the old project's classes into the new one (QGIS 3.22 has no aboutToBeCleared to stop it).
    """
    _, found = project.readEntry(SCOPE, KEY, "")
    if found:
        modified = project.isDirty()
        project.removeEntry(SCOPE, KEY)
        project.setDirty(modified)


def restore_dock_state(project: QgsProject, dock: Any) -> Optional[str]:
    """Put the state ``project`` holds back into ``dock``: the scene, the classes with their prompts, then the
    label layer (whose classes the table lacks are added, as when the analyst picks it).

    Returns:
        The synthesis model of the project's last run when its folder still exists (for prompt previews), or None.
        A state this version cannot read is said in the log and leaves the dock as it was.
    """
    text, found = project.readEntry(SCOPE, KEY, "")
    if not found or not text:
        return None
    try:
        state = json.loads(text)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"format {state.get('format') if isinstance(state, dict) else '?'} is not {FORMAT}")
        classes = classes_from_entries(state.get("classes", []), "the project's classes")
    except ValueError as error:  # ClassFileError among them
        QgsMessageLog.logMessage(f"the project's HyperSynth state was not restored: {error}", LOG_TAG, Qgis.Warning)
        return None
    scene = project.mapLayer(state.get("scene_layer_id", ""))
    if isinstance(scene, QgsRasterLayer):
        dock.set_scene_layer(scene)
    dock.set_classes(classes)
    labels = project.mapLayer(state.get("label_layer_id", ""))
    if isinstance(labels, QgsVectorLayer):
        dock.set_label_layer(labels)
    settings = state.get("run_settings")
    if isinstance(settings, dict):
        dock.last_run_settings = dict(settings)
    model = state.get("last_model") or ""
    return model if model and Path(model).is_dir() else None


def last_run_in(project: QgsProject) -> Optional[tuple[Path, str]]:
    """``(output folder, title)`` of the last run the project's dock showed, when its folder still exists (its
    synthetic spectra and attention are shown again from there), else None."""
    text, found = project.readEntry(SCOPE, KEY, "")
    try:
        state = json.loads(text) if found and text else {}
    except ValueError:
        return None
    folder = state.get("last_run_folder") if isinstance(state, dict) else None
    if not folder or not Path(folder).is_dir():
        return None
    return Path(folder), str(state.get("last_run_title") or Path(folder).name)
