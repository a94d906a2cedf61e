"""HyperSynth's algorithms chained in a Processing model, as the Graphical Modeler saves one: training labels drawn
from a reference feed a classifier, on a scene without georeference (a benchmark cube's pixel grid)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from osgeo import gdal
from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterLayer,
    QgsProject,
)

import processing

SOURCE = QgsProcessingModelChildParameterSource


def _draw_then_classify() -> QgsProcessingModelAlgorithm:
    """scene, reference -> Draw training labels (its points an intermediate output, named by no one) -> the baseline's
    class map, a model output."""
    model = QgsProcessingModelAlgorithm("draw and classify", "tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("scene", "Scene"), QgsProcessingModelParameter("scene"))
    model.addModelParameter(QgsProcessingParameterMapLayer("reference", "Reference", types=[QgsProcessing.TypeRaster]),
                            QgsProcessingModelParameter("reference"))
    draw = QgsProcessingModelChildAlgorithm("hypersynth:drawlabels")
    draw.setChildId("draw")
    draw.addParameterSources("SCENE", [SOURCE.fromModelParameter("scene")])
    draw.addParameterSources("REFERENCE", [SOURCE.fromModelParameter("reference")])
    draw.addParameterSources("LABELS_PER_CLASS", [SOURCE.fromStaticValue(4)])
    draw.addParameterSources("SEED", [SOURCE.fromStaticValue(1)])
    model.addChildAlgorithm(draw)
    classify = QgsProcessingModelChildAlgorithm("hypersynth:classifybaseline")
    classify.setChildId("classify")
    classify.addParameterSources("SCENE", [SOURCE.fromModelParameter("scene")])
    classify.addParameterSources("LABELS", [SOURCE.fromChildOutput("draw", "OUTPUT")])
    classify.addParameterSources("CLASSES", [SOURCE.fromChildOutput("draw", "CLASS_FILE")])
    classify.addParameterSources("METHOD", [SOURCE.fromStaticValue(0)])
    output = QgsProcessingModelOutput("classes", "Class map")
    output.setChildId("classify")
    output.setChildOutputName("OUTPUT")
    classify.setModelOutputs({"classes": output})
    model.addChildAlgorithm(classify)
    model.updateDestinationParameters()
    return model


def test_labels_drawn_in_a_model_feed_its_classifier_on_a_scene_without_georeference(hypersynth_plugin, tmp_path):
    """A model hands a step whose output no one named a file in Processing's temporary folder ('…/OUTPUT.gpkg'), not
    TEMPORARY_OUTPUT: the draw took it for the analyst's own GeoPackage and refused it, as a GeoPackage cannot hold
    a pixel grid."""
    from hypersynth.core.demo import make_demo_scene
    from hypersynth.core.io.write import write_label_raster, write_scene
    from hypersynth.core.label_draw import draw_labels_from_files
    from hypersynth.core.pipeline import classify_scene
    from hypersynth.core.scene import PIXEL_GRID

    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    scene = write_scene(replace(data.scene, transform=PIXEL_GRID, crs_wkt=None), tmp_path / "scene.tif")
    truth = write_label_raster(tmp_path / "truth.tif", data.labels, data.classes, transform=PIXEL_GRID, crs_wkt=None)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.run(_draw_then_classify(), {"scene": str(scene), "reference": str(truth),
                                                    "classify:classes": str(tmp_path / "map.tif")},
                            context=context, feedback=QgsProcessingFeedback())
    drawn = draw_labels_from_files(scene, truth, tmp_path / "by_hand.fgb", labels_per_class=4, seed=1)
    by_hand = classify_scene(scene, drawn.points, tmp_path / "by_hand", method="rf")
    maps = [gdal.Open(str(path)) for path in (result["classify:classes"], by_hand.class_map)]
    assert np.array_equal(*(ds.GetRasterBand(1).ReadAsArray() for ds in maps))  # the same pixels, the same map


def test_a_map_named_in_a_model_keeps_its_name_and_one_run_alone_is_named_after_its_scene(hypersynth_plugin, tmp_path):
    """Every classifier's map loaded as '<scene>: classes', over the names the model gave its outputs."""
    from qgis.core import QgsProcessingOutputLayerDefinition

    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.write import write_label_raster, write_scene

    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    grid = {"transform": data.scene.transform, "crs_wkt": data.scene.crs_wkt}
    scene = write_scene(data.scene, tmp_path / "field.tif")
    truth = write_label_raster(tmp_path / "truth.tif", data.labels, data.classes, **grid)
    labels = write_label_raster(tmp_path / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes, **grid)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    loaded = QgsProcessingOutputLayerDefinition(str(tmp_path / "map.tif"), QgsProject.instance())
    processing.run(_draw_then_classify(), {"scene": str(scene), "reference": str(truth), "classify:classes": loaded},
                   context=context, feedback=QgsProcessingFeedback())
    assert context.layerToLoadOnCompletionDetails(str(tmp_path / "map.tif")).name == "classes"  # the model's
    alone = QgsProcessingContext()
    alone.setProject(QgsProject.instance())
    processing.run("hypersynth:classifybaseline", {
        "SCENE": str(scene), "LABELS": str(labels),
        "OUTPUT": QgsProcessingOutputLayerDefinition(str(tmp_path / "alone.tif"), QgsProject.instance())},
        context=alone, feedback=QgsProcessingFeedback())
    assert alone.layerToLoadOnCompletionDetails(str(tmp_path / "alone.tif")).name == "field: classes"
