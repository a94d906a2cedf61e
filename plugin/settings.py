"""The plugin's user settings, kept in QgsSettings under "hypersynth/"."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

from qgis.core import QgsSettings

DEVICES = ("auto", "cpu", "cuda")
PRESETS = ("tiny", "fast", "full")
_PREFIX = "hypersynth/"


@dataclass
class HyperSynthSettings:
    """What the analyst chose once and expects to be remembered between QGIS sessions."""

    device: str = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
    clip_weights: str = ""  # local open_clip ViT-B-32 weights file; empty = look in caches, else random init
    preset: str = "fast"  # default Augment & Classify preset: tiny, fast or full
    output_dir: str = ""  # default folder for classification outputs; empty = ask every time

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {self.device!r}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}; got {self.preset!r}")

    @classmethod
    def load(cls, settings: Optional[QgsSettings] = None) -> "HyperSynthSettings":
        """Read the stored settings; unknown or invalid stored values fall back to the defaults."""
        store = settings or QgsSettings()
        default = cls()
        values = {}
        for f in fields(cls):
            value = store.value(_PREFIX + f.name, getattr(default, f.name), type=str)
            values[f.name] = str(value) if value is not None else getattr(default, f.name)
        if values["device"] not in DEVICES:
            values["device"] = default.device
        if values["preset"] not in PRESETS:
            values["preset"] = default.preset
        return cls(**values)

    def save(self, settings: Optional[QgsSettings] = None) -> None:
        """Store every field (validated again, in case a field was changed after construction)."""
        self.__post_init__()
        store = settings or QgsSettings()
        for f in fields(self):
            store.setValue(_PREFIX + f.name, getattr(self, f.name))
        store.sync()
