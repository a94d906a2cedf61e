"""The run's output folder: inputs never overwritten, one run's files only, bad inputs refused before training."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from hypersynth.core.demo import make_demo_scene, sparse_labels
from hypersynth.core.io.classes import write_classes
from hypersynth.core.io.write import export_cog, write_label_raster, write_scene
from hypersynth.core.outputs import OutputFolderError, prepare_output_folder
from hypersynth.core.pipeline import ALL_OUTPUTS, OutputExistsError, classify_scene, classify_with_model
from hypersynth.core.scene import ClassInfo


@pytest.fixture
def scene_files(tmp_path):
    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    files = {"scene": write_scene(data.scene, inputs / "scene.tif"),
             "labels": write_label_raster(inputs / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes,
                                          **kw),
             "truth": write_label_raster(inputs / "truth.tif", data.labels, data.classes, **kw),
             "classes": write_classes(inputs / "classes.json", data.classes)}
    return data, files, kw


def _digest(path: Path) -> bytes:
    return path.read_bytes()


def test_an_input_in_the_output_folder_is_never_overwritten(scene_files, tmp_path):
    _, files, _ = scene_files
    out = files["scene"].parent
    renamed = out / "classification.tif"  # the user's scene sits where the map would go
    files["scene"].rename(renamed)
    before = _digest(renamed)
    with pytest.raises(OutputFolderError, match="your input .*classification.tif is where the run writes"):
        classify_scene(renamed, files["labels"], out, method="rf", overwrite=True)
    assert _digest(renamed) == before


def test_a_saved_classifier_applied_into_its_own_runs_folder_is_refused_for_what_it_is(scene_files, tmp_path):
    """A saved classifier's run writes no bundles but removes an earlier run's: its classifier in that folder is
    refused as the earlier run's file, not as one the run writes."""
    _, files, _ = scene_files
    out = tmp_path / "run"
    classify_scene(files["scene"], files["labels"], out, method="rf")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(OutputFolderError, match=f"your input {out / 'classifier_bundle'} is the classifier_bundle "
                                                f"of an earlier run in {out}, and a run there removes"):
        classify_with_model(out / "classifier_bundle", files["scene"], out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before
    again = classify_with_model(out / "classifier_bundle", files["scene"], tmp_path / "elsewhere")
    assert again.replaced == [] and again.class_map.exists()


def test_a_missing_input_inside_the_output_folder_is_said_missing(tmp_path, capsys):
    """A bundle that does not exist cannot be overwritten: the reader says it is missing, not that it is in the way."""
    from hypersynth.core.cli import main as cli_main

    out = tmp_path / "run"
    assert cli_main(["classify", "--model", str(out / "classifier_bundle"), "--scene", str(tmp_path / "scene.tif"),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is where the run writes" not in err and "no such folder" in err and not out.exists()


def test_a_rerun_with_overwrite_leaves_no_output_of_the_earlier_run(scene_files, tmp_path):
    _, files, _ = scene_files
    out = tmp_path / "run"
    first = classify_scene(files["scene"], files["labels"], out, method="rf", validation_path=files["truth"])
    assert first.metrics is not None and (out / "metrics.json").exists() and (out / "confusion.png").exists()
    with pytest.raises(OutputExistsError, match="a run writes there .an earlier run's, or yours.*allow overwriting"):
        classify_scene(files["scene"], files["labels"], out, method="svm")
    (out / "my_notes.txt").write_text("mine")
    (out / "confidence.tif.aux.xml").write_text("<PAMDataset>stale statistics</PAMDataset>")  # QGIS showed it
    export_cog(out / "classification.tif", out / "classification_cog.tif")  # the command line's --cog
    cog = ["classification_cog.qml", "classification_cog.tif", "classification_cog.tif.aux.xml"]
    assert sorted(p.name for p in out.glob("classification_cog*")) == cog
    second = classify_scene(files["scene"], files["labels"], out, method="svm", overwrite=True)
    assert not (out / "confidence.tif.aux.xml").exists()  # the old statistics do not describe the new raster
    assert not list(out.glob("classification_cog*"))  # the first run's map as a COG goes with its map
    assert second.metrics is None
    assert "classifier_bundle" in second.replaced and "metrics.json" in second.replaced  # said to the analyst
    assert set(cog) <= set(second.replaced) and "my_notes.txt" not in second.replaced
    assert not (out / "metrics.json").exists() and not (out / "confusion.png").exists()  # not the first run's
    assert (out / "my_notes.txt").read_text() == "mine"  # what is not a run's output stays
    assert not [p for p in out.iterdir() if p.name.startswith(".hypersynth-run-")]


def test_a_rerun_warns_of_an_assessment_of_the_map_it_replaces_and_keeps_it(scene_files, tmp_path, caplog):
    """``assess --out run/accuracy`` scored the first run's map: a rerun with overwrite keeps that folder (the
    analyst's) and says its figures are the earlier map's; an assessment of another map is not named."""
    from hypersynth.core.evaluation.assess import assess_map

    _, files, _ = scene_files
    out = tmp_path / "run"
    classify_scene(files["scene"], files["labels"], out, method="rf")
    assess_map(out / "classification.tif", files["truth"], out_dir=out / "accuracy")
    other = tmp_path / "other"
    classify_scene(files["scene"], files["labels"], other, method="rf")
    assess_map(other / "classification.tif", files["truth"], out_dir=out / "of_another_map")
    before = (out / "accuracy" / "metrics.json").read_bytes()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        classify_scene(files["scene"], files["labels"], out, method="svm", overwrite=True)
    said = [r.getMessage() for r in caplog.records if "accuracy assessment" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"{out / 'accuracy'} holds an accuracy assessment of the class map "
                                                 "this run replaces (classification.tif): its figures are the earlier")
    assert (out / "accuracy" / "metrics.json").read_bytes() == before  # the analyst's folder stays as it was
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        classify_scene(files["scene"], files["labels"], tmp_path / "fresh", method="rf")  # nothing replaced
    assert not [r for r in caplog.records if "accuracy assessment" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):  # a saved classifier's run into the folder too
        classify_with_model(other / "classifier_bundle", files["scene"], out, overwrite=True)
    assert [r.getMessage() for r in caplog.records if "accuracy assessment" in r.getMessage()] == said


def test_overwrite_replaces_only_the_outputs_the_analyst_agreed_to(scene_files, tmp_path):
    """A dialog's yes covers the outputs it named: one written since (another run, a queued task starting late) is
    refused when the run starts, under its folder claim, and nothing is replaced."""
    _, files, _ = scene_files
    out = tmp_path / "run"
    classify_scene(files["scene"], files["labels"], out, method="rf", validation_path=files["truth"])
    asked = sorted(p.name for p in out.iterdir())  # what the dialog listed
    (out / "metrics.json").unlink()  # the analyst was asked while the folder did not hold it
    asked.remove("metrics.json")
    classify_scene(files["scene"], files["labels"], out, method="rf", validation_path=files["truth"],
                   overwrite=True, approved=asked)  # replaces what was asked about: allowed
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(OutputExistsError, match=f"{out} now holds metrics.json, written after you agreed to replace "):
        classify_scene(files["scene"], files["labels"], out, method="svm", overwrite=True, approved=asked)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_failed_input_check_leaves_no_folder_behind(scene_files, tmp_path):
    _, files, _ = scene_files
    out = tmp_path / "new" / "run"
    with pytest.raises(Exception, match="scene"):
        classify_scene(tmp_path / "missing.tif", files["labels"], out, method="rf")
    assert not out.exists()


def test_an_output_folder_that_is_a_file_is_refused(scene_files, tmp_path):
    _, files, _ = scene_files
    target = tmp_path / "afile.txt"
    target.write_text("mine")
    with pytest.raises(OutputFolderError, match="is a file; give a folder"):
        classify_scene(files["scene"], files["labels"], target, method="rf")
    assert target.read_text() == "mine"


def test_a_reused_model_bundle_may_be_saved_again_where_it_is(tmp_path):
    out = tmp_path / "run"
    (out / "model_bundle").mkdir(parents=True)
    with pytest.raises(OutputFolderError, match="model_bundle"):
        prepare_output_folder(out, ALL_OUTPUTS, [out / "model_bundle"], overwrite=True)
    assert prepare_output_folder(out, ALL_OUTPUTS, [out / "model_bundle"], overwrite=False,
                                 kept=["model_bundle"]) == []


def test_validation_labels_that_cannot_score_the_run_are_refused_before_training(scene_files, tmp_path):
    data, files, kw = scene_files
    with pytest.raises(ValueError, match="every validation pixel of labels.tif is also a training label"):
        classify_scene(files["scene"], files["labels"], tmp_path / "a", method="rf", validation_path=files["labels"])
    other = [ClassInfo(c.id + 10, c.name) for c in data.classes]
    shifted = write_label_raster(tmp_path / "shifted.tif", np.where(data.labels > 0, data.labels + 10, 0), other, **kw)
    with pytest.raises(ValueError, match="class ids 11, 12, 13 .* none in common"):
        classify_scene(files["scene"], files["labels"], tmp_path / "b", method="rf", validation_path=shifted)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_validation_classes_the_map_cannot_hold_are_said(scene_files, tmp_path, caplog):
    """Labels numbered their own way may share an id or two with the map's classes by chance: the run scores them
    (some are right), and says that the other ids' pixels can only count as errors."""
    data, files, kw = scene_files
    mixed = np.where(data.labels > 1, data.labels + 10, data.labels)  # class 1 kept; 2 and 3 renumbered 12 and 13
    odd = write_label_raster(tmp_path / "mixed.tif", mixed, [data.classes[0], ClassInfo(12, "b"), ClassInfo(13, "c")],
                             **kw)
    classify_scene(files["scene"], files["labels"], tmp_path / "c", method="rf", validation_path=odd)
    assert re.search(r"the validation labels mixed.tif hold class ids 12, 13 that are none of the classes the map can "
                     r"hold \(1, 2, 3\): their \d+ pixels all count as errors", caplog.text)


def test_labels_of_a_class_the_class_file_lacks_are_refused(scene_files, tmp_path):
    data, files, kw = scene_files
    labels = sparse_labels(data.labels, 4, seed=0)
    labels[0, :3] = 9
    odd = write_label_raster(tmp_path / "odd.tif", labels, [*data.classes, ClassInfo(9, "typo")], **kw)
    with pytest.raises(ValueError, match=r"classes.json does not define: typo \(id 9, 3 pixels\); add them"):
        classify_scene(files["scene"], odd, tmp_path / "run", method="rf", classes_path=files["classes"])


def test_a_class_without_labels_and_a_no_data_class_are_said(scene_files, tmp_path, caplog):
    data, files, kw = scene_files
    extra = write_classes(tmp_path / "classes.json", [*data.classes, ClassInfo(9, "lake", prompt="a lake")])
    labels = write_label_raster(tmp_path / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes, **kw)
    dataset = gdal.Open(str(labels), gdal.GA_Update)
    dataset.GetRasterBand(1).SetNoDataValue(3)  # class 3 is read as unlabelled
    dataset = None  # closed: written
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        outputs = classify_scene(files["scene"], labels, tmp_path / "run", method="rf", classes_path=extra)
    said = caplog.text
    assert "class 9 (lake) of classes.json has no labelled pixel" in said
    assert "marks 3 as no-data, which is also class 3" in said and "gdal_edit.py -unsetnodata" in said
    assert sorted(c.id for c in outputs.classes) == [1, 2]


def test_a_patch_wider_than_the_scene_is_refused_before_training(scene_files, tmp_path):
    from hypersynth.core.methods import MethodSettings

    _, files, _ = scene_files
    with pytest.raises(ValueError, match=r"patch size 41 is larger than the scene \(32 × 32 pixels\); use at most 32"):
        classify_scene(files["scene"], files["labels"], tmp_path / "run", method="cnn",
                       settings=MethodSettings(preset="tiny", patch_size=41))
    assert not (tmp_path / "run").exists()


def test_a_rerun_leaves_no_overviews_or_mask_of_the_map_it_replaces(tmp_path):
    """QGIS's Build pyramids writes classification.tif.ovr beside a run's map; a rerun with overwrite moved its new
    map in and left them, and GDAL read the old map's overviews with it (review)."""
    from hypersynth.core.outputs import move_outputs

    out, staging = tmp_path / "run", tmp_path / "staging"
    out.mkdir()
    staging.mkdir()
    for name in ("classification.tif", "classification.tif.ovr", "classification.tif.msk", "classification.tif.OVR",
                 "classification.tfw", "notes.txt"):
        (out / name).write_bytes(b"earlier")
    (staging / "classification.tif").write_bytes(b"new")
    (staging / "classification.tif.aux.xml").write_bytes(b"new")
    for name in ("probabilities.tif", "probabilities.tif.ovr"):  # an earlier run's, this one writes none
        (out / name).write_bytes(b"earlier")
    move_outputs(staging, out, ["classification.tif", "classification.tif.aux.xml", "probabilities.tif"], [])
    assert sorted(p.name for p in out.iterdir()) == ["classification.tfw", "classification.tif",
                                                     "classification.tif.aux.xml", "notes.txt"]
    assert (out / "classification.tif").read_bytes() == b"new"


def test_a_rerun_never_deletes_the_analysts_files_put_in_an_earlier_runs_model_folder(tmp_path):
    """A model folder is replaced whole: notes put in an earlier run's classifier_bundle went with it, said only as
    "replaced … classifier_bundle" (review)."""
    import torch

    from hypersynth.core.ldm.bundle import save_bundle
    from hypersynth.core.outputs import check_output_folder

    out = tmp_path / "run"
    save_bundle(out / "classifier_bundle", {"classifier": {"w": torch.zeros(1)}}, {}, {})
    check_output_folder(out, ALL_OUTPUTS, [], overwrite=True)  # the model alone: replaced as asked
    (out / "classifier_bundle" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputFolderError, match=r"classifier_bundle holds an earlier run's saved model and also "
                                                r"notes\.txt, which a run there would delete with it"):
        check_output_folder(out, ALL_OUTPUTS, [], overwrite=True)
    assert (out / "classifier_bundle" / "notes.txt").read_text() == "keep me"


def test_every_run_writes_what_it_was_with_or_without_validation_labels(scene_files, tmp_path):
    """metrics.json, and with it the run's record, was written only with validation labels: a run without them
    left nothing a script could read its settings from (review)."""
    import json

    _, files, _ = scene_files
    outputs = classify_scene(files["scene"], files["labels"], tmp_path / "run", method="rf")
    assert not (tmp_path / "run" / "metrics.json").exists()
    run = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert run["method"] == "rf" and run["what"] == "Random forest (spectra)"
    assert run["inputs"]["scene"] == str(files["scene"].resolve()) and isinstance(run["warnings"], list)
    assert run["labels_cv_balanced_accuracy"] is None and outputs.labels_cv_accuracy is None  # no blend CV here
    assert "| run.json | what the run was, as JSON" in outputs.report.read_text(encoding="utf-8")
    applied = classify_with_model(tmp_path / "run" / "classifier_bundle", files["scene"], tmp_path / "applied")
    assert json.loads((tmp_path / "applied" / "run.json").read_text())["what"] == "classified with a saved model"
    assert applied.class_map.exists()



def test_a_sidecar_is_listed_once_where_the_disk_ignores_case(tmp_path, monkeypatch):
    """On Windows or macOS x.tif.ovr and x.tif.OVR are one file: listed twice, the second removal failed after the
    old map was gone (review)."""
    from pathlib import Path

    from hypersynth.core.outputs import stale_sidecars

    (tmp_path / "map.tif.ovr").write_bytes(b"old")
    real_is_file, real_stat = Path.is_file, Path.stat
    monkeypatch.setattr(Path, "is_file", lambda self: real_is_file(self.with_name(self.name.lower())))
    monkeypatch.setattr(Path, "stat", lambda self, **kw: real_stat(self.with_name(self.name.lower()), **kw))
    assert len(stale_sidecars(tmp_path / "map.tif")) == 1  # map.tif.ovr and map.tif.OVR: one file here


def test_a_reused_model_folder_in_the_run_folder_holding_the_analysts_files_is_refused(tmp_path):
    """A run reusing the model bundle of its own folder saves it again over that folder: files the analyst put there
    went with it, unchecked as a kept output (review)."""
    import torch

    from hypersynth.core.ldm.bundle import save_bundle
    from hypersynth.core.outputs import check_output_folder

    out = tmp_path / "run"
    save_bundle(out / "model_bundle", {p: {"w": torch.zeros(1)} for p in ("vae", "ema_denoiser")}, {}, {})
    check_output_folder(out, ALL_OUTPUTS, [out / "model_bundle"], overwrite=False, kept=["model_bundle"])
    (out / "model_bundle" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputFolderError, match=r"model_bundle holds an earlier run's saved model and also notes"):
        check_output_folder(out, ALL_OUTPUTS, [out / "model_bundle"], overwrite=False, kept=["model_bundle"])
