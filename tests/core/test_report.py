"""The run's report: its synthetic summary (counts, agreement, the class spectra the plugin's dock overlays), its
figures, its header and its HTML."""

from __future__ import annotations

import base64
import json
import logging
import re
from types import SimpleNamespace

import numpy as np
import pytest

from hypersynth.core.report import (band_gaps, brightness_ratio, class_map_figure, grid_fact, pca_figure,
                                    read_synthetic_spectra, spectra_figure, synthetic_summary, value_label,
                                    with_gaps, write_markdown_and_html, write_report)
from hypersynth.core.scene import ClassInfo, Scene


def _scene_with_a_bad_band() -> Scene:
    cube = np.zeros((4, 3, 3), np.float32)
    return Scene(cube, np.ones((3, 3), bool), wavelengths=np.array([450.0, 550.0, 1400.0, 2200.0]),
                 good_bands=np.array([True, True, False, True]))


def _synthetic() -> SimpleNamespace:
    """Three patches of class 1 and one of class 2, 3 usable bands, 3 × 3 pixels; centre values chosen."""
    patches = np.zeros((4, 3, 3, 3), np.float32)
    patches[:, :, 1, 1] = [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.2, 0.2, 0.2], [0.5, 0.5, 0.5]]
    return SimpleNamespace(patches=patches, labels=np.array([1, 1, 1, 2]))


def test_summary_holds_each_class_synthetic_spectra_over_the_scene_bands(tmp_path):
    scene = _scene_with_a_bad_band()
    classes = [ClassInfo(1, "grass", prompt="green grass"), ClassInfo(2, "road"), ClassInfo(3, "water")]
    real = {1: np.array([[0.2, 0.2, 0.2]]), 2: np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])}
    summary = synthetic_summary(real, _synthetic(), classes, scene)

    assert summary["total"] == 4 and summary["scene_bands"] == 4
    assert summary["wavelengths"] == [450.0, 550.0, 1400.0, 2200.0]
    grass, road = summary["classes"]  # water has neither synthetic nor real spectra: no row
    assert (grass["name"], grass["prompt"], grass["synthetic"], grass["real_labelled"]) == \
        ("grass", "green grass", 3, 1)
    assert grass["synthetic_mean"] == [0.2, 0.2, None, 0.2]  # the unusable band is null
    assert grass["synthetic_std"][2] is None and grass["synthetic_std"][0] == float(f"{np.std([0.1, 0.3, 0.2]):.6g}")
    assert grass["mean_sam_deg"] == 0.0 and road["mean_rmse"] == 0.0

    path = tmp_path / "synthetic_summary.json"
    path.write_text(json.dumps(summary))
    stats, wavelengths = read_synthetic_spectra(path)
    assert sorted(stats) == [1, 2]
    mean, std = stats[1]
    np.testing.assert_allclose(mean, [0.2, 0.2, np.nan, 0.2])
    assert np.isnan(std[2]) and std[1] == 0.0
    np.testing.assert_array_equal(wavelengths, [450.0, 550.0, 1400.0, 2200.0])


def test_summary_written_before_it_held_spectra_reads_as_none(tmp_path):
    path = tmp_path / "synthetic_summary.json"
    path.write_text(json.dumps({"classes": [{"id": 1, "name": "grass", "synthetic": 3}], "total": 3}))
    assert read_synthetic_spectra(path) == ({}, None)


def test_synthetic_bands_that_do_not_match_the_scene_are_refused():
    scene = _scene_with_a_bad_band()
    synthetic = SimpleNamespace(patches=np.zeros((1, 4, 3, 3), np.float32), labels=np.array([1]))
    with pytest.raises(ValueError, match="4 synthetic bands for a scene with 3 usable bands"):
        synthetic_summary({1: np.zeros((1, 4))}, synthetic, [ClassInfo(1, "grass")], scene)


# ---------------------------------------------------------------- the report's figures, header and HTML

