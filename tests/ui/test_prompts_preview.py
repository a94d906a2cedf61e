"""The prompt preview's spectra: gaps where the model has no bands, a plot tall enough to read in a short dock."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.PyQt.QtCore import QCoreApplication, Qt

from hypersynth.core.report import spectral_angle_deg
from hypersynth.plugin.runs import preview_start
from hypersynth.ui.prompts_panel import PREVIEW_PLOT_MIN_HEIGHT, PromptsPanel

FULL = np.linspace(400.0, 2500.0, 120)  # the demo scene's bands
USABLE = FULL[(FULL < 1350) | ((FULL > 1460) & (FULL < 1790)) | (FULL > 1960)]  # a model's: absorption left out


def _patches(n: int = 4, p: int = 7) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = np.interp(USABLE, [400, 700, 800, 2500], [0.05, 0.08, 0.45, 0.2])[None, :, None, None]
    return (base + rng.normal(0, 0.01, (n, len(USABLE), p, p))).astype(np.float32)  # (N, B_usable, p, p)


def _settle() -> None:
    for _ in range(4):
        QCoreApplication.processEvents()


def _runs(y: np.ndarray) -> int:
    """How many separate stretches of line a curve with NaN breaks draws."""
    finite = np.isfinite(y).astype(int)
    return int(np.sum(np.diff(np.r_[0, finite]) == 1))


def test_preview_spectra_leave_gaps_at_the_missing_bands(keep, classes, screenshot):
    """103 usable bands of 120 were drawn as one line straight across the water-absorption windows."""
    panel = keep(PromptsPanel(), 520, 700)
    panel.set_classes(classes)
    patches = _patches()
    panel.show_preview(patches, USABLE, title="corn", value_title="Reflectance")
    curves = panel.spectra.getPlotItem().listDataItems()
    assert len(curves) == 5  # 4 centre spectra and their mean
    for curve in curves:
        x, y = curve.getData()
        assert _runs(y) == 3 and len(x) == len(USABLE) + 2  # one break in each absorption window
        assert np.all((x[np.isnan(y)] > 1340) & (x[np.isnan(y)] < 1970))
    x, y = curves[0].getData()
    np.testing.assert_allclose(y[np.isfinite(y)], patches[0, :, 3, 3], rtol=1e-6)  # the values themselves untouched
    assert panel.spectra.getPlotItem().getAxis("left").labelText == "Reflectance"
    panel.show()
    _settle()
    screenshot(panel, "prompts_preview_gaps")
    panel.clear_preview()
    assert panel.spectra.getPlotItem().getAxis("left").labelText == "Pixel value"


def test_a_preview_is_drawn_beside_the_labelled_mean_and_says_what_it_started_from(keep):
    """A preview says what its patches started from (a run's from the labelled ones; an older model's preview from
    noise with the prompt alone): a preview far from the labels must not pass for what the classifier learns from."""
    panel = keep(PromptsPanel(), 520, 700)
    patches = _patches()
    labelled = np.full(len(USABLE), 0.02)  # flat dark water, where the prompt alone gave vegetation
    panel.show_preview(patches, USABLE, title="calm water", labelled_mean=labelled)
    curves = panel.spectra.getPlotItem().listDataItems()
    assert len(curves) == 6  # 4 centre spectra, their mean and the labels' mean
    x, y = curves[-1].getData()
    np.testing.assert_allclose(y[np.isfinite(y)], labelled)
    assert curves[-1].opts["pen"].style() == Qt.DashLine
    angle = spectral_angle_deg(np.nanmean(patches[:, :, 3, 3], axis=0), labelled)
    assert angle > 20
    title = panel.preview_title.text()
    assert title == (f"“calm water”: 4 patches (7×7 px, 103 bands) from noise with the prompt.\nBold: their "
                     f"mean, {angle:.1f}° from your labels' mean (dashed orange).")  # the caller said no more

    # as the plugin's preview job shows patches started as a run's: what the prompt does there is said
    start = preview_start(3, 0.5, class_name="open_water")
    alone = np.linspace(0.05, 0.4, len(USABLE))  # from noise with the prompt: vegetation-like, far from the labels
    without = labelled * 1.5 + np.linspace(0, 0.01, len(USABLE))
    panel.show_preview(patches, USABLE, title="fresh snow on a glacier", labelled_mean=labelled, start=start,
                       class_name="open_water", prompt_effect_deg=0.4, noise_effect_deg=6.2, prompt_alone_mean=alone,
                       without_prompt_mean=without, anchored=True, clipped_share=0.0003,
                       unlike="3 of 4 lie nearer another class's labelled mean")
    first, second = panel.preview_title.text().split("\n")
    assert first == ("open water · “fresh snow on a glacier”: 4 patches (7×7 px, 103 bands) as a run makes them: "
                     "from 3 of your labelled open water patches, noised to 0.5 (your anchor strength), then denoised "
                     "with the prompt.")
    assert second == (f"Bold: their mean, {angle:.1f}° from your labels' mean (dashed orange); without the prompt, "
                      f"{spectral_angle_deg(without, labelled):.1f}°. They do not look like your open water: 3 of 4 "
                      "lie nearer another class's labelled mean. The prompt turns them 0.4° from where no prompt takes "
                      "them (patches from noise 6.2°): at this anchor strength it barely changes your patches, "
                      "whatever it says. Dotted: from noise with the prompt, "
                      f"{spectral_angle_deg(alone, labelled):.1f}° from your labels' mean. Clipped into the range of "
                      "the scene the model learnt: under 0.1 % of their values.")
    assert panel.spectra.getPlotItem().titleLabel.text == "open water · “fresh snow on a glacier” · from labels"
    dotted = panel.spectra.getPlotItem().listDataItems()[-1]
    assert dotted.opts["pen"].style() == Qt.DotLine
    y = dotted.getData()[1]
    np.testing.assert_allclose(y[np.isfinite(y)], alone)  # with a gap at the missing bands
    panel.show_preview(patches, USABLE, title="calm water", start=start, prompt_effect_deg=0.2, noise_effect_deg=0.3)
    assert ("The prompt turns them 0.2° from where no prompt takes them (patches from noise 0.3°): this model barely "
            "reads the prompt.") in panel.preview_title.text()  # a text tower that learnt to ignore it
    panel.show_preview(patches, USABLE, title="calm water", start=start, prompt_effect_deg=3.0, noise_effect_deg=0.3)
    assert ("The prompt turns them 3.0° from where no prompt takes them (patches from noise 0.3°): from noise it "
            "barely changes them.") in panel.preview_title.text()
    panel.show_preview(patches, USABLE, title="calm water", prompt_effect_deg=None, noise_effect_deg=12.0)
    assert "The prompt turns them 12.0° from the model's patches of no prompt." in panel.preview_title.text()
    long = "clear deep freshwater lake with a sandy bottom in summer"
    panel.show_preview(patches, USABLE, title=long, class_name="deciduous_forest", anchored=True)
    plot_title = panel.spectra.getPlotItem().titleLabel.text
    assert len(plot_title) <= 56 and plot_title.startswith("deciduous forest · “clear") and "…” · from labels" in \
        plot_title  # a long prompt is cut, so the plot keeps the tab's width
    why = "the run settings' anchor strength is 1: a run starts from noise too"
    assert preview_start(0, 1.0, why) == f"from noise with the prompt ({why})"
    assert preview_start(1, 0.3, class_name="water") == ("as a run makes them: from your one labelled water patch, "
                                                         "noised to 0.3 (your anchor strength), then denoised with "
                                                         "the prompt")
    with pytest.raises(ValueError, match="one value per band"):
        panel.show_preview(patches, USABLE, labelled_mean=labelled[:-1])


def test_the_spectral_angle_ignores_brightness_and_missing_bands():
    a = np.array([0.1, 0.2, np.nan, 0.4])
    assert spectral_angle_deg(a, 3 * a) == pytest.approx(0.0, abs=1e-3)  # acos near 1: float rounding
    assert spectral_angle_deg(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(90.0)
    assert np.isnan(spectral_angle_deg(np.full(3, np.nan), np.ones(3)))  # no band shared


def test_nan_bands_of_a_preview_are_gaps_too(keep):
    panel = keep(PromptsPanel(), 520, 700)
    patches = np.ones((2, 10, 5, 5), dtype=np.float32)
    patches[:, 4] = np.nan
    panel.show_preview(patches, np.linspace(400, 1300, 10))
    for curve in panel.spectra.getPlotItem().listDataItems():
        assert _runs(curve.getData()[1]) == 2


def test_the_preview_plot_keeps_a_readable_height_in_a_short_dock(keep, classes, screenshot):
    """With the spectral and attention docks open the plot shrank to ~100 px and lost its wavelength title: it keeps
    its least height now, the tab scrolls instead, and a new preview scrolls its spectra into view."""
    panel = keep(PromptsPanel(), 520, 380)
    panel.set_classes(classes)
    panel.show()
    _settle()
    panel.show_preview(_patches(), USABLE, title="corn")
    _settle()
    assert panel.spectra.height() >= PREVIEW_PLOT_MIN_HEIGHT >= 200
    plot_item = panel.spectra.getPlotItem()
    title = plot_item.getAxis("bottom").label  # the "Wavelength (nm)" text item
    text = title.sceneBoundingRect().adjusted(0, 0, 0, -title.document().documentMargin())  # the glyphs' box
    assert panel.spectra.mapFromScene(text).boundingRect().bottom() <= panel.spectra.height()  # the title not cut
    assert plot_item.vb.height() >= 120  # room for the curves themselves
    top_left = panel.spectra.mapTo(panel.scroll.viewport(), panel.spectra.rect().topLeft())
    bottom = top_left.y() + panel.spectra.height()
    assert top_left.y() >= 0 and bottom <= panel.scroll.viewport().height()  # scrolled into view
    assert panel.scroll.horizontalScrollBar().maximum() == 0  # never sideways
    screenshot(panel, "prompts_preview_short_dock")
    panel.show_preview(_patches(), USABLE, title="corn", clipped_share=0.03)  # a title of more lines moves the plot
    _settle()
    top_left = panel.spectra.mapTo(panel.scroll.viewport(), panel.spectra.rect().topLeft())
    assert top_left.y() >= 0 and top_left.y() + panel.spectra.height() <= panel.scroll.viewport().height()


def _patch_file(classes, n: int = 4, p: int = 7) -> dict:
    """A preview as the plugin's preview job hands it over: what write_patches takes, the engine's units."""
    return {"patches": _patches(n, p), "labels": np.full(n, classes[0].id, np.int32),
            "masks": np.full((n, p, p), classes[0].id, np.int32), "prompts": [classes[0].text] * n,
            "wavelengths": USABLE, "fwhm": np.full(len(USABLE), 10.0), "classes": list(classes),
            "values": "Reflectance"}


def test_a_preview_is_saved_as_the_file_type_asked_for(keep, classes, tmp_path, qtbot):
    """The previewed patches are kept as a mosaic the map shows, a spectral library or an archive; the button waits
    for a preview, an existing file is refused unless replacing was confirmed, and the title says where they went."""
    from hypersynth.core.io.read import read_scene
    from hypersynth.core.outputs import OutputExistsError

    panel = keep(PromptsPanel(), 520, 700)
    panel.set_classes(classes)
    assert not panel.save_button.isEnabled()
    with pytest.raises(ValueError, match="no preview to save: preview a prompt first"):
        panel.save_preview(tmp_path / "none.tif")
    data = _patch_file(classes)
    panel.show_preview(data["patches"], USABLE, title="corn", patch_file=data)
    assert panel.save_button.isEnabled()
    with qtbot.waitSignal(panel.previewSaved) as saved:
        written = panel.save_preview(tmp_path / "corn.tif")
    assert saved.args == [[str(f) for f in written]] and written[0] == tmp_path / "corn.tif"
    assert tmp_path / "corn_classes.tif" in written
    assert panel.preview_title.text() == f"4 patches saved to {tmp_path / 'corn.tif'} and corn_classes.tif."
    mosaic = read_scene(tmp_path / "corn.tif")
    np.testing.assert_allclose(mosaic.fwhm, 10.0)
    np.testing.assert_allclose(mosaic.cube[:, :7, :7], data["patches"][0], rtol=1e-6)
    with pytest.raises(OutputExistsError):
        panel.save_preview(tmp_path / "corn.tif")
    panel.save_preview(tmp_path / "corn.csv")
    rows = (tmp_path / "corn.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 5 and rows[1].split(",")[2:5] == [classes[0].name, classes[0].text, "Reflectance"]
    panel.clear_preview()
    assert not panel.save_button.isEnabled()


def test_the_save_dialog_adds_the_ending_and_asks_before_replacing(keep, classes, tmp_path, monkeypatch):
    """A name typed without its ending gets the chosen type's, and a file the dialog did not ask about (that name
    with its ending, a mosaic's class raster) is refused in the title, never replaced."""
    from hypersynth.ui import prompts_panel

    panel = keep(PromptsPanel(), 520, 700)
    data = _patch_file(classes)
    panel.show_preview(data["patches"], USABLE, title="corn", patch_file=data)
    answers = []
    monkeypatch.setattr(prompts_panel.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: answers.pop(0)))
    answers.append((str(tmp_path / "library"), prompts_panel.SAVE_FILTERS[".csv"]))
    panel.save_button.click()
    assert (tmp_path / "library.csv").is_file()
    before = (tmp_path / "library.csv").read_bytes()
    answers.append((str(tmp_path / "library"), prompts_panel.SAVE_FILTERS[".csv"]))  # not asked about library.csv
    panel.save_button.click()
    assert panel.preview_title.text().startswith("Not saved: ") and (tmp_path / "library.csv").read_bytes() == before
    (tmp_path / "m_classes.tif").write_bytes(b"kept")  # the analyst's file beside a new mosaic's name
    answers.append((str(tmp_path / "m.tif"), prompts_panel.SAVE_FILTERS[".tif"]))
    panel.save_button.click()
    assert "m_classes.tif" in panel.preview_title.text() and panel.preview_title.text().startswith("Not saved: ")
    assert (tmp_path / "m_classes.tif").read_bytes() == b"kept" and not (tmp_path / "m.tif").exists()
    answers.append((str(tmp_path / "library.csv"), prompts_panel.SAVE_FILTERS[".csv"]))  # the dialog asked: replaced
    panel.save_button.click()
    assert panel.preview_title.text().startswith("4 patches saved to")
    answers.append(("", ""))  # cancelled: nothing happens
    panel.save_button.click()
    assert panel.preview_title.text().startswith("4 patches saved to")


