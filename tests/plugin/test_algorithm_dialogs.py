"""Every Processing dialog of the provider opens, whatever layers the project holds: QGIS crashes (no Python
exception to catch) building a dialog whose field parameter hangs from a layer parameter holding a raster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qgis.core import (
    QgsProcessingParameterField,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterLayer,
)

import processing

from .conftest import write_small_scene

# Run in a process of its own: a crash there fails this test instead of ending the test session.
OPEN_DIALOGS = r"""
import sys
sys.path.append(sys.argv[1])  # QGIS's Processing plugin
from qgis.core import QgsApplication, QgsProcessingContext, QgsProject, QgsRasterLayer, QgsVectorLayer
app = QgsApplication([], True)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
from processing.gui.AlgorithmDialog import AlgorithmDialog
from hypersynth.plugin.provider import HyperSynthProvider

provider = HyperSynthProvider()
QgsApplication.processingRegistry().addProvider(provider)
project = QgsProject.instance()
scene, label_raster = (QgsRasterLayer(path, name) for path, name in ((sys.argv[2], "scene"), (sys.argv[3], "labels")))
assert scene.isValid() and label_raster.isValid()
project.addMapLayer(scene)  # the usual first project: the scene alone
for alg in provider.algorithms():
    dialog = AlgorithmDialog(alg.create(), parent=None)
    dialog.show()
    app.processEvents()
    for name, wrapper in dialog.mainWidget().wrappers.items():  # a label raster picked where labels go
        if name in ("LABELS", "VALIDATION", "REFERENCE"):
            project.addMapLayer(label_raster, False)
            wrapper.setParameterValue(label_raster, QgsProcessingContext())
            app.processEvents()
    dialog.close()
    print("opened", alg.id(), flush=True)
print("every dialog opened")
"""


def test_no_field_parameter_hangs_from_a_parameter_that_takes_rasters(hypersynth_plugin):
    """QgsProcessingFieldWidgetWrapper::setParentLayerWrapperValue takes its parent's layer for a vector layer and
    crashes on a raster (3.22, and 3.44 still): a class field is typed (base.class_field_parameter) instead."""
    for alg in hypersynth_plugin.provider.algorithms():
        for parameter in alg.parameterDefinitions():
            if isinstance(parameter, QgsProcessingParameterField) and parameter.parentLayerParameterName():
                parent = alg.parameterDefinition(parameter.parentLayerParameterName())
                takes_rasters = isinstance(parent, QgsProcessingParameterRasterLayer) or (
                    isinstance(parent, QgsProcessingParameterMapLayer) and 3 in parent.dataTypes())  # TypeRaster
                assert not takes_rasters, f"{alg.id()}: {parameter.name()} hangs from {parent.name()}"


def test_every_dialog_opens_with_the_scene_alone_and_with_a_label_raster_picked(tmp_path):
    """Augment & Classify, Classify scene, Accuracy assessment and Benchmark killed QGIS as their dialogs opened in a
    project holding the scene alone, and again when a label raster was picked for their labels."""
    _, _, scene, labels = write_small_scene(tmp_path, seed=0, n_per_class=3)
    script = tmp_path / "open_dialogs.py"
    script.write_text(OPEN_DIALOGS)
    plugins = str(Path(processing.__file__).resolve().parents[1])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, str(script), plugins, str(scene), str(labels)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0 and "every dialog opened" in run.stdout, (run.returncode, run.stdout, run.stderr[-3000:])
    assert run.stdout.count("opened hypersynth:") >= 9 and "opened hypersynth:drawlabels" in run.stdout


# Run in a process of its own, as OPEN_DIALOGS: every algorithm's seed set in the toolbox dialog and in the
# Modeler's step dialog, and read back
SEED_IN_DIALOGS = r"""
import sys
sys.path.append(sys.argv[1])  # QGIS's Processing plugin
from qgis.core import (QgsApplication, QgsProcessingContext, QgsProcessingModelAlgorithm,
                       QgsProcessingModelChildParameterSource)
app = QgsApplication([], True)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
from processing.gui.AlgorithmDialog import AlgorithmDialog
from processing.modeler.ModelerParametersDialog import ModelerParametersDialog
from hypersynth.plugin.provider import HyperSynthProvider

provider = HyperSynthProvider()
QgsApplication.processingRegistry().addProvider(provider)
SEED = 4_000_000_000  # above a C++ int
for alg in provider.algorithms():
    if alg.parameterDefinition("SEED") is None:
        continue
    dialog = AlgorithmDialog(alg.create(), parent=None)
    wrapper = dialog.mainWidget().wrappers["SEED"]
    wrapper.setParameterValue(SEED, QgsProcessingContext())
    shown = wrapper.wrappedWidget().text()
    value = wrapper.parameterValue()
    acceptable = alg.parameterDefinition("SEED").checkValueIsAcceptable(value)
    dialog.close()
    step = ModelerParametersDialog(alg, QgsProcessingModelAlgorithm("model", "test"))
    step.widget.widget.wrappers["SEED"].setWidgetValue(QgsProcessingModelChildParameterSource.fromStaticValue(SEED))
    kept = [source.staticValue() for source in step.createAlgorithm().parameterSources().get("SEED", [])]
    print(alg.id(), repr(shown), value, acceptable, kept, flush=True)
print("every seed read")
"""


def test_a_seed_above_a_cpp_int_is_kept_by_the_toolbox_dialog_and_the_modeler(tmp_path):
    """With an Integer parameter up to 2**32 - 1, QGIS 3.22's seed box took no value (its range became
    -2147483648 to -2147483648): the dialog refused to run and the Modeler dropped the seed without a word."""
    script = tmp_path / "seed_in_dialogs.py"
    script.write_text(SEED_IN_DIALOGS)
    plugins = str(Path(processing.__file__).resolve().parents[1])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, str(script), plugins], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0 and "every seed read" in run.stdout, (run.returncode, run.stdout, run.stderr[-3000:])
    lines = [line for line in run.stdout.splitlines() if line.startswith("hypersynth:")]
    assert len(lines) >= 5 and any(line.startswith("hypersynth:drawlabels ") for line in lines)
    for line in lines:
        assert line.endswith(" '4000000000' 4000000000.0 True [4000000000.0]"), line  # shown whole, kept whole
