"""HyperSynth QGIS plugin: text-conditioned hyperspectral augmentation and classification."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    """QGIS entry point; imports the plugin lazily so that `import hypersynth.core` stays Qt-free. While a package
    the engine imports is missing, returns a stand-in that says which and how to install them (the plugin's own
    modules import them, so loading it would end in a traceback)."""
    from .plugin.dependencies import MissingPackagesPlugin, missing_dependencies

    missing = missing_dependencies()
    if missing:
        return MissingPackagesPlugin(iface, missing)
    from .plugin.plugin import HyperSynthPlugin

    return HyperSynthPlugin(iface)