def test_the_hint_says_whether_a_model_is_there_to_preview_from(keep, classes):
    """After a run had trained a model the tab still said Preview needs one; a shown preview is left alone."""
    from hypersynth.ui.prompts_panel import PREVIEW_HINT, PREVIEW_READY_HINT

    panel = keep(PromptsPanel(), 520, 700)
    assert panel.preview_title.text() == PREVIEW_HINT
    panel.set_model_ready(True)
    assert panel.preview_title.text() == PREVIEW_READY_HINT
    panel.show_preview(_patches(), USABLE, title="corn")
    panel.set_model_ready(True)  # a later run: the preview stays
    assert panel.preview_title.text().startswith("“corn”: 4 patches")
    panel.clear_preview()
    assert panel.preview_title.text() == PREVIEW_READY_HINT
    panel.set_model_ready(False)  # the project closed: no model
    assert panel.preview_title.text() == PREVIEW_HINT


def test_a_preview_says_how_much_of_it_was_clipped_into_the_scene_range(keep):
    """A prompt far from the scene's classes gives values the scene never holds; the engine clips them, and the
    preview says how many, so a flat stretch of spectrum is not taken for the scene's."""
    panel = keep(PromptsPanel(), 520, 700)
    panel.show_preview(_patches(), USABLE, title="corn", clipped_share=0.0325)
    assert panel.preview_title.text().endswith("Clipped into the range of the scene the model learnt: 3.2 % of their "
                                               "values.")
    panel.show_preview(_patches(), USABLE, title="corn")
    assert "clipped" not in panel.preview_title.text()


