"""Which saved model a folder holds (a classifier, a synthesis model, a run's outputs), and the one to give instead."""

from __future__ import annotations

import json
import os
from pathlib import Path

SYNTHESIS_BUNDLE = "model_bundle"  # a run's saved synthesis model (pipeline.BUNDLE)
CLASSIFIER_FOLDER = "classifier_bundle"  # a run's saved classifier (pipeline.CLASSIFIER_BUNDLE)


def model_folder_kind(path: str | os.PathLike) -> str:
    """What a folder is, from its manifest.json: "classifier" (a classifier bundle), "synthesis" (a synthesis
    model bundle), "run" (a run's output folder, holding such bundles) or "" (anything else: the loader says what
    is wrong with it)."""
    folder = Path(path)
    try:
        parts = set(json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("parts") or [])
    except (OSError, ValueError, AttributeError, TypeError):
        held = (SYNTHESIS_BUNDLE, CLASSIFIER_FOLDER)
        return "run" if any((folder / b / "manifest.json").is_file() for b in held) else ""
    if "classifier" in parts:  # classifier_bundle.save_classifier's part (beside the pixels it learnt from)
        return "classifier"
    if {"vae", "ema_denoiser"} <= parts:  # SynthesisModel.to_parts
        return "synthesis"
    return ""


SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})  # a file browser's own: no analyst's to keep


def files_not_of_the_model(path: str | os.PathLike) -> list[str]:
    """The entries of a saved model's folder that its manifest.json does not list (an analyst's notes, a map saved
    into it; not a file browser's :data:`SYSTEM_FILES`), sorted: saving a model over the folder would delete them
    with it."""
    folder = Path(path)
    try:
        listed = set(json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("files") or {})
    except (OSError, ValueError, AttributeError, TypeError):
        listed = set()
    return sorted(entry.name for entry in folder.iterdir()
                  if entry.name not in listed | {"manifest.json"} | SYSTEM_FILES)


def check_model_folder(path: str | os.PathLike, wanted: str) -> None:
    """Refuse, naming the folder to give instead, a synthesis model where a classifier belongs (``wanted`` =
    "classifier") or the other way round (``wanted`` = "synthesis"), and a run's output folder where one of its
    bundles belongs. The engine's entry points call it once, before the output folder is claimed; the message
    names no option, so the command line and the plugin show it as it is."""
    kind, folder = model_folder_kind(path), Path(path)
    right = CLASSIFIER_FOLDER if wanted == "classifier" else SYNTHESIS_BUNDLE
    takes = "the classifier" if wanted == "classifier" else "the synthesis model"
    if kind == "run":
        if (folder / right / "manifest.json").is_file():
            raise ValueError(f"{path} is a run's output folder; give {takes} in it: {folder / right}")
        raise ValueError(f"{path} is the output folder of a run that saved no {right} (a baseline saves no "
                         f"synthesis model); give {takes}: the {right} folder of an Augment & Classify run")
    if kind and kind != wanted:
        sibling = folder.parent / right
        where = sibling if (sibling / "manifest.json").is_file() else f"the {right} folder of a run"
        what = "a classifier bundle" if kind == "classifier" else "a synthesis model"
        raise ValueError(f"{path} is {what}, not {takes} this needs; give {takes}: {where}")
