"""Processing algorithm `hypersynth:classifybaseline`: random forest or SVM on the labelled spectra."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProcessingParameterEnum

from .inputs import seed_value
from .scene_classification import CONFIDENCE_HELP, LAYER_NAMES_HELP, SceneClassificationAlgorithm


class ClassifyBaselineAlgorithm(SceneClassificationAlgorithm):
    """Classify every pixel with a random forest or an SVM trained on the labelled pixels' spectra."""

    METHOD = "METHOD"
    METHODS = (("rf", "Random forest"), ("svm", "Support vector machine (RBF)"))
    TAGS = ("classification", "few labels", "random forest", "SVM", "baseline", "spectra")

    def name(self) -> str:
        return "classifybaseline"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Classify scene (baseline)")

    def help_text(self) -> str:
        return self.tr(
            "Classifies a hyperspectral scene pixel by pixel from its spectra, with a random forest or an SVM "
            "trained on the labelled pixels (points, polygons or a label raster on the scene's grid). "
            "This is what spectral classification tools usually offer, and the baseline Augment & Classify is "
            "compared with.\n\n"
            "Outputs: a class map (class ids, with the class colours and names), the confidence of each pixel "
            "(made unless skipped in the dialog; from a script only when CONFIDENCE is given), optionally each "
            "class's probability (a band per class) and an HTML report. "
            "{confidence} With validation labels, the report, the log "
            "and the outputs give the overall accuracy, average accuracy and kappa on the validation pixels "
            "that were not used for training. {names}\n\n"
            "Both learn from the labelled pixels' spectra alone, so a scene layer on a GeoTIFF or ENVI file is read "
            "a tile at a time, never whole: it may be larger than memory. A run on a small scene takes "
            "seconds.").format(
            confidence=self.tr(CONFIDENCE_HELP), names=self.tr(LAYER_NAMES_HELP))

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.add_input_parameters()
        self.addParameter(QgsProcessingParameterEnum(
            self.METHOD, self.tr("Method"), options=[self.tr(title) for _, title in self.METHODS], defaultValue=0))
        self.add_seed_parameter()
        self.add_output_parameters()

    def engine_arguments(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: Optional[QgsProcessingFeedback] = None) -> dict[str, Any]:
        method = self.METHODS[self.parameterAsEnum(parameters, self.METHOD, context)][0]
        return {"method": method, "seed": seed_value(self, parameters, context, self.SEED)}
