"""What a run was, as data: the settings and inputs that metrics.json carries for scripts gathering many runs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Sequence

from .version import engine_description

RUN_CLASSES = "run_classes.json"  # the classes, prompts and colours a run used (a class file: Load classes… reads it)
RUN_RECORD = "run.json"  # what every run was, with or without validation labels (metrics.json holds it only with)
# the report's words for a run's inputs -> metrics.json's keys for them
INPUT_KEYS = {"scene file": "scene", "label file": "labels", "class file": "classes",
              "validation labels": "validation", "reused synthesis model": "synthesis_model",
              "saved classifier": "classifier"}


def input_said(what: str, path: Any, names: Optional[dict[str, str]] = None) -> str:
    """How a report names the input ``what`` read from ``path``: its full path, or, for the plugin's scratch copy
    of a layer or class table (deleted after the run), what the analyst knows it as."""
    scratch = Path(path).name.startswith(".hypersynth-")
    if names and what in names:  # a copy of what the analyst named (a QGIS layer)
        return f"{names[what]} as it stood in QGIS (copied for the run, the copy not kept)"
    if what == "class file" and scratch:
        return f"the dock's classes and prompts as they stood, kept as {RUN_CLASSES} in this folder"
    if scratch:
        return "the QGIS layer or table as it stood (a copy, not kept)"
    return str(Path(path).resolve())


def run_record(what: str, inputs: Sequence[tuple[str, Any]], names: Optional[dict[str, str]] = None,
               **settings: Any) -> dict[str, Any]:
    """The run as metrics.json's ``run``: ``what`` it did (the method's title), the ``settings`` that shape its
    result (method, preset, seed, device, …; None ones left out), its ``inputs`` (``(what, path)`` as the report
    words them) by :data:`INPUT_KEYS`, the engine's version and when it finished."""
    return {"what": what, **{k: v for k, v in settings.items() if v is not None},
            "inputs": {INPUT_KEYS.get(kind, kind): input_said(kind, path, names) for kind, path in inputs if path},
            "engine": engine_description(),
            "finished": datetime.now().astimezone().isoformat(timespec="seconds")}


def write_run_record(folder: Path, record: dict[str, Any], warnings: Sequence[str],
                     labels_cv_accuracy: Optional[float]) -> Path:
    """``run.json`` in ``folder``: the run (:func:`run_record`), what it warned of, and its labels' cross-validated
    balanced accuracy (the one figure a run without validation labels has; null where none was cross-validated), so
    a script gathering runs made without validation labels reads them too."""
    document = {**record, "warnings": list(warnings),
                "labels_cv_balanced_accuracy": None if labels_cv_accuracy is None else round(labels_cv_accuracy, 4)}
    path = Path(folder) / RUN_RECORD
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
