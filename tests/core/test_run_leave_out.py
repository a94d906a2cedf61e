"""Bands a run leaves out by itself (--leave-out-bands of a run): the same map as a run on the scene imported without
them, said in the report, kept with the saved classifier and left out again where it classifies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio

from hypersynth.core import pipeline
from hypersynth.core.classifier_bundle import load_classifier
from hypersynth.core.cli import main as cli_main
from hypersynth.core.demo import make_demo_scene, sparse_labels
from hypersynth.core.io.band_choice import BandChoiceError
from hypersynth.core.io.classes import write_classes
from hypersynth.core.io.convert import import_scene
from hypersynth.core.io.write import write_label_raster, write_scene

TOLD = "1-2, 11-13"  # bands 1-2 and 11-13 of 40; band 3 is flagged bad in the file


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A 32 × 32 × 40 demo scene whose file flags band 3 bad, 4 labels per class of its 3 classes, their class file
    and the whole ground truth."""
    folder = tmp_path_factory.mktemp("leave_out")
    data = make_demo_scene(size=32, bands=40, n_classes=3, seed=0)
    good = np.ones(40, dtype=bool)
    good[2] = False
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    return {"scene": write_scene(replace(data.scene, good_bands=good), folder / "scene.tif"),
            "labels": write_label_raster(folder / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes,
                                         **kw),
            "classes": write_classes(folder / "classes.json", data.classes),
            "truth": write_label_raster(folder / "truth.tif", data.labels, data.classes, **kw)}


def _map(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


@pytest.mark.parametrize("method", ["rf", "cnn"])  # rf streams a plain raster's pixels; the cnn reads the scene whole
def test_a_run_told_to_leave_out_bands_maps_as_a_run_on_the_scene_imported_without_them(inputs, tmp_path, method):
    run = dict(method=method, classes_path=inputs["classes"], validation_path=inputs["truth"], preset="tiny", seed=3)
    told = pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "told", leave_out_bands=TOLD, **run)
    copy = import_scene(inputs["scene"], tmp_path / "copy.tif", leave_out_bands=TOLD)
    imported = pipeline.classify_scene(copy, inputs["labels"], tmp_path / "imported", **run)
    assert np.array_equal(_map(told.class_map), _map(imported.class_map))
    assert told.metrics["oa"] == imported.metrics["oa"]
    report = told.report.read_text()
    assert ("34 usable bands (" in report and "; of its 40, left out: bands 1–2 (" in report
            and "), as the run was told, and band 3 (" in report and "), flagged bad in the file, or without data"
            in report)
    assert "- Bands left out as the run was told: 1-2,11-13" in report  # as it is given again
    with rasterio.open(inputs["scene"]) as ds:  # the scene's file is not touched: band 1 is still flagged good
        assert ds.tags(1).get("bbl", "1") == "1"


def test_naming_a_band_the_file_flags_bad_already_is_no_mistake_for_a_run(inputs, tmp_path, caplog):
    caplog.set_level("INFO", logger="hypersynth")
    out = pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "out", method="rf",
                                  leave_out_bands="3, 40")
    assert "39 usable bands" not in out.report.read_text() and "38 usable bands" in out.report.read_text()
    assert any("the run leaves out band 40" in r.getMessage() and "band 3 (" in r.getMessage()
               and "flagged bad in the file already" in r.getMessage() for r in caplog.records)


def test_a_saved_classifier_leaves_out_again_what_its_training_run_was_told(inputs, tmp_path):
    trained = pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "trained", method="rf",
                                      leave_out_bands=TOLD, seed=1)
    assert load_classifier(trained.classifier)[3]["named_left_out"] == "1-2,11-13"
    again = pipeline.classify_with_model(trained.classifier, inputs["scene"], tmp_path / "again",
                                         validation_path=inputs["truth"])
    assert np.array_equal(_map(again.class_map), _map(trained.class_map))
    assert "as the classifier's training run was told" in again.report.read_text()  # not the analyst's choice
    with pytest.raises(ValueError, match=r"the classifier was trained on 34 bands but scene.tif has 33 usable bands "
                                         r"\(of its 40, left out as flagged bad, without data or as told: bands 1–7 "
                                         r"\(400–723 nm\)\); it only applies to scenes of the same "
                                         r"sensor and band set; its training run left out bands 1-2,11-13 of its "
                                         r"scene's 40 as told: .*; to map scene.tif otherwise, train a classifier"):
        pipeline.classify_with_model(trained.classifier, inputs["scene"], tmp_path / "other", leave_out_bands="1-7")
    assert not (tmp_path / "other").exists()  # a refused run leaves no folder it made


