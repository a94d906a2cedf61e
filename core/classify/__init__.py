"""Classifiers: spectral baselines, the spectral-spatial CNN, and tiled full-scene prediction."""
