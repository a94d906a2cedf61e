"""Scene, classes and prompts panels, driven through their methods as the buttons drive them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qgis.core import QgsPointXY, QgsRasterLayer

from hypersynth.core.scene import ClassInfo
from hypersynth.plugin.label_layer import CLASS_ID_FIELD, CLASS_NAME_FIELD, class_ids_in_layer
from hypersynth.plugin.runs import preview_start
from hypersynth.ui.class_table import FEW_COLOUR
from hypersynth.ui.classes_panel import ClassesPanel
from hypersynth.ui.prompts_panel import PromptsPanel, fill_template
from hypersynth.ui.scene_panel import ScenePanel

from .conftest import BANDS, COLS, ORIGIN, ROWS, WAVELENGTHS, map_box, write_scene


def test_scene_panel_shows_facts_and_composites(keep, scene_layer, screenshot):
    panel = keep(ScenePanel(), 460, 420)  # tall enough for the facts to wrap whole
    seen = []
    panel.sceneChanged.connect(seen.append)
    panel.set_scene_layer(None)
    assert seen == [None] and panel.fact_labels["bands"].text() == "–"
    panel.set_scene_layer(scene_layer)
    assert seen[-1].id() == scene_layer.id() and panel.scene_layer() is scene_layer
    assert panel.fact_labels["bands"].text() == f"{BANDS} ({BANDS - 1} usable; 1 flagged bad in the metadata)"
    assert panel.fact_labels["wavelengths"].text() == "420–2220 nm"
    # what the values are, as the spectral profile's axis names them: the test scene's integers with a GDAL scale
    assert panel.fact_labels["values"].text() == "Pixel value (scale 0.0001 applied)"
    assert panel.fact_labels["size"].text() == f"{COLS} × {ROWS} pixels of 10 m"
    assert "EPSG:32633" in panel.fact_labels["crs"].text()
    np.testing.assert_allclose(panel.wavelengths(), WAVELENGTHS, atol=0.05)
    choice = panel.apply_composite("true colour")
    assert choice.bands == (3, 2, 1) and scene_layer.renderer().redBand() == 3
    assert "band 3 (660 nm)" in panel.note.text()
    assert panel.apply_composite("false colour").bands == (5, 3, 2)
    pixels = screenshot(panel, "scene_panel")
    assert pixels.std() > 0


def test_scene_panel_opens_files_and_explains_missing_wavelengths(keep, tmp_path, qgis_new_project):
    panel = keep(ScenePanel())
    path = write_scene(tmp_path / "plain.tif", wavelengths=False)
    layer = panel.open_file(str(path))
    assert isinstance(layer, QgsRasterLayer) and layer.id() in qgis_new_project.mapLayers()
    assert panel.scene_layer().id() == layer.id()
    assert panel.fact_labels["wavelengths"].text() == "not in the file's metadata"
    panel.apply_composite("true colour")
    assert "No band wavelengths" in panel.note.text()
    (tmp_path / "broken.tif").write_bytes(b"not a raster")
    with pytest.raises(ValueError, match="cannot open"):
        panel.open_file(str(tmp_path / "broken.tif"))


def test_a_scene_opened_here_shows_in_true_colour(keep, tmp_path, qgis_new_project):
    """QGIS shows a new raster's bands 1, 2 and 3, a hyperspectral scene's deep blues; a scene with wavelengths
    opened from the panel comes in true colour, one without keeps QGIS's rendering."""
    from qgis.core import QgsMultiBandColorRenderer

    panel = keep(ScenePanel())
    layer = panel.open_file(str(write_scene(tmp_path / "scene.tif")))
    renderer = layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (3, 2, 1)  # 660, 550, 450 nm
    assert panel.note.text().startswith("True colour: R, G, B = band 3 (660 nm)")  # which bands, as a button says
    plain = panel.open_file(str(write_scene(tmp_path / "plain.tif", wavelengths=False)))
    assert (plain.renderer().redBand(), plain.renderer().greenBand(), plain.renderer().blueBand()) == (1, 2, 3)