def test_a_saved_classifier_maps_a_scene_of_its_sensor_with_more_usable_bands(inputs, tmp_path, caplog):
    """Review: a scene holding every band the classifier learnt from and a few more (a tile exported without its
    bad-band flags) was refused with advice to train again; its bands are matched by wavelength instead."""
    trained = pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "trained", method="rf", seed=1)
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene  # the same pixels, band 3 not flagged
    unflagged = write_scene(replace(scene, good_bands=np.ones(40, dtype=bool)), tmp_path / "unflagged.tif")
    with caplog.at_level("WARNING", logger="hypersynth"):
        again = pipeline.classify_with_model(trained.classifier, unflagged, tmp_path / "again",
                                             validation_path=inputs["truth"])
    assert np.array_equal(_map(again.class_map), _map(trained.class_map))
    assert ("unflagged.tif: 1 of its usable bands lies at none of the 39 wavelengths the classifier learnt from "
            "(band 3 (") in caplog.text and "as the classifier did not learn from them" in again.report.read_text()
    denser = make_demo_scene(size=32, bands=79, n_classes=3, seed=0).scene  # every trained wavelength and one between
    dense = write_scene(replace(denser, good_bands=np.ones(79, dtype=bool)), tmp_path / "denser.tif")
    with pytest.raises(ValueError, match=r"trained on 39 bands but denser.tif has 79 usable bands"):
        pipeline.classify_with_model(trained.classifier, dense, tmp_path / "dense")  # another sensor (review)
    # told bands and the bands the classifier did not learn from, in one run: each said with its reason (review)
    named = pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "named", method="rf", seed=1,
                                    leave_out_bands=TOLD)
    both = pipeline.classify_with_model(named.classifier, unflagged, tmp_path / "both", leave_out_bands=TOLD)
    assert np.array_equal(_map(both.class_map), _map(named.class_map))
    report = both.report.read_text()
    assert ("left out: bands 1–3 (400–508 nm) and 11–13 (938–1046 nm), as the run was told, or as the classifier did "
            "not learn from them") in report and "flagged bad in the file" not in report


def test_a_list_that_cannot_be_meant_is_refused_before_anything_is_written(inputs, tmp_path):
    with pytest.raises(BandChoiceError, match="runs from high to low"):  # its form: before the scene is read
        pipeline.classify_scene(tmp_path / "no_such_scene.tif", inputs["labels"], tmp_path / "a", method="rf",
                                leave_out_bands="9-3")
    with pytest.raises(BandChoiceError, match=r"^band 41 is not in the scene: its bands are numbered 1 to 40$"):
        pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "b", method="rf", leave_out_bands="41")
    with pytest.raises(BandChoiceError, match=r"would leave the scene no usable band; name fewer"):
        pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "c", method="rf",
                                leave_out_bands="1-2, 4-40")
    assert not any(tmp_path.iterdir())


def test_the_command_line_names_the_option_of_a_band_the_scene_lacks(inputs, tmp_path, capsys):
    assert cli_main(["baseline", "--scene", str(inputs["scene"]), "--labels", str(inputs["labels"]), "--out",
                     str(tmp_path / "out"), "--leave-out-bands", "50", "--quiet"]) == 2
    assert "--leave-out-bands: band 50 is not in the scene: its bands are numbered 1 to 40" in capsys.readouterr().err
    assert cli_main(["baseline", "--scene", str(inputs["scene"]), "--labels", str(inputs["labels"]), "--out",
                     str(tmp_path / "out"), "--leave-out-bands", "2-4", "--quiet"]) == 0
    assert "; of its 40, left out: bands 2–4 (" in (tmp_path / "out" / "report.md").read_text()


def test_a_synthesis_model_trained_without_bands_is_reused_by_a_run_told_the_same(inputs, tmp_path):
    from hypersynth.core.ldm.model import SynthesisModel
    from hypersynth.core.methods import MethodSettings

    bundle = pipeline.train_bundle(inputs["scene"], inputs["labels"], tmp_path / "model",
                                   classes_path=inputs["classes"], settings=MethodSettings(preset="tiny", seed=0),
                                   leave_out_bands=TOLD)
    assert SynthesisModel.load(bundle).bands == 34  # 40, less band 3 (the file's) and the 5 told
    run = dict(method="augment", classes_path=inputs["classes"], bundle_path=bundle, preset="tiny")
    out = pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "told", leave_out_bands=TOLD, **run)
    assert out.class_map.is_file()
    untold = pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "untold", **run)
    assert "as the synthesis model's training run was told" in untold.report.read_text()  # the model kept them
    assert np.array_equal(_map(untold.class_map), _map(out.class_map))
    with pytest.raises(ValueError, match=r"the model bundle was trained on 34 bands but this scene has 38 usable "
                                         r"bands after the bands it was told to leave out; use a scene of the same "
                                         r"sensor \(same band set, the same bands left out\) or train a new bundle; "
                                         r"its training run left out bands 1-2,11-13 of its scene's 40 as told"):
        pipeline.classify_scene(inputs["scene"], inputs["labels"], tmp_path / "other", leave_out_bands="1", **run)


def test_bench_on_an_own_scene_leaves_the_bands_out_of_every_run(inputs, tmp_path, capsys):
    from hypersynth.core.bench import load_own_scene

    data = load_own_scene(inputs["scene"], inputs["truth"], leave_out_bands=TOLD)
    assert int(data.scene.good_bands.sum()) == 34 and data.scene.usable_cube().shape[0] == 34
    out = tmp_path / "bench.json"
    assert cli_main(["bench", "--scene", str(inputs["scene"]), "--truth", str(inputs["truth"]), "--methods", "rf",
                     "--labels-per-class", "3", "--seeds", "0", "--splits", "random", "--leave-out-bands", TOLD,
                     "--json", str(out), "--quiet"]) == 0
    assert cli_main(["bench", "--scene", str(inputs["scene"]), "--truth", str(inputs["truth"]), "--methods", "rf",
                     "--leave-out-bands", "41", "--quiet"]) == 2
    assert "--leave-out-bands: band 41 is not in the scene" in capsys.readouterr().err
    assert cli_main(["bench", "--datasets", "demo", "--leave-out-bands", "1", "--quiet"]) == 2
    assert "--leave-out-bands applies to your own --scene" in capsys.readouterr().err