def test_brightness_ratio_shows_what_the_spectral_angle_misses():
    """A synthetic mean twice as bright as the real one at every band: SAM 0°, brightness ratio 2, RMSE > 0."""
    real = {1: np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])}
    patches = np.zeros((2, 3, 3, 3), np.float32)
    patches[:, :, 1, 1] = [0.2, 0.4, 0.6]
    synthetic = SimpleNamespace(patches=patches, labels=np.array([1, 1]))
    (row,) = synthetic_summary(real, synthetic, [ClassInfo(1, "grass")])["classes"]
    assert row["mean_sam_deg"] == pytest.approx(0.0, abs=0.01)
    assert row["mean_brightness_ratio"] == pytest.approx(2.0)
    assert row["mean_rmse"] == pytest.approx(np.sqrt(np.mean(np.square([0.1, 0.2, 0.3]))), rel=1e-5)
    assert brightness_ratio(np.ones(3), np.zeros(3)) is None
    from hypersynth.core.report import brightness_notes

    notes = brightness_notes([row, {**row, "name": "road", "mean_brightness_ratio": 0.75},
                              {**row, "name": "water", "mean_brightness_ratio": 1.1},
                              {**row, "name": "soil", "mean_brightness_ratio": None}])
    assert notes[1].startswith("**Brightness:** grass's synthetic patches are 100 % brighter than its labelled "
                               "pixels; road's synthetic patches are 25 % darker than its labelled pixels.")
    assert brightness_notes([{**row, "mean_brightness_ratio": 1.1}]) == []  # within a fifth: nothing said


def test_summary_says_each_class_share_of_values_clipped_into_the_scene_range():
    """Where the synthetic set counts the values clipped into the scene's range, each class's row gives its share
    (of its own patches' values); a set that does not count them gives no share."""
    real = {1: np.array([[0.2, 0.2, 0.2]]), 2: np.array([[0.5, 0.5, 0.5]])}
    synthetic = _synthetic()
    classes = [ClassInfo(1, "grass"), ClassInfo(2, "road")]
    assert all("clipped_share" not in row for row in synthetic_summary(real, synthetic, classes)["classes"])
    synthetic.clipped = np.array([27, 0, 0, 9])  # of 27 values a patch: the first grass patch wholly, road a third
    grass, road = synthetic_summary(real, synthetic, classes)["classes"]
    assert grass["clipped_share"] == pytest.approx(1 / 3, abs=1e-6) and road["clipped_share"] == pytest.approx(1 / 3,
                                                                                                            abs=1e-6)


WAVELENGTHS = np.concatenate([np.arange(400, 1351, 10), np.arange(1450, 1801, 10), np.arange(1950, 2501, 10)])


def test_gaps_are_found_where_the_wavelength_step_jumps_or_bands_are_missing():
    gaps = band_gaps(WAVELENGTHS)
    assert list(np.flatnonzero(gaps)) == [95, 131]  # 1350 -> 1450 and 1800 -> 1950 nm
    # a sensor whose spacing widens from 5 to 10 nm has no gap there
    assert not band_gaps(np.concatenate([np.arange(400, 1000, 5), np.arange(1000, 2500, 10)])).any()
    # the scene's band indices say where a single band was dropped, a step too small to see
    assert list(np.flatnonzero(band_gaps(np.array([400.0, 410, 430, 440]), np.array([0, 1, 3, 4])))) == [1]
    # two detectors (EnMAP: VNIR to 993 nm, then SWIR from 902 nm): the step back breaks the line, so the two
    # overlapping ends are two lines, not a zigzag; the SWIR's own windows are gaps as well
    vnir, swir = np.arange(418.0, 994, 6.5), np.r_[np.arange(902.0, 1320, 10), np.arange(1390.0, 1761, 10),
                                                     np.arange(1939.0, 2447, 10)]
    assert list(np.flatnonzero(band_gaps(np.r_[vnir, swir]))) == [len(vnir) - 1, len(vnir) + 41, len(vnir) + 79]
    x, y = with_gaps(np.array([1.0, 2, 5]), np.array([False, True]), np.array([10.0, 20, 50]))
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.5, 5.0])
    np.testing.assert_array_equal(y, [10.0, 20.0, np.nan, 50.0])


