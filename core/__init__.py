"""HyperSynth engine: scene I/O, synthesis, classification and evaluation (no Qt, no QGIS)."""

from .version import ENGINE_VERSION

__all__ = ["ENGINE_VERSION"]
