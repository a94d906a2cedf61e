"""The QGIS side of HyperSynth: plugin entry, Processing provider, background tasks, settings and layers."""