def test_a_model_without_clip_weights_is_said_above_the_prompts(keep, classes, tmp_path):
    """The reviewer's run had a random-init text tower and nearly flat attention, and nothing in the Prompts tab said
    its prompts carry little meaning: the dock reads the bundle's text source (its meta.json, no weights) and says
    it."""
    import json

    from hypersynth.ui.main_dock import HyperSynthDock
    from hypersynth.ui.prompts_panel import NO_CLIP_NOTE

    dock = keep(HyperSynthDock(None), 520, 700)
    panel = dock.prompts_panel
    dock.show()
    bundle = tmp_path / "model_bundle"
    bundle.mkdir()
    (bundle / "meta.json").write_text(json.dumps({"bands": 20, "text_source": "random-init (no CLIP weights found)"}))
    dock.set_preview_model(str(bundle))
    assert not panel.text_note.isHidden() and panel.text_note.text() == NO_CLIP_NOTE  # (the tab itself not shown)
    assert "Settings" in NO_CLIP_NOTE and panel.text_note.toolTip().endswith(
        "\n\nText encoder: random-init (no CLIP weights found)")
    (bundle / "meta.json").write_text(json.dumps({"bands": 20, "text_source": "openai-pretrained:/w/clip.bin"}))
    dock.set_preview_model(str(bundle))
    assert panel.text_note.isHidden()
    dock.set_preview_model(None)  # no model: nothing to say
    assert panel.text_note.isHidden()


