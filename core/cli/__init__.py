"""The command line: `python -m hypersynth …` (or `bin/hypersynth …`) drives the same engine as the plugin."""

from .commands import main
from .parser import build_parser

__all__ = ["build_parser", "main"]