def test_classes_panel_add_rename_merge_delete(keep, canvas, scene_layer, label_layer, classes, screenshot):
    panel = keep(ClassesPanel(canvas), 460, 360)
    panel.set_classes(classes)
    panel.set_scene_layer(scene_layer)
    panel.set_label_layer(label_layer)
    assert panel.label_layer() is label_layer
    panel.select_class(1)
    panel.polygon.add_polygon(map_box(0, 0, 2))  # 4 pixels of corn
    panel.select_class(2)
    panel.polygon.add_polygon(map_box(5, 5, 3))  # 9 pixels of water
    panel.brush.set_radius(4.0)
    panel.brush.add_stroke([QgsPointXY(ORIGIN[0] + 155, ORIGIN[1] - 155)])  # water again: one pixel centre
    assert panel.refresh_counts() == {1: 4, 2: 9 + 1}
    assert panel.table.item(1, 3).text() == "10"
    assert panel.table.item(1, 3).toolTip().startswith("10 scene pixels under water's labels")
    assert panel.table.item(2, 3).toolTip() == f"No labelled pixels yet: brush some, or {classes[2].name} cannot " \
                                               "be in the map"
    panel.select_class(classes[2].id)
    panel.brush.add_stroke([QgsPointXY(ORIGIN[0] + 205, ORIGIN[1] - 55)])  # one pixel of the third class
    panel.refresh_counts()
    few = panel.table.item(2, 3)
    assert few.text() == "1" and few.toolTip().startswith(f"Only 1 labelled pixel: a run learns {classes[2].name} "
                                                          "from it alone")
    assert few.foreground().color() == FEW_COLOUR and panel.table.item(1, 3).foreground().color() != FEW_COLOUR
    label_layer.undoStack().undo()  # the stroke again
    panel.refresh_counts()
    pixels = screenshot(panel, "classes_panel")
    assert pixels.std() > 0

    added = panel.add_class("asphalt", prompt="asphalt road")
    assert added.id == 4 and panel.current_class().id == 4 and panel.brush.current_class().id == 4
    with pytest.raises(ValueError, match="already exists"):
        panel.add_class("water")

    panel.rename_class(2, "lake")
    assert class_ids_in_layer(label_layer) == {1: "corn", 2: "lake"}

    changed = panel.merge_classes(2, 1)
    assert changed == 2
    assert [c.id for c in panel.classes()] == [1, 3, 4]
    assert {f[CLASS_ID_FIELD] for f in label_layer.getFeatures()} == {1}
    assert {f[CLASS_NAME_FIELD] for f in label_layer.getFeatures()} == {"corn"}
    label_layer.undoStack().undo()  # the merge of the labels is one undoable edit
    assert {f[CLASS_ID_FIELD] for f in label_layer.getFeatures()} == {1, 2}
    label_layer.undoStack().redo()

    assert panel.delete_class(1, delete_labels=True) == 3
    assert label_layer.featureCount() == 0 and [c.id for c in panel.classes()] == [3, 4]
    assert panel.undo()  # the deleted labels come back
    assert label_layer.featureCount() == 3


def test_classes_panel_adopts_classes_found_in_the_label_layer(keep, label_layer, classes):
    from hypersynth.plugin.label_layer import add_label_polygon
    from qgis.core import QgsGeometry

    add_label_polygon(label_layer, QgsGeometry.fromPolygonXY([map_box(0, 0, 1)]), 7, "gravel")
    panel = keep(ClassesPanel())
    panel.set_classes(classes[:1])
    panel.set_label_layer(label_layer)
    assert [(c.id, c.name) for c in panel.classes()] == [(1, "corn"), (7, "gravel")]