def _real_and_synthetic(bands: int) -> tuple[dict[int, np.ndarray], SimpleNamespace, list[ClassInfo]]:
    rng = np.random.default_rng(0)
    classes = [ClassInfo(1, "grass", (0, 200, 0)), ClassInfo(2, "road", (90, 90, 90))]
    real = {1: rng.random((6, bands)) * 0.1 + 0.3, 2: rng.random((5, bands)) * 0.1 + 0.1}
    patches = rng.random((8, bands, 3, 3)).astype(np.float32) * 0.1 + 0.2
    return real, SimpleNamespace(patches=patches, labels=np.array([1, 1, 1, 1, 2, 2, 2, 2])), classes


def test_spectra_figure_breaks_its_lines_at_missing_bands_and_names_its_axes(tmp_path):
    real, synthetic, classes = _real_and_synthetic(len(WAVELENGTHS))
    fig = spectra_figure(tmp_path / "spectra.png", real, synthetic, classes, WAVELENGTHS, value="Reflectance")
    assert (tmp_path / "spectra.png").stat().st_size > 0
    first = fig.axes[0]
    assert first.get_ylabel() == "Reflectance" and first.get_xlabel() == "wavelength (nm)"
    for line in first.get_lines():  # real and synthetic means: NaN in the two gaps, nowhere else
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert list(x[np.isnan(y)]) == [1400.0, 1875.0]
    legend = first.get_legend()
    assert any("mean ± 1 std" in t.get_text() for t in legend.get_texts())
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 7


def test_spectra_without_wavelengths_are_drawn_over_the_files_band_numbers_with_gaps(tmp_path):
    """A scene without wavelengths (a .mat) is plotted over the band numbers the analyst names bands by, the lines
    broken where bands were left out, not over 0…usable-1 as if none were."""
    real, synthetic, classes = _real_and_synthetic(6)
    used = np.array([0, 1, 2, 5, 6, 7])  # bands 4-5 of 8 left out
    fig = spectra_figure(tmp_path / "spectra.png", real, synthetic, classes, None, used)
    first = fig.axes[0]
    assert first.get_xlabel() == "band"
    x, y = np.asarray(first.get_lines()[0].get_xdata()), np.asarray(first.get_lines()[0].get_ydata())
    assert list(x[~np.isnan(y)]) == [1, 2, 3, 6, 7, 8] and list(x[np.isnan(y)]) == [4.5]
    assert spectra_figure(tmp_path / "plain.png", real, synthetic, classes, None).axes[0].get_xlabel() == "usable band"


def test_pca_figure_says_what_it_projects_and_shows_the_few_real_spectra_over_the_many_synthetic(tmp_path):
    real, synthetic, classes = _real_and_synthetic(12)
    fig = pca_figure(tmp_path / "pca.png", real, synthetic, classes)
    ax = fig.axes[0]
    assert re.fullmatch(r"PC 1 \(\d+ % of variance\)", ax.get_xlabel())
    assert re.fullmatch(r"PC 2 \(\d+ % of variance\)", ax.get_ylabel())
    assert ax.get_title().startswith("Real labelled and synthetic spectra on the first two principal components")
    real_dots, synthetic_dots = ax.collections[0], ax.collections[1]  # the first class's
    # drawn alike, a class's 5 labelled pixels were buried under its 60 synthetic patches; filled and on top, 34
    # labels buried its 6 synthetic ones (reviews): on top, larger and hollow
    assert real_dots.get_zorder() > synthetic_dots.get_zorder()
    assert min(real_dots.get_sizes()) > max(synthetic_dots.get_sizes())
    assert real_dots.get_facecolors().size == 0 and real_dots.get_edgecolors().size > 0
    assert not np.array_equal(real_dots.get_paths()[0].vertices, synthetic_dots.get_paths()[0].vertices)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["grass", "road", "real labelled", "synthetic (centre pixel)"]


