"""Processing algorithm `hypersynth:importscene`: a sensor product or any scene as a GeoTIFF with its wavelengths."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsRasterLayer,
)

from ..layers import keep_out_of_result_groups
from .band_parameters import LEAVE_OUT_BANDS, band_choice_refused, bands_to_leave_out, leave_out_bands_parameter
from .base import FeedbackReporter, HyperSynthAlgorithm, engine_errors, engine_warnings, when_loaded

# What read_scene reads: rasters, MATLAB files, the products' own files and the archives they are ordered in (core's
# ARCHIVE_SUFFIXES, written out: core is imported only when an algorithm runs); then each product's files alone.
INPUT_FILTER = ("Scenes and sensor products (*.tif *.tiff *.nc *.he5 *.h5 *.xml *.hdr *.img *.bsq *.bil *.bip *.dat "
                "*.vrt *.mat *.zip *.tar.gz *.tgz *.tar);;EnMAP L2A (*-SPECTRAL_IMAGE*.tif *-METADATA.xml *.zip "
                "*.tar.gz);;EMIT L2A/L1B (*.nc);;PRISMA L2 (*.he5 *.zip);;All files (*)")


class KeepOutOfResultGroups(QgsProcessingLayerPostProcessorInterface):
    """Moves the imported scene out of a run's result group where Processing put it (the Layers panel's selection):
    a rerun replaces that group; and shows it in true colour, as the dock's Open file… does (QGIS's bands 1-3 are a
    hyperspectral scene's deep blues, or the bands just left out as noise)."""

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 (QGIS API)
                         feedback: QgsProcessingFeedback) -> None:
        from ..rendering import apply_composite

        keep_out_of_result_groups(layer, context.project())
        if isinstance(layer, QgsRasterLayer) and layer.isValid():
            choice = apply_composite(layer, "true colour")  # without wavelengths: bands spread over the range
            shown = ", ".join(f"band {band}" + (f" ({choice.wavelengths[i]:.0f} nm)" if choice.wavelengths else "")
                              for i, band in enumerate(choice.bands))
            feedback.pushInfo(f"Shown as true colour: R, G, B = {shown}. {choice.note}".strip())


class ImportSceneAlgorithm(HyperSynthAlgorithm):
    """Read a product or scene as the engine reads it and write it as a float32 GeoTIFF that QGIS shows as it is."""

    GROUP = "scenes"
    INPUT = "INPUT"
    QUALITY_MASKS = "QUALITY_MASKS"
    LEAVE_OUT_BANDS = LEAVE_OUT_BANDS
    OUTPUT = "OUTPUT"

    TAGS = ("import", "EnMAP", "EMIT", "PRISMA", "sensor product", "cloud mask", "GeoTIFF", "wavelengths", "bad bands",
            "water absorption")

    def name(self) -> str:
        return "importscene"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Import a hyperspectral scene or sensor product")

    def help_text(self) -> str:
        return self.tr(
            "Writes a hyperspectral scene as one float32 GeoTIFF that QGIS, EnMAP-Box and HyperSynth open with its "
            "wavelengths: each band's wavelength, FWHM and bad-band flag in its metadata, no-data -9999 and the "
            "georeference. Use it for the products QGIS cannot show as downloaded:\n"
            "• EnMAP L2A (DLR): the …-SPECTRAL_IMAGE.TIF or …-METADATA.XML of the product folder (wavelengths, "
            "FWHM and reflectance scale from the XML);\n"
            "• EMIT L2A reflectance or L1B radiance (NASA): the .nc granule, orthorectified through its geometry "
            "lookup table;\n"
            "• PRISMA L2B/L2C/L2D (ASI): the .he5 file, VNIR and SWIR merged by wavelength, in reflectance;\n"
            "• any of them still in its ZIP, or in EnMAP's order .tar.gz, as ordered (unpacked beside it while it is "
            "read, then removed); one product of an order holding several is typed as order.tar.gz/ followed by "
            "the product's name (importing the order alone lists the names).\n"
            "Clouds: with \"Leave out the pixels…\" ticked (the default), the pixels the product's own quality "
            "masks flag are written as no-data, so they are neither labelled on, learnt from nor classified: "
            "EnMAP's QL_QUALITY_CLOUD, _CLOUDSHADOW and _CIRRUS (medium or thick) layers of the product folder, "
            "and EMIT's L2A MASK granule of the same acquisition beside the .nc (cloud, cirrus, cloud buffer and "
            "spacecraft flags; water is kept). The log says how many. PRISMA's L2 products carry no cloud mask.\n"
            "Bands to leave out: for a cube whose file flags none of its noisy bands (an uncorrected AVIRIS cube's "
            "water-vapour windows, a detector's noisy edge), list them by number (1 = the first band) or "
            "wavelength, e.g. '108-112, 154-167, 224' or '1340-1450nm, 1790-1960nm'. They are written with their "
            "values and flagged bad, so QGIS still shows them and HyperSynth leaves them out of every run on the "
            "imported scene; the log says which. Which to list, the data suggest: the log warns of the bands "
            "left usable that hold next to no light, mostly noise or one value throughout, and gives the text that "
            "leaves them out (run the import again with it).\n"
            "Any other scene HyperSynth reads (GeoTIFF, ENVI, NetCDF, MATLAB .mat) is written the same way. The "
            "layer is named after the product (or file), with its usable bands where bands were left out "
            "('salinasA (204 of 224 bands)'), and shown in true colour.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterFile(
            self.INPUT, self.tr("Scene or sensor product (EnMAP image or XML, EMIT .nc, PRISMA .he5, …)"),
            behavior=QgsProcessingParameterFile.File, fileFilter=INPUT_FILTER))
        self.addParameter(QgsProcessingParameterBoolean(
            self.QUALITY_MASKS, self.tr("Leave out the pixels the product's quality masks flag as cloud, cloud shadow "
                                        "or cirrus"), defaultValue=True))
        self.addParameter(leave_out_bands_parameter(self))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Imported scene (GeoTIFF)")))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...core.io.convert import import_name, import_scene, left_out_name
        from ...core.io.products import product_facts
        from ...core.io.read import gdal_subdataset_file

        source = self.parameterAsFile(parameters, self.INPUT, context)
        if not source:
            raise QgsProcessingException("choose the scene or product file to import")
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        self.check_destinations({self.INPUT: str(gdal_subdataset_file(source) or source)}, {self.OUTPUT: out})
        reporter = FeedbackReporter(feedback)
        leave_out = bands_to_leave_out(self, parameters, context)
        with engine_errors():
            # read once, for the import and the layer's name (an order's .tar.gz is read whole to list its products)
            facts = product_facts(source, reporter.sub(0.0, 0.0, "listing the order: "))
            with engine_warnings(feedback):
                with band_choice_refused(self):  # found once the scene is read: a band it lacks, or flags already
                    import_scene(source, out, overwrite=True,
                                 quality_masks=self.parameterAsBoolean(parameters, self.QUALITY_MASKS, context),
                                 leave_out_bands=leave_out, facts=facts, reporter=reporter)
            name = import_name(source, facts)
            name = left_out_name(name, out) if leave_out else name  # told from the scene it copies
        if context.willLoadLayerOnCompletion(out):
            details = context.layerToLoadOnCompletionDetails(out)
            details.name, details.forceName = name, True
            when_loaded(context, out, KeepOutOfResultGroups())
        return {self.OUTPUT: out}
