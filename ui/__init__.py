"""HyperSynth's Qt widgets for QGIS: the main dock and its panels, spectral profile, attention, run dialog."""