def test_class_map_figure_reads_the_map_decimated_in_the_class_colours(tmp_path):
    from hypersynth.core.io.write import write_class_map

    classes = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "forest", (0, 128, 0)), ClassInfo(3, "road")]
    ids = np.zeros((300, 600), np.uint8)
    ids[:, :300], ids[:, 300:590] = 1, 2  # class 3 is not in the map; 0 (unclassified) at the right edge
    write_class_map(tmp_path / "classification.tif", ids, classes, transform=(0.0, 5.0, 0.0, 0.0, 0.0, -5.0),
                    crs_wkt=None)
    fig = class_map_figure(tmp_path / "map.png", tmp_path / "classification.tif", classes, max_side=200)
    assert (tmp_path / "map.png").stat().st_size > 0
    ax = fig.axes[0]
    picture = ax.get_images()[0].get_array()
    assert picture.shape[:2] == (100, 200)  # every 3rd pixel
    np.testing.assert_allclose(picture[50, 10, :3], [0, 0, 1])
    np.testing.assert_allclose(picture[50, 150, :3], [0, 128 / 255, 0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["water", "forest", "no data or unclassified"]
    np.testing.assert_allclose(picture[50, 199, :3], [1, 1, 1])  # 0: white, no default class colour (review)
    from hypersynth.core.scene import DEFAULT_COLORS

    assert (255, 255, 255) not in DEFAULT_COLORS


@pytest.mark.parametrize("shape", [(86, 83), (40, 600), (600, 40)])
def test_the_class_map_legend_ends_inside_the_picture(tmp_path, shape):
    """A long class name (SalinasA's 'Brocoli_green_weeds_1') was cut at the PNG's right edge: the legend right of
    the map is kept inside the figure, whatever the map's shape."""
    from hypersynth.core.io.write import write_class_map

    classes = [ClassInfo(1, "Brocoli_green_weeds_1"), ClassInfo(2, "Corn_senesced_green_weeds"),
               ClassInfo(3, "Lettuce_romaine_4wk")]
    ids = (np.arange(shape[0] * shape[1]).reshape(shape) % 3 + 1).astype(np.uint8)
    write_class_map(tmp_path / "classification.tif", ids, classes, transform=(0.0, 3.7, 0.0, 0.0, 0.0, -3.7),
                    crs_wkt=None)
    fig = class_map_figure(tmp_path / "map.png", tmp_path / "classification.tif", classes)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x1 <= fig.bbox.x1 and legend.x0 >= ax.get_window_extent(renderer).x1  # inside, right of the map
    shown = ax.get_window_extent(renderer)  # the map is not squeezed away: it fills the figure on one side
    assert max(shown.width / fig.bbox.width, shown.height / fig.bbox.height) > 0.6


def test_grid_fact_gives_the_pixel_size_and_the_crs():
    from rasterio.crs import CRS

    def scene(transform, crs):
        return Scene(np.zeros((1, 2, 2), np.float32), np.ones((2, 2), bool), transform=transform,
                     crs_wkt=None if crs is None else CRS.from_epsg(crs).to_wkt())

    assert grid_fact(scene((368000.0, 10.0, 0.0, 5810000.0, 0.0, -10.0), 32633)) == \
        "Grid: 10 m pixels, EPSG:32633 (WGS 84 / UTM zone 33N)"
    assert grid_fact(scene((13.0, 0.001, 0.0, 52.0, 0.0, -0.002), 4326)) == \
        "Grid: 0.001 × 0.002° pixels, EPSG:4326 (WGS 84)"
    assert grid_fact(scene((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), None)) == "Grid: pixels (no coordinate reference system)"


def test_value_axis_is_named_by_the_scene_file_unit_type(tmp_path):
    from hypersynth.core.io.write import write_scene

    scene = _scene_with_a_bad_band()
    write_scene(scene, tmp_path / "reflectance.tif", unit_type="reflectance")
    write_scene(scene, tmp_path / "plain.tif")
    assert value_label(tmp_path / "reflectance.tif") == "Reflectance"
    assert value_label(tmp_path / "plain.tif") == value_label(None) == "Pixel value"


def test_html_embeds_its_images_and_renders_code_spans(tmp_path):
    picture = b"\x89PNG\r\n\x1a\n not really a picture"
    (tmp_path / "map.png").write_bytes(picture)
    write_markdown_and_html(tmp_path, ["# Report", "", "Apply it with `classify` or **bold** `a<b`.", "",
                                       "| file | what |", "|---|---|", "| x | run `classify` |", "",
                                       "![class map](map.png)", "", "![gone](missing.png)"])
    page = (tmp_path / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].split(",", 1)[1]) == picture
    assert sources[1] == "missing.png"  # not found: left as it was
    assert "<code>classify</code> or <b>bold</b> <code>a&lt;b</code>" in page
    assert "<td>run <code>classify</code></td>" in page and "`" not in page


def test_report_shows_the_grid_the_map_and_lists_map_png(tmp_path):
    from hypersynth.core.io.write import write_class_map

    rng = np.random.default_rng(1)
    classes = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "forest", (0, 128, 0))]
    wavelengths = np.array([450.0, 550.0, 650.0, 850.0, 1650.0])
    scene = Scene(rng.random((5, 8, 8)).astype(np.float32), np.ones((8, 8), bool), wavelengths=wavelengths,
                  transform=(500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), crs_wkt=_utm33(), name="tiny")
    labels = np.zeros((8, 8), np.int32)
    labels[0, :3], labels[7, :3] = 1, 2
    class_map = np.where(np.arange(8)[:, None] < 4, 1, 2) * np.ones((8, 8), np.uint8)
    write_class_map(tmp_path / "classification.tif", class_map, classes, transform=scene.transform,
                    crs_wkt=scene.crs_wkt)
    fitted = SimpleNamespace(synthetic=None, notes=[], classifier=SimpleNamespace(), synthesis_model=None)
    write_report(tmp_path, scene=scene, labels=labels, classes=classes, fitted=fitted, method_title="Random forest",
                 evaluation=None, seconds_training=1.0, cube=scene.cube, mapped={1: 32, 2: 32},
                 files=[("classification.tif", "the class map")], class_map=tmp_path / "classification.tif")
    md = (tmp_path / "report.md").read_text()
    assert "- Grid: 30 m pixels, EPSG:32633 (WGS 84 / UTM zone 33N)" in md
    assert "- Scene: 8 × 8 pixels, 5 usable bands (450–1650 nm)\n" in md  # every band used: nothing left out
    assert "![class map](map.png)" in md and (tmp_path / "map.png").exists()
    assert re.search(r"^\| map\.png \| the class map as a picture", md, re.M)
    page = (tmp_path / "report.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 2  # the map and the spectra
    assert "map.png\"" not in page and "spectra.png\"" not in page


def test_report_names_the_bands_the_run_left_out(tmp_path):
    rng = np.random.default_rng(2)
    classes = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "forest", (0, 128, 0))]
    wavelengths = np.array([450.0, 550.0, 650.0, 850.0, 1380.0, 1400.0, 1650.0, 2500.0])
    good = np.array([True, True, True, True, False, False, True, False])
    scene = Scene(rng.random((8, 8, 8)).astype(np.float32), np.ones((8, 8), bool), wavelengths=wavelengths,
                  good_bands=good, name="tiny")
    labels = np.zeros((8, 8), np.int32)
    labels[0, :3], labels[7, :3] = 1, 2
    fitted = SimpleNamespace(synthetic=None, notes=[], classifier=SimpleNamespace(), synthesis_model=None)
    write_report(tmp_path, scene=scene, labels=labels, classes=classes, fitted=fitted, method_title="Random forest",
                 evaluation=None, seconds_training=1.0, cube=scene.usable_cube(), mapped={1: 32, 2: 32}, files=[])
    md = (tmp_path / "report.md").read_text()
    assert ("- Scene: 8 × 8 pixels, 5 usable bands (450–1650 nm); of its 8, left out: bands 5–6 (1380–1400 nm) "
            "and 8 (2500 nm) (flagged bad in the file, or without data)\n") in md