def test_a_save_never_replaces_a_file_the_project_reads(keep, classes, tmp_path, scene_path, qgis_new_project,
                                                         monkeypatch):
    """Confirming "Replace?" on the scene's name swapped the cube for 4 patches and took the scene off the map: a
    file a layer reads is refused (an earlier saved mosaic may be replaced); Save… starts in the run's folder."""
    from qgis.core import QgsRasterLayer

    from hypersynth.plugin.layers import add_patch_mosaic
    from hypersynth.ui import prompts_panel

    scene = QgsRasterLayer(str(scene_path), "scene")
    qgis_new_project.addMapLayer(scene)
    before = scene_path.read_bytes()
    panel = keep(PromptsPanel(), 520, 700)
    data = _patch_file(classes)
    panel.show_preview(data["patches"], USABLE, title="corn", patch_file=data)
    with pytest.raises(ValueError, match="scene.tif \\(or its class raster\\) is read by the project's layer 'scene'"):
        panel.save_preview(scene_path, overwrite=True)
    assert scene_path.read_bytes() == before and qgis_new_project.mapLayer(scene.id()) is scene
    written = panel.save_preview(tmp_path / "corn.tif")
    add_patch_mosaic(written[0], qgis_new_project)  # on the map, as the dock shows it
    panel.save_preview(tmp_path / "corn.tif", overwrite=True)  # the earlier mosaic may be replaced
    asked = []
    monkeypatch.setattr(prompts_panel.QFileDialog, "getSaveFileName",
                        staticmethod(lambda parent, title, start, filters: asked.append(start) or ("", "")))
    panel.save_folder = str(tmp_path / "run")
    panel.save_button.click()
    assert asked == [str(tmp_path / "run" / "preview_patches.tif")]
