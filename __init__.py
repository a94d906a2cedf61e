"""HyperSynth QGIS plugin: text-conditioned hyperspectral augmentation and classification."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    """QGIS entry point; imports the plugin lazily so that `import hypersynth.core` stays Qt-free."""
    from .plugin.plugin import HyperSynthPlugin

    return HyperSynthPlugin(iface)