def test_the_report_shows_class_names_and_prompts_as_typed(tmp_path):
    """A "|" in a class name moved every number of its row under the next column's heading, and "**bare**" turned
    bold (review)."""
    rng = np.random.default_rng(3)
    classes = [ClassInfo(1, "asphalt | road", (90, 90, 90), prompt="dark <asphalt> & tar"),
               ClassInfo(2, "**bare** soil", (160, 110, 60), prompt="dry\nbare soil")]
    scene = Scene(rng.random((4, 6, 6)).astype(np.float32), np.ones((6, 6), bool), name="scene_|_1")
    labels = np.zeros((6, 6), np.int32)
    labels[0, :3], labels[5, :3] = 1, 2
    fitted = SimpleNamespace(synthetic=None, notes=["a note on **bare** soil"], classifier=SimpleNamespace(),
                             synthesis_model=None)
    write_report(tmp_path, scene=scene, labels=labels, classes=classes, fitted=fitted, method_title="Random forest",
                 evaluation=None, seconds_training=1.0, cube=scene.cube, mapped={1: 18, 2: 18}, files=[])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", r) for r in rows]
    assert cells[0][:4] == ["id", "class", "prompt", "labelled"]
    assert cells[1] == ["1", "asphalt | road", "dark &lt;asphalt&gt; &amp; tar", "3", "18"]
    assert cells[2] == ["2", "**bare** soil", "dry bare soil", "3", "18"]
    assert "<h1>HyperSynth report: scene_|_1</h1>" in page and "<b>bare</b>" not in page
    assert "<li>a note on **bare** soil</li>" in page