def test_classes_panel_loads_and_saves_class_files(keep, tmp_path, classes):
    pytest.importorskip("hypersynth.core.io.classes")
    panel = keep(ClassesPanel())
    panel.set_classes(classes)
    panel.save_classes(str(tmp_path / "classes.json"))
    content = json.loads((tmp_path / "classes.json").read_text())
    assert [c["name"] for c in content["classes"]] == ["corn", "water", "bare_soil"]
    other = keep(ClassesPanel())
    loaded = other.load_classes(str(tmp_path / "classes.json"))
    assert [(c.id, c.name, tuple(c.color), c.prompt) for c in loaded] == \
        [(c.id, c.name, c.color, c.prompt) for c in classes]


def test_prompts_panel_templates_and_preview(keep, classes, screenshot):
    panel = keep(PromptsPanel(), 520, 640)
    panel.set_classes(classes)
    changed, asked = [], []
    panel.promptChanged.connect(lambda i, p: changed.append((i, p)))
    panel.previewRequested.connect(lambda i, p: asked.append((i, p)))
    assert panel.prompt_for(3) == "bare soil"  # no prompt: the readable name
    assert panel.apply_template(3, "coarse") == "bare soil"
    assert panel.apply_template(1, "fine", "early growth, bare soil between rows") == \
        "corn, early growth, bare soil between rows"
    assert changed[-1] == (1, "corn, early growth, bare soil between rows")
    with pytest.raises(ValueError, match="needs a detail"):
        fill_template("fine", "corn")
    panel.select_class(1)
    panel.request_preview()
    assert asked == [(1, "corn, early growth, bare soil between rows")]
    assert panel.placeholder in panel.spectra.getPlotItem().items  # the empty plot says what it is for

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:9, 0:9] / 8.0
    texture = np.stack([np.sin(3 * rows + k) * np.cos(2 * cols - k) for k in range(5)])[:, None]  # (N, 1, p, p)
    base = np.linspace(0.05, 0.5, BANDS)[None, :, None, None]
    weights = np.linspace(-0.05, 0.08, BANDS)[None, :, None, None]  # texture shows differently per band
    patches = (base + weights * texture + rng.normal(0, 0.005, (5, BANDS, 9, 9))).astype(np.float32)
    panel.show_preview(patches, WAVELENGTHS, title="corn, early growth", start=preview_start(4, 0.5, class_name="corn"),
                       class_name="corn", labelled_mean=patches[:, :, 4, 4].mean(axis=0) * 1.1,
                       prompt_effect_deg=2.4, noise_effect_deg=8.1, prompt_alone_mean=patches[0, :, 4, 4] * 0.8,
                       anchored=True)  # as a preview shows one
    assert panel.spectra.getPlotItem().titleLabel.text == "corn · “corn, early growth” · from labels"  # its own
    assert panel.preview_title.text().startswith("corn · “corn, early growth”: 5 patches (9×9 px, 16 bands) as a run "
                                                 "makes them: from 4 of your labelled corn patches, noised to 0.5 "
                                                 "(your anchor strength)")
    assert panel.thumbnail_caption.isVisibleTo(panel)  # what the thumbnails' colours are
    shown = [t for t in panel.thumbnails if t.isVisibleTo(panel)]
    assert len(shown) == 5 and not shown[0].pixmap().isNull()
    curves = panel.spectra.getPlotItem().listDataItems()
    assert len(curves) == 8  # 5 centre spectra + their mean, the labels' mean and the prompt alone's
    assert panel.placeholder not in panel.spectra.getPlotItem().items
    np.testing.assert_allclose(curves[0].getData()[1], patches[0, :, 4, 4], rtol=1e-6)
    with pytest.raises(ValueError, match="wavelengths"):
        panel.show_preview(patches, WAVELENGTHS[:-1])
    pixels = screenshot(panel, "prompts_panel")
    assert pixels.std() > 0


