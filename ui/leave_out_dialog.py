"""Asking which bands of a scene to leave out, with an example in its own terms; asked again after a mistake."""

from __future__ import annotations

import textwrap
from typing import Callable, Optional

import numpy as np
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QInputDialog, QLineEdit, QWidget

from ..core.io.band_choice import describe_bands

WIDTH = 80  # characters a line of the dialog's text: wider, the dialog outgrows a laptop's screen


def leave_out_prompt(name: str, bad: np.ndarray, wavelengths: Optional[np.ndarray]) -> str:
    """The dialog's text for the scene ``name`` with ``bad`` ``(B,)`` bands flagged already: which those are, and an
    example in the scene's own terms (its wavelengths' water-vapour windows, or numbers of bands still usable),
    wrapped to :data:`WIDTH`."""
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
    return "\n".join([_wrapped(f"Bands of {name} to flag bad ({bands} bands, numbered from 1). {flagged}"),
                      _wrapped(f"Give {how}, separated by commas, e.g. {example}."),
                      _wrapped("A copy of the scene gets them flagged and becomes the scene; its file is not "
                               "changed.")])


def ask_bands_to_leave_out(parent: QWidget, name: str, bad: np.ndarray, wavelengths: Optional[np.ndarray],
                           problem_of: Callable[[str], Optional[str]]) -> Optional[str]:
    """The bands the analyst names, or None when they cancel; a text ``problem_of`` refuses is asked again with the
    problem above the question and the text kept, so a typo costs no retyping."""
    prompt, text = leave_out_prompt(name, bad, wavelengths), ""
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