def _utm33() -> str:
    from rasterio.crs import CRS

    return CRS.from_epsg(32633).to_wkt()


def test_names_the_figure_font_cannot_draw_are_said_once_not_per_character(tmp_path, caplog, monkeypatch):
    """A class named in Chinese flooded stderr with matplotlib's warning per character and figure (32 of them)."""
    import warnings

    from hypersynth.core import report

    monkeypatch.setattr(report, "_UNDRAWN", set())
    with caplog.at_level(logging.WARNING, logger="hypersynth"), warnings.catch_warnings():
        warnings.simplefilter("error")  # none of matplotlib's may come through
        for name in ("茂密 forest", "茂密 again"):
            fig = report.agg_figure(2, 2)
            fig.add_subplot(1, 1, 1).set_title(name)
            report.save_figure(fig, tmp_path / "names.png")
    assert [r.getMessage() for r in caplog.records] == [
        "the figures' font has no 密 茂: text holding them (a class name, a prompt) is drawn with boxes in their "
        "place; the report's text has them"]
    assert (tmp_path / "names.png").stat().st_size > 0


def test_the_runs_figures_say_a_missing_character_once_with_their_layout_drawn(tmp_path, caplog, monkeypatch):
    """The figures' tight_layout draws their text before save_figure: matplotlib's warning per character came
    through there, four times in one run (review)."""
    import warnings

    from hypersynth.core import report
    from hypersynth.core.evaluation.metrics import confusion_figure, evaluate
    from hypersynth.core.io.write import write_class_map

    monkeypatch.setattr(report, "_UNDRAWN", set())
    classes = [ClassInfo(1, "绿 grass", (0, 160, 0)), ClassInfo(2, "water", (0, 0, 255))]
    write_class_map(tmp_path / "map.tif", np.array([[1, 2], [2, 1]], np.uint8), classes,
                    transform=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0), crs_wkt=None)
    real = {1: np.random.default_rng(0).random((4, 5)), 2: np.random.default_rng(1).random((4, 5))}
    synthetic = SimpleNamespace(patches=np.random.default_rng(2).random((4, 5, 3, 3)), labels=np.array([1, 1, 2, 2]))
    with caplog.at_level(logging.WARNING, logger="hypersynth"), warnings.catch_warnings():
        warnings.simplefilter("error")  # none of matplotlib's may come through
        confusion_figure(evaluate(np.array([1, 1, 2, 2]), np.array([1, 2, 2, 2]), classes), tmp_path / "c.png")
        report.class_map_figure(tmp_path / "map.png", tmp_path / "map.tif", classes)
        report.pca_figure(tmp_path / "pca.png", real, synthetic, classes)
    assert [r.getMessage() for r in caplog.records] == [
        "the figures' font has no 绿: text holding them (a class name, a prompt) is drawn with boxes in their "
        "place; the report's text has them"]
