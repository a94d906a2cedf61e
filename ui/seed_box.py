"""The dialogs' seed box: every seed 0 to SEED_MAX, as the command line and Processing take them."""

from __future__ import annotations

import re
from typing import Optional

from qgis.PyQt.QtCore import QLocale
from qgis.PyQt.QtGui import QValidator
from qgis.PyQt.QtWidgets import QDoubleSpinBox, QWidget

from ..core.bench_inputs import SEED_MAX

SEED_RANGE = f"0 to {SEED_MAX}, as the command line's --seed"  # the tooltip's last words


class SeedBox(QDoubleSpinBox):
    """A spin box of whole seeds 0 to SEED_MAX (2**32 - 1): a QSpinBox stops at 2**31 - 1, a double holds every
    seed up to SEED_MAX exactly. Its arrows and the keyboard step by one; only the digits 0 to 9 can be typed (no
    sign, decimal point or group separator, in any locale: a seed is written as the command line takes it), and
    :meth:`value` gives an int, as a QSpinBox's does.

    Args:
        tip: what the seed does, for the tooltip (the range is added).
        value: the seed shown first.
    """

    def __init__(self, tip: str, value: int = 0, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        plain = QLocale.c()  # ASCII digits, never "4,000,000,000" or another script's digits
        plain.setNumberOptions(QLocale.OmitGroupSeparator | QLocale.RejectGroupSeparator)
        self.setLocale(plain)
        self.setDecimals(0)
        self.setRange(0, SEED_MAX)
        self.setValue(value)
        self.setToolTip(f"{tip} ({SEED_RANGE})")

    def value(self) -> int:  # a double with no decimals: a whole seed, exactly
        return int(round(super().value()))

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        """Digits only: a double's box would take a sign, a decimal point or a group separator as typed; the spaces
        and line breaks around a pasted seed are dropped, as a spin box drops them."""
        digits = text.strip()
        if re.fullmatch(r"[0-9]*", digits) is None:
            return QValidator.Invalid, text, pos
        return super().validate(digits, min(pos, len(digits)))
