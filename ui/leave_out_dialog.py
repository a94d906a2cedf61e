"""Asking which bands of a scene to leave out, with an example in its own terms; asked again after a mistake."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from qgis.PyQt.QtWidgets import QInputDialog, QWidget

from ..core.io.band_choice import describe_bands


def leave_out_prompt(name: str, bad: np.ndarray, wavelengths: Optional[np.ndarray]) -> str:
    """The dialog's text for the scene ``name`` with ``bad`` ``(B,)`` bands flagged already: which those are, and an
    example in the scene's own terms (its wavelengths' water-vapour windows, or band numbers it has), in lines short
    enough for a dialog."""
    bands = len(bad)
    if wavelengths is not None:
        example = "1340-1450nm, 1790-1960nm (the water-vapour windows), or 1-3"
    else:
        example = f"1-3, {bands - 2}-{bands}" if bands > 6 else "1"
    flagged = (f"It flags {describe_bands(bad, wavelengths)} bad already." if bad.any()
               else "It flags no band bad.")
    return (f"Bands of {name} to flag bad ({bands} bands, numbered from 1).\n{flagged}\n"
            f"Give band numbers, ranges of them or wavelength ranges, separated by commas,\n"
            f"e.g. {example}.\n"
            f"A copy of the scene gets them flagged and becomes the scene; its file is not changed.")


def ask_bands_to_leave_out(parent: QWidget, name: str, bad: np.ndarray, wavelengths: Optional[np.ndarray],
                           problem_of: Callable[[str], Optional[str]]) -> Optional[str]:
    """The bands the analyst names, or None when they cancel; a text ``problem_of`` refuses is asked again with the
    problem above the question and the text kept, so a typo costs no retyping."""
    prompt, text = leave_out_prompt(name, bad, wavelengths), ""
    problem: Optional[str] = None
    while True:
        label = prompt if problem is None else f"Not left out: {problem}.\n\n{prompt}"
        text, ok = QInputDialog.getText(parent, "Leave out bands", label, text=text)
        if not ok or not text.strip():
            return None
        problem = problem_of(text)
        if problem is None:
            return text