def test_an_empty_prompt_cell_says_what_the_run_uses_instead(keep, classes):
    """An empty prompt showed an empty cell (a desktop review): it shows, greyed, that the class name is used."""
    from qgis.PyQt.QtWidgets import QStyleOptionViewItem

    from hypersynth.ui.prompts_panel import PROMPT

    panel = keep(PromptsPanel(), 520, 640)
    panel.set_classes(classes)
    row = [c.id for c in sorted(classes, key=lambda c: c.id)].index(3)  # bare_soil: no prompt

    def shown(r: int) -> QStyleOptionViewItem:
        option = QStyleOptionViewItem()
        index = panel.table.model().index(r, PROMPT)
        panel.table.itemDelegateForColumn(PROMPT).initStyleOption(option, index)
        return option

    assert shown(row).text == "(empty: the class name, “bare soil”, is used)" and shown(row).font.italic()
    assert panel.table.item(row, PROMPT).text() == ""  # only drawn: the prompt stays empty
    panel.apply_template(3, "coarse")
    assert shown(row).text == "bare soil" and not shown(row).font.italic()


def test_classes_and_prompts_stay_in_step(keep, classes):
    """The prompt column of the classes table and the prompts panel show the same text."""
    classes_panel, prompts = keep(ClassesPanel()), keep(PromptsPanel())
    classes_panel.classesChanged.connect(prompts.set_classes)
    prompts.promptChanged.connect(classes_panel.set_prompt)
    classes_panel.set_classes(classes)
    prompts.apply_template(2, "fine", "clear deep water")
    assert classes_panel.class_by_id(2).prompt == "water, clear deep water"
    assert classes_panel.table.item(1, 2).text() == "water, clear deep water"
    classes_panel.set_prompt(1, "maize")
    assert prompts.prompt_for(1) == "maize"
    assert isinstance(classes_panel.classes()[0], ClassInfo)


def test_the_size_of_a_scene_without_crs_says_nothing_false(tmp_path, qgis_new_project):
    """A .mat imported without georeference read "86 × 83 pixels of 1 units": a pixel grid says pixels alone, and
    a grid of 30-unit pixels without CRS says map units, not metres."""
    from osgeo import gdal
    from qgis.core import QgsRasterLayer

    from hypersynth.ui.scene_panel import size_text

    def scene(name: str, transform=None):
        ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / name), 86, 83, 3, gdal.GDT_Float32)
        if transform is not None:
            ds.SetGeoTransform(transform)
        ds = None
        return QgsRasterLayer(str(tmp_path / name), name)

    assert size_text(scene("grid.tif")) == "86 × 83 pixels"
    assert size_text(scene("no_crs.tif", (1000.0, 30.0, 0.0, 5000.0, 0.0, -30.0))) == \
        "86 × 83 pixels of 30 map units (no CRS)"


def test_coarse_for_all_asks_before_replacing_written_prompts(keep, classes, monkeypatch):
    """One click set every prompt to the class name: a prompt the analyst wrote went without a word or an undo."""
    from qgis.PyQt.QtWidgets import QMessageBox

    panel = keep(PromptsPanel(), 520, 640)
    panel.set_classes(classes)
    asked, answers = [], [QMessageBox.No, QMessageBox.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: (asked.append(text),
                                                                                   answers.pop(0))[1])
    panel.apply_template(2, "fine", "clear deep water")
    assert not panel.apply_coarse_to_all()  # No: kept
    assert asked == ["Replace these 2 prompts with the class names?\n\n• corn: “corn field”\n• water: “water, clear "
                     "deep water”"]  # bare_soil's prompt is its name already: not listed
    assert (panel.prompt_for(1), panel.prompt_for(2)) == ("corn field", "water, clear deep water")
    assert panel.apply_coarse_to_all() and (panel.prompt_for(1), panel.prompt_for(2)) == ("corn", "water")  # Yes
    assert panel.apply_coarse_to_all() and len(asked) == 2  # names only: nothing written to lose, nothing asked
