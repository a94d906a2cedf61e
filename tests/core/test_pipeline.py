"""The main job end to end on small generated scenes: outputs, cancel, bundle reuse, bad input, CLI, bench."""

import json
import logging
import re

import numpy as np
import pytest

from hypersynth.core.attention import read_class_attention
from hypersynth.core.cli import main as cli_main
from hypersynth.core.demo import make_demo_scene
from hypersynth.core.io.write import write_scene
from hypersynth.core.methods import MethodSettings
from hypersynth.core.pipeline import (CLASSIFIER_BUNDLE, OutputExistsError, classify_scene, classify_with_model,
                                      synthesize_to_file, train_bundle)
from hypersynth.core.progress import CallbackReporter, CancelAfter, Cancelled
from hypersynth.core.scale_check import OtherUnitsError

from ..demo_files import write_demo_files


def _with_gaps(scene_path, folder, also=()):
    """The scene of ``scene_path`` written again as ``gaps.tif`` with no-data pixels inside it and along its border
    (and at the ``(row, col)`` pixels ``also``); returns ``(gaps.tif, the scene read whole, its valid mask)``."""
    import dataclasses

    from hypersynth.core.io.read import read_scene

    scene = read_scene(scene_path)
    assert not scene.good_bands.all()  # the demo's bad bands: the streamed reader reads the usable ones only
    valid = scene.valid.copy()
    valid[3:6, 4:9] = False
    valid[0, :] = False
    for at in also:
        valid[tuple(at)] = False
    return write_scene(dataclasses.replace(scene, valid=valid), folder / "gaps.tif"), scene, valid


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory):
    return write_demo_files(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="module")
def augment_run(scene_files, tmp_path_factory):
    scene, labels, truth, classes = scene_files
    out = tmp_path_factory.mktemp("augment")
    settings = MethodSettings(preset="tiny", seed=0, synthetic_per_class=6)
    stages: list[str] = []  # each stage name once, in the order the run reported them (counts as k/n)
    record = CallbackReporter(lambda _, stage: stages.append(re.sub(r"\d+/\d+", "k/n", stage))
                              if not stages or stages[-1] != re.sub(r"\d+/\d+", "k/n", stage) else None)
    outputs = classify_scene(scene, labels, out, method="augment", classes_path=classes, validation_path=truth,
                             settings=settings, reporter=record)
    return out, outputs, stages


def test_the_accuracy_by_confidence_is_read_at_the_validation_pixels_of_the_confidence_raster(augment_run,
                                                                                              scene_files):
    import rasterio

    from hypersynth.core.evaluation.reliability import ConfidenceReliability

    out, outputs, _ = augment_run
    with rasterio.open(scene_files[2]) as truth_file, rasterio.open(out / "confidence.tif") as conf_file, \
            rasterio.open(out / "classification.tif") as map_file:
        truth, confidence, mapped = truth_file.read(1), conf_file.read(1), map_file.read(1)
    scored = json.loads((out / "metrics.json").read_text())
    at = (truth > 0) & (mapped > 0)
    at &= ~np.isin(np.arange(truth.size).reshape(truth.shape), _training_flat(scene_files))  # not the labels
    expected = ConfidenceReliability.from_pixels(confidence[at], truth[at] == mapped[at]).to_dict()
    assert scored["accuracy_by_confidence"] == pytest.approx(expected)
    assert sum(r["pixels"] for r in expected) == scored["n_test"]
    header = "| confidence | validation pixels | mapped right | right (%) | mean confidence |"
    assert header in outputs.report.read_text()


def _training_flat(scene_files) -> np.ndarray:
    import rasterio

    with rasterio.open(scene_files[1]) as labels:
        return np.flatnonzero(labels.read(1) > 0)


def test_augment_run_reports_each_stage_by_name(augment_run):
    _, _, stages = augment_run
    assert stages[:2] == ["reading scene", "training patches"] and stages[-1] == "done"
    first = {name: next(i for i, s in enumerate(stages) if s.startswith(name))
             for name in ("VAE k/n", "diffusion k/n", "synthesis", "cross-validation k/n: classifier k/n",
                          "classifier k/n", "prediction", "report", "attention", "done")}
    assert list(first.values()) == sorted(first.values()), first  # in the order the run does them
    assert "classifier k/n" in stages[stages.index("random forest") - 2:]  # the final blend's CNN, after the CV
    last_attention = max(i for i, s in enumerate(stages) if s.startswith("attention"))
    assert stages[last_attention + 1:] == ["report", "done"]  # the bundle and report are not named as attention


def test_augment_and_classify_writes_every_output(augment_run):
    out, outputs, _ = augment_run
    for name in ("classification.tif", "classification.qml", "confidence.tif", "report.md", "report.html",
                 "metrics.json", "run.json", "synthetic_summary.json", "model_bundle", CLASSIFIER_BUNDLE, "spectra.png",
                 "pca.png", "confusion.png", "attention.png", "attention.npz"):
        assert (out / name).exists(), name
    rows, wavelengths = read_class_attention(outputs.attention)  # what the attention dock shows after the run
    assert outputs.attention == out / "attention.npz"
    assert sorted(r.name for r in rows) == sorted(c.name for c in outputs.classes)
    h, w = rows[0].latent_hw
    assert all(r.attention.shape[1:] == (h * w, len(r.tokens)) for r in rows)
    assert wavelengths is not None and all(r.patch.shape[0] == len(wavelengths) for r in rows)
    assert all(r.anchored for r in rows)  # started from labelled patches, as the run's (anchor strength 0.5) were
    assert "one patch per class started from a labelled patch kept with the model (as the run started its synthetic " \
        "patches from its labelled ones)" in outputs.report.read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".hypersynth-run-")]
    summary = json.loads((out / "synthetic_summary.json").read_text())
    assert summary["total"] == sum(r["synthetic"] for r in summary["classes"]) > 0
    assert 0.0 <= outputs.metrics["oa"] <= 1.0 and outputs.metrics["n_test"] > 0
    near = outputs.metrics["near_training"]  # the validation pixels beside the labels told from the rest
    patch = int(re.search(r"patches (\d+) × ", outputs.report.read_text()).group(1))
    from hypersynth.core.classify.spatial import kernel_radius

    sigma = float(re.search(r"σ (\d+(?:\.\d+)?)", near["radius_means"]).group(1)) if "σ" in near["radius_means"] else 0
    assert near["radius"] == max(1, patch // 2 + kernel_radius(sigma))  # the patch and the smoothing's reach
    assert near["near"] + near["apart"] == outputs.metrics["n_test"]
    assert near["near"] > 0 and near["apart"] > 0
    used = json.loads((out / "metrics.json").read_text())["run"]["classifier"]  # what it used, for scripts
    assert set(used["blend_shares"]) == {"cnn", "forest"} and sum(used["blend_shares"].values()) == 1.0
    folds = re.search(r"classifier blend: .*, chosen by (?:(\d+)× repeated )?(\d+)-fold", outputs.report.read_text())
    assert (used["blend_cv_folds"], used["blend_cv_repeats"]) == (int(folds.group(2)), int(folds.group(1) or 1))
    assert used["blend_share_rule"] == "balanced-accuracy" and used["forest_inputs"] == "spectrum+shape+slope"
    synthesis = json.loads((out / "metrics.json").read_text())["run"]["synthesis"]  # the settings that made them
    assert synthesis == {"synthetic_per_class": 6, "synthetic_per_class_given": True, "balance_rate": 0.5,
                         "synthetic_weight": 0.5, "anchor_strength": 0.5, "guidance": synthesis["guidance"],
                         "steps": synthesis["steps"], "filter_synthetic": True, "cv_synthesis": "none"}
    assert synthesis["steps"] >= 1 and synthesis["guidance"] >= 0
    run = json.loads((out / "run.json").read_text())  # the same record, written with or without validation labels
    metrics_file = json.loads((out / "metrics.json").read_text())
    assert {k: v for k, v in run.items() if k not in ("warnings", "labels_cv_balanced_accuracy", "finished")} == \
        {k: v for k, v in metrics_file["run"].items() if k != "finished"}
    assert run["warnings"] == metrics_file["warnings"]
    assert run["labels_cv_balanced_accuracy"] == round(outputs.labels_cv_accuracy, 4)
    assert (f"- Synthesis: 6 patches for the average class (as given; balance rate λ 0.5), anchor strength 0.5, "
            f"guidance ω {synthesis['guidance']:g}, {synthesis['steps']} steps, synthetic weight 0.5, patches nearer "
            "another class's labelled mean dropped\n") in outputs.report.read_text()
    chosen = re.search(r"the chosen blend's cross-validated balanced accuracy, (\d+\.\d) %", outputs.report.read_text())
    assert f"{used['blend_cv_balanced_accuracy'] * 100:.1f}" == chosen.group(1)  # the report's figure, for the dock
    # the dock's figure: the blend smoothed as the map was, its score in the report's smoothing line (review)
    assert round(outputs.labels_cv_accuracy, 4) == used["map_cv_balanced_accuracy"]
    smoothing = re.search(r"spatial smoothing of the class probabilities: .*balanced accuracy per σ: ([^)]*)\)",
                          outputs.report.read_text())
    per_sigma = dict(item.split(": ") for item in smoothing.group(1).split(", "))
    sigma_key = f"{used['smoothing_sigma_px']:g}"
    if used["smoothing_sigma_px"]:  # σ 0: the blend's own figure, scored on every labelled pixel
        assert per_sigma[sigma_key] == f"{outputs.labels_cv_accuracy * 100:.1f} %"
    else:
        assert outputs.labels_cv_accuracy == used["blend_cv_balanced_accuracy"]
    assert used["smoothing_sigma_px"] == sigma and used["smoothing_given"] is False
    assert used["patch_size_px"] == patch and used["patch_size_given"] is False
    report = outputs.report.read_text()  # enough to run it again: settings, encoder, inputs
    assert f"{near['near']} of the {outputs.metrics['n_test']} validation pixels lie within" in report
    assert re.search(r"^- Run \d{4}-\d\d-\d\dT[\d:]+[+-][\d:]+: preset tiny, seed 0, device (cpu|cuda:?\d*) \(from "
                     r"auto\), patches \d+ × \d+ px \(chosen from the scene\)$", report, flags=re.MULTILINE)
    assert "- Text encoder: random-init (tiny test tower)" in report and "**Read with care:**" in report
    assert "on real + synthetic patches)**" in report and "on request" not in report  # what this run did
    from hypersynth.core.version import engine_description

    assert f"- Engine {engine_description()}, Python " in report  # with the commit, in a git checkout
    assert re.search(r"^- Scene file: /.*scene\.tif$", report, flags=re.MULTILINE)
    assert re.search(r"^- Class file: /.*classes\.json$", report, flags=re.MULTILINE)
    assert "Synthetic samples" in outputs.report.read_text()
    assert "![cross-attention per prompt word](attention.png)" in outputs.report.read_text()
    assert "together they weigh 0.5 of your labels in training" in outputs.report.read_text()  # the default share
    assert "## How your labels chose the blend" in outputs.report.read_text()  # the CV's grid of shares
    html_report = (out / "report.html").read_text()
    assert "<b>" in html_report and "**" not in html_report  # the chosen share in bold, in the HTML too
    files = outputs.report.read_text().split("## Files\n", 1)[1]  # what each main file holds, for the analyst
    assert [row.split(" | ")[0].strip("| ") for row in files.strip().splitlines()[2:]] == [
        "classification.tif", "classification.qml", "confidence.tif", "metrics.json", "run.json",
        "run_classes.json", "model_bundle", CLASSIFIER_BUNDLE, "map.png", "synthetic_summary.json", "attention.npz",
        "confusion.png, spectra.png, pca.png, attention.png"]  # every file the run folder holds but the reports
    assert "band 2: the uncertainty" in files  # no probabilities.tif: not asked for
    from hypersynth.core.io.classes import read_classes  # the prompts as the run used them, a class file again

    assert [(c.id, c.name, c.text, c.color) for c in read_classes(out / "run_classes.json")] == [
        (c.id, c.name, c.text, c.color) for c in outputs.classes]


def test_cancel_mid_run_leaves_nothing(scene_files, tmp_path):
    scene, labels, truth, classes = scene_files
    reporter = CancelAfter(5)
    with pytest.raises(Cancelled):
        classify_scene(scene, labels, tmp_path, method="augment", classes_path=classes,
                       settings=MethodSettings(preset="tiny"), reporter=reporter)
    assert list(tmp_path.iterdir()) == []


def test_existing_outputs_are_not_overwritten(augment_run, scene_files):
    out, _, _ = augment_run
    scene, labels, _, classes = scene_files
    before = (out / "classification.tif").read_bytes()
    with pytest.raises(OutputExistsError, match="already holds"):
        classify_scene(scene, labels, out, method="rf")
    assert (out / "classification.tif").read_bytes() == before


def test_diffusion_feature_run_maps_the_scene_and_guards_its_model_bundle(augment_run, scene_files, tmp_path):
    scene, labels, truth, classes = scene_files
    out, _, _ = augment_run
    # reuses the Augment & Classify bundle: the same scene's model, no second training
    outputs = classify_scene(scene, labels, tmp_path, method="dfeat", classes_path=classes, validation_path=truth,
                             bundle_path=out / "model_bundle", settings=MethodSettings(preset="tiny"))
    assert outputs.class_map.exists() and outputs.metrics["n_test"] > 0
    assert "diffusion features per pixel" in outputs.report.read_text()
    assert (tmp_path / "model_bundle").is_dir()
    other = tmp_path / "second"
    (other / "model_bundle").mkdir(parents=True)  # something of the user's, named like the run's bundle
    with pytest.raises(OutputExistsError, match="model_bundle"):
        classify_scene(scene, labels, other, method="dfeat", classes_path=classes)
    assert list((other / "model_bundle").iterdir()) == []


def test_saved_classifier_applies_to_another_scene(augment_run, tmp_path):
    out, _, _ = augment_run
    other, _, truth, _ = write_demo_files(tmp_path, seed=1)
    result = classify_with_model(out / CLASSIFIER_BUNDLE, other, tmp_path / "other", validation_path=truth)
    assert result.class_map.exists() and result.report.exists()
    assert result.metrics["n_test"] > 0
    assert (tmp_path / "other" / "map.png").exists() and "![class map](map.png)" in result.report.read_text()
    trained = result.report.read_text().split("## How the model was trained")[1]  # the training run's notes
    assert "classifier blend:" in trained and "spectral forest:" in trained and "CNN:" in trained
    import rasterio

    for folder, report in ((out, out / "report.md"), (tmp_path / "other", result.report)):  # both reports' tables
        with rasterio.open(folder / "classification.tif") as src:  # the demo's grid is in metres
            mapped, hectares = np.bincount(src.read(1).ravel()), abs(src.transform.a * src.transform.e) / 10_000
        assert "| mapped pixels | mapped area (ha) |" in report.read_text()
        assert f"| {mapped[1]:,} | {mapped[1] * hectares:,.1f} |" in report.read_text()


def test_a_saved_classifier_back_on_its_own_scene_leaves_its_training_pixels_out(augment_run, scene_files, tmp_path,
                                                                                 caplog):
    """Scored, the pixels it learnt from would give the training labels' accuracy (100 % with the labels as the
    validation): on the grid it was trained on they are left out, as the training run left them out."""
    import rasterio

    out, outputs, _ = augment_run
    scene, labels, truth, _ = scene_files
    with pytest.raises(ValueError, match=r"every validation pixel of labels.tif lies at the position of a pixel the "
                                         r"classifier learnt .*another date of the place.*hypersynth assess"):
        classify_with_model(out / CLASSIFIER_BUNDLE, scene, tmp_path / "own_labels", validation_path=labels)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        again = classify_with_model(out / CLASSIFIER_BUNDLE, scene, tmp_path / "again", validation_path=truth)
    with rasterio.open(labels) as src:
        learnt = int((src.read(1) > 0).sum())
    said = f"{learnt} validation pixels of {truth.name} lie at the positions of pixels the classifier learnt from"
    assert said in caplog.text
    assert again.metrics["n_test"] == outputs.metrics["n_test"]  # the pixels the training run scored, no more
    assert again.metrics["near_training"]["near"] == outputs.metrics["near_training"]["near"]


def test_class_probabilities_on_request_agree_with_the_map(augment_run, scene_files, tmp_path, capsys):
    """A band per class, named by it; where a pixel is classified its bands sum to 1 and the largest is its class,
    the confidence is that largest; elsewhere every band is nodata. From a run and from a saved classifier."""
    import rasterio

    out, _, _ = augment_run
    scene, labels, _, _ = scene_files
    assert cli_main(["baseline", "--scene", str(scene), "--labels", str(labels), "--out", str(tmp_path / "rf"),
                     "--probabilities", "--quiet"]) == 0
    assert f"probabilities:  {tmp_path / 'rf' / 'probabilities.tif'}" in capsys.readouterr().out
    assert "| probabilities.tif | each class's probability" in (tmp_path / "rf" / "report.md").read_text()
    other = classify_with_model(out / CLASSIFIER_BUNDLE, scene, tmp_path / "other", probabilities=True)
    assert other.probabilities == tmp_path / "other" / "probabilities.tif"
    for folder in (tmp_path / "rf", tmp_path / "other"):
        with rasterio.open(folder / "probabilities.tif") as src, rasterio.open(folder / "classification.tif") as cm, \
                rasterio.open(folder / "confidence.tif") as conf:
            proba, class_map, confidence = src.read(), cm.read(1), conf.read(1)
            names = [c.name for c in other.classes]
            assert src.descriptions == tuple(f"probability of {c.name} (class {c.id})" for c in other.classes)
        ids = np.array([c.id for c in other.classes])
        done = class_map > 0
        assert done.any() and (proba[:, ~done] == -1.0).all() and len(names) == proba.shape[0]
        np.testing.assert_allclose(proba[:, done].sum(axis=0), 1.0, atol=1e-4)
        assert np.array_equal(ids[proba[:, done].argmax(axis=0)], class_map[done])
        np.testing.assert_allclose(proba[:, done].max(axis=0), confidence[done], rtol=1e-6)
    assert "| probabilities.tif |" in (tmp_path / "other" / "report.md").read_text()
    assert classify_with_model(out / CLASSIFIER_BUNDLE, scene, tmp_path / "plain").probabilities is None
    assert "| probabilities.tif |" not in (tmp_path / "plain" / "report.md").read_text()
    assert "| confidence.tif | band 1:" in (tmp_path / "plain" / "report.md").read_text()
    assert not (tmp_path / "plain" / "probabilities.tif").exists()  # only on request
    for folder in ("rf", "other"):  # the demo's water-vapour bands are flagged bad: both reports name them
        assert re.search(r"^- Scene: \d+ × \d+ pixels, \d+ usable bands[^;\n]*; of its \d+, left out: bands \d+–\d+ "
                         r"\(\d+–\d+ nm\)", (tmp_path / folder / "report.md").read_text(), re.M), folder


def test_a_scene_in_other_units_is_warned_of(augment_run, tmp_path, caplog, capsys):
    """The same sensor's scene stored as reflectance × 10 000: the classifier would map it wrongly, silently."""
    import dataclasses

    from hypersynth.core.io.read import read_scene

    out, _, _ = augment_run
    other, _, _, _ = write_demo_files(tmp_path, seed=1)
    scene = read_scene(other)
    scaled = write_scene(dataclasses.replace(scene, cube=scene.cube * 10_000), tmp_path / "scaled.tif")
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        same = classify_with_model(out / CLASSIFIER_BUNDLE, other, tmp_path / "same")
    assert "times those of the scene the classifier learnt from" not in caplog.text + same.report.read_text()
    # 10 000 times: other units, refused before the prediction (a batch job's exit status would say all went well)
    with pytest.raises(OtherUnitsError, match=r"^scaled's values are about [\d.]+e\+0[34] times those of the scene the "
                                              r"classifier learnt from .* to map it as it is, pass "
                                              r"accept_other_units=True; nothing was written$"):
        classify_with_model(out / CLASSIFIER_BUNDLE, scaled, tmp_path / "scaled")
    assert not (tmp_path / "scaled" / "classification.tif").exists()
    percent = write_scene(dataclasses.replace(scene, cube=scene.cube * 100), tmp_path / "percent.tif")
    with pytest.raises(OtherUnitsError, match=r"^percent's values are about \d+(\.\d+)? times"):  # bright values too
        classify_with_model(out / CLASSIFIER_BUNDLE, percent, tmp_path / "percent")  # (review: mapped, exit 0)
    assert cli_main(["classify", "--classifier", str(out / CLASSIFIER_BUNDLE), "--scene", str(scaled), "--out",
                     str(tmp_path / "cli")]) == 2  # said on stderr, as any refused input, in the option's words
    assert "to map it as it is, give --accept-other-units; nothing was written" in capsys.readouterr().err
    with caplog.at_level(logging.WARNING, logger="hypersynth"):  # told to go on: mapped, and warned of
        result = classify_with_model(out / CLASSIFIER_BUNDLE, scaled, tmp_path / "scaled", accept_other_units=True)
    assert re.search(r"about [\d.]+e\+0[34] times those of the scene the classifier learnt from", caplog.text)
    said = result.report.read_text().split("## Warnings\n\n", 1)[1].split("\n\n", 1)[0]
    assert said.startswith("- scaled's values are about") and "Rescale the scene" in said
    html = (result.report.parent / "report.html").read_text()  # a saved model's run has its HTML report too
    assert "<h2>Warnings</h2><ul><li>scaled&#x27;s values" in html.replace("\n", "")


def test_scene_with_other_band_count_is_refused(augment_run, tmp_path):
    out, _, _ = augment_run
    other, _, _, _ = write_demo_files(tmp_path, bands=24)
    with pytest.raises(ValueError, match=r"trained on \d+ bands but"):
        classify_with_model(out / CLASSIFIER_BUNDLE, other, tmp_path / "other")
    with pytest.raises(ValueError, match=r"trained on \d+ bands but"):
        classify_scene(other, tmp_path / "labels.tif", tmp_path / "again", method="augment",
                       bundle_path=out / "model_bundle")


def test_scene_with_the_same_band_count_at_other_wavelengths_is_refused(augment_run, scene_files, tmp_path):
    """Same count, other band set (another sensor, a subset): refused, not classified silently and badly."""
    out, _, _ = augment_run
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    data.scene.wavelengths = data.scene.wavelengths + 60.0  # every band 60 nm redder
    other = write_scene(data.scene, tmp_path / "shifted.tif")
    with pytest.raises(ValueError, match=r"shifted's bands lie at other wavelengths than those the classifier was "
                                         r"trained on \(usable band 1: .* nm here"):
        classify_with_model(out / CLASSIFIER_BUNDLE, other, tmp_path / "other")
    with pytest.raises(ValueError, match="other wavelengths than those the model bundle was trained on"):
        classify_scene(other, scene_files[1], tmp_path / "again", method="augment",
                       bundle_path=out / "model_bundle")
    assert not (tmp_path / "other").exists() and not (tmp_path / "again").exists()


def test_reused_synthesis_bundle_skips_training(augment_run, scene_files, tmp_path):
    out, _, _ = augment_run
    scene, labels, truth, classes = scene_files
    reporter = CancelAfter(10_000)
    outputs = classify_scene(scene, labels, tmp_path, method="augment", classes_path=classes,
                             bundle_path=out / "model_bundle", settings=MethodSettings(preset="tiny"),
                             reporter=reporter)
    assert outputs.class_map.exists()
    assert not any(s.startswith(("VAE", "diffusion")) for s in reporter.stages)
    assert "reused" in outputs.report.read_text()


def test_synthetic_values_clipped_into_the_scene_range_are_said(augment_run, scene_files, tmp_path, caplog):
    """A model whose scene held a narrow range of values clips most of what it samples: the run's report notes the
    share and its synthetic summary gives it per class; a patch file sampled from it warns."""
    from hypersynth.core.ldm.model import SynthesisModel

    out, _, _ = augment_run
    scene, labels, _, classes = scene_files
    model = SynthesisModel.load(out / "model_bundle", device="cpu")
    model.value_range = np.stack([model.class_spectra.min(0), model.class_spectra.max(0)]).astype(np.float32)
    model.save(tmp_path / "narrow")
    outputs = classify_scene(scene, labels, tmp_path / "run", method="augment", classes_path=classes,
                             bundle_path=tmp_path / "narrow", settings=MethodSettings(preset="tiny"))
    assert re.search(r"synthesis from the real labels: \d+\.\d\d% of the synthetic values \(\d+ of \d+ patches\) "
                     r"lay outside the range the scene's bands hold and were clipped to it", outputs.report.read_text())
    rows = json.loads(outputs.synthetic_summary.read_text())["classes"]
    assert rows and all(0.0 < row["clipped_share"] <= 1.0 for row in rows)
    with caplog.at_level(logging.INFO, logger="hypersynth"):
        synthesize_to_file(tmp_path / "narrow", tmp_path / "p.npz", prompt="fresh snow on a glacier", label=9, n=2)
    (said,) = [r for r in caplog.records if "were clipped to it" in r.getMessage()]
    assert said.levelno == logging.WARNING and said.getMessage().startswith("'fresh snow on a glacier': ")
    assert "the model knows little of what the prompt asks for" in said.getMessage()


def test_a_run_writes_the_synthetic_patches_it_learnt_from_when_asked(augment_run, scene_files, tmp_path, capsys):
    from hypersynth.core.io.read import read_scene

    out, _, _ = augment_run
    scene, labels, truth, classes = scene_files
    rc = cli_main(["augment-classify", "--scene", str(scene), "--labels", str(labels), "--prompts", str(classes),
                   "--synthesis-model", str(out / "model_bundle"), "--preset", "tiny", "--synthetic-patches", "tif",
                   "--out", str(tmp_path / "run"), "--quiet"])
    printed = capsys.readouterr().out
    assert rc == 0 and f"synthetic:      {tmp_path / 'run' / 'synthetic_patches.tif'}" in printed
    assert f"their classes:  {tmp_path / 'run' / 'synthetic_patches_classes.tif'}" in printed
    mosaic = read_scene(tmp_path / "run" / "synthetic_patches.tif")
    np.testing.assert_allclose(mosaic.fwhm, read_scene(scene).usable_fwhm(), rtol=1e-6)  # with the bands' widths
    counts = json.loads((tmp_path / "run" / "synthetic_summary.json").read_text())
    side = int(np.argmin(mosaic.valid[0]))  # the first patch's width: then a no-data gap
    assert side > 0 and mosaic.valid.sum() == counts["total"] * side * side  # every kept patch, side by side
    assert (tmp_path / "run" / "synthetic_patches_classes.tif").exists()
    report = (tmp_path / "run" / "report.md").read_text()
    assert "synthetic_patches.tif" in report and "the run's synthetic patches (the notes say whether" in report
    with pytest.raises(ValueError, match=r"Random forest \(spectra\) synthesises no patches to write; the "
                                         "synthetic patches come with Augment & Classify"):
        classify_scene(scene, labels, tmp_path / "rf", method="rf", synthetic_patches="csv")
    assert not (tmp_path / "rf").exists()  # refused before the output folder is made


def test_train_bundle_then_cli_synthesize(scene_files, tmp_path, caplog):
    from hypersynth.core.io.read import read_scene

    scene, labels, _, classes = scene_files
    bundle = train_bundle(scene, labels, tmp_path / "bundle", classes_path=classes,
                          settings=MethodSettings(preset="tiny"))
    assert (bundle / "manifest.json").exists()
    with caplog.at_level(logging.INFO, logger="hypersynth"):
        rc = cli_main(["synthesize", "--bundle", str(bundle), "--class", "1", "--n", "3",
                       "--out", str(tmp_path / "p.npz"), "--quiet"])
    assert rc == 0
    assert re.search(r"the 3 patches' mean centre spectrum is [\d.]+° from \S+'s labelled mean", caplog.text)
    with np.load(tmp_path / "p.npz") as f:
        assert f["patches"].shape[0] == 3 and set(f["labels"].tolist()) == {1}
        patches, wavelengths, widths = f["patches"], f["wavelengths"], f["fwhm"]
    np.testing.assert_allclose(widths, read_scene(scene).usable_fwhm(), rtol=1e-6)  # the scene's, via the bundle
    # the same draw (same seed) as a spectral library and as a mosaic QGIS opens with wavelengths
    for name in ("library.csv", "mosaic.tif"):
        assert cli_main(["synthesize", "--synthesis-model", str(bundle), "--class", "1", "--n", "3",
                         "--out", str(tmp_path / name), "--quiet"]) == 0
    rows = (tmp_path / "library.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 4 and rows[1].startswith("1,1,")
    centre = patches[:, :, patches.shape[-1] // 2, patches.shape[-1] // 2]
    np.testing.assert_allclose([float(v) for v in rows[1].split(",")[-centre.shape[1]:]], centre[0], rtol=1e-4)
    mosaic = read_scene(tmp_path / "mosaic.tif")
    np.testing.assert_allclose(mosaic.wavelengths, wavelengths, rtol=1e-6)
    np.testing.assert_allclose(mosaic.fwhm, widths, rtol=1e-6)
    side = patches.shape[-1]
    np.testing.assert_allclose(mosaic.cube[:, :side, :side], patches[0], rtol=1e-5)
    assert (tmp_path / "mosaic_classes.tif").exists()
    stages = CancelAfter(10**6)  # a free prompt's stage says the prompt, not the label id it is sampled under
    synthesize_to_file(bundle, tmp_path / "grass.npz", prompt="dry grass", label=7, n=2, reporter=stages)
    assert "sampling 'dry grass' (label 7)" in stages.stages and not any("class 7" in s for s in stages.stages)
    long = "dry grass " * 10  # more than the tiny text tower's 16 word pieces: said, once
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        synthesize_to_file(bundle, tmp_path / "long.npz", prompt=long, label=7, n=1)
    assert caplog.text.count("is 22 word pieces, more than the 16 this text encoder reads") == 1
    synthesize_to_file(bundle, tmp_path / "seen.npz", prompt="dry grass, bright", label=7, n=2, attention=True)
    with np.load(tmp_path / "seen.npz") as f:  # the maps say what their axes and words are, as a run's attention.npz
        attention, tokens, n_tokens, axes = f["attention"], f["tokens"], f["n_tokens"], str(f["attention_axes"])
    assert n_tokens.tolist() == [6, 6] and tokens[0, :6].tolist() == ["<start>", "dry", "grass", ",", "bright", "<end>"]
    assert attention.shape[0] == 2 and attention.shape[-1] == tokens.shape[1]
    side = int(np.sqrt(attention.shape[2]))
    assert axes.startswith("patch, layer") and f"row by row of the {side} × {side} latent grid" in axes


def test_synthesis_can_start_from_the_labelled_patches_kept_with_the_model(augment_run, scene_files, tmp_path,
                                                                           capsys):
    """A run's model keeps a few labelled patches of each class (its scene's, as read), so that a prompt preview and
    `synthesize --anchor-strength` start from them as the run starts its training patches from the labels."""
    from hypersynth.core.io.labels import read_labels
    from hypersynth.core.io.read import read_scene
    from hypersynth.core.ldm.model import SynthesisModel
    from hypersynth.core.ldm.training import EXAMPLES_PER_CLASS

    out, _, _ = augment_run
    scene_path, labels_path, _, _ = scene_files
    model = SynthesisModel.load(out / "model_bundle", device="cpu")
    scene = read_scene(scene_path)
    labels, _ = read_labels(labels_path, scene)
    usable = scene.usable_cube()  # (B, H, W) the model's bands
    side = model.patch_size
    for info in model.classes:
        examples = model.examples_of(info.id)
        assert examples is not None and examples.shape[1:] == (model.bands, side, side)
        assert len(examples) == min(EXAMPLES_PER_CLASS, int((labels == info.id).sum()))
        spectra = usable[:, labels == info.id].T  # (n, B) the class's labelled pixels
        for centre in examples[:, :, side // 2, side // 2]:  # each example is centred on one of them
            assert np.abs(spectra - centre).max(axis=1).min() < 1e-6
    assert model.examples_of(99) is None

    kwargs = {"class_id": 1, "n": 4, "settings": MethodSettings(seed=3)}
    synthesize_to_file(out / "model_bundle", tmp_path / "noise.npz", **kwargs)
    synthesize_to_file(out / "model_bundle", tmp_path / "near.npz", anchor_strength=0.05, **kwargs)
    examples = model.examples_of(1)
    anchors = examples[np.arange(4) % len(examples)]  # patch i starts from example i mod m

    def distance(name):
        with np.load(tmp_path / name) as f:
            return float(np.abs(f["patches"] - anchors).mean())

    assert distance("near.npz") < 0.2 * distance("noise.npz")  # barely noised: the examples come back, nearly
    assert cli_main(["synthesize", "--synthesis-model", str(out / "model_bundle"), "--class", "1", "--n", "6",
                     "--anchor-strength", "0.5", "--out", str(tmp_path / "half.npz"), "--quiet"]) == 0
    with np.load(tmp_path / "half.npz") as f:  # the file says what its patches started from
        assert float(f["anchor_strength"]) == 0.5
        assert f["anchor_index"].tolist() == (np.arange(6) % len(examples)).tolist()
    with np.load(tmp_path / "noise.npz") as f:
        assert "anchor_strength" not in f.files
    assert cli_main(["synthesize", "--synthesis-model", str(out / "model_bundle"), "--prompt", "dry grass",
                     "--anchor-strength", "0.5", "--out", str(tmp_path / "free.npz"), "--quiet"]) == 2
    assert "--prompt's patches are of no class without --label: add --label N" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"label 0 is none of the model's classes \(1 \("):
        synthesize_to_file(out / "model_bundle", tmp_path / "free.npz", prompt="dry grass", n=1, anchor_strength=0.5)
    from hypersynth.core.prompt_preview import preview_prompt

    preview = preview_prompt(model, 1, "dry grass", anchor_strength=0.5)  # as the dock's Preview draws them
    assert preview.examples == len(examples) and preview.strength == 0.5
    assert np.isfinite(preview.prompt_effect_deg) and np.isfinite(preview.noise_effect_deg)
    assert preview.from_noise_mean.shape == preview.without_prompt_mean.shape == (model.bands,)
    silent = preview_prompt(model, 1, "dry grass", anchor_strength=0.5, guidance=0.0)  # no prompt, both ways
    assert silent.prompt_effect_deg == pytest.approx(0.0, abs=1e-3) and silent.noise_effect_deg == pytest.approx(
        0.0, abs=1e-3)
    noise = preview_prompt(model, 1, "dry grass", anchor_strength=1.0)
    assert noise.examples == 0 and noise.prompt_effect_deg is None and noise.from_noise_mean is None
    model.example_patches = model.example_class_ids = None  # as a model saved before they were kept
    model.save(tmp_path / "older")
    with pytest.raises(ValueError, match="saved before HyperSynth kept labelled patches .* use anchor strength 1"):
        synthesize_to_file(tmp_path / "older", tmp_path / "old.npz", anchor_strength=0.5, **kwargs)
    assert SynthesisModel.load(tmp_path / "older").examples_of(1) is None


def test_cli_baseline_with_cog_and_clear_errors(scene_files, tmp_path, capsys):
    scene, labels, truth, classes = scene_files
    rc = cli_main(["baseline", "--scene", str(scene), "--labels", str(labels), "--validation", str(truth),
                   "--out", str(tmp_path / "rf"), "--cog", "--quiet"])
    assert rc == 0
    assert (tmp_path / "rf" / "classification_cog.tif").exists()
    assert "OA" in capsys.readouterr().out
    rc = cli_main(["baseline", "--scene", str(tmp_path / "missing.tif"), "--labels", str(labels),
                   "--out", str(tmp_path / "x"), "--quiet"])
    assert rc == 2 and "missing.tif" in capsys.readouterr().err
    for option, value, said in (
            ("--synthetic-weight", "0", "argument --synthetic-weight: expected a number in (0, 10]; got '0'"),
            ("--forest-inputs", "raw", "argument --forest-inputs: invalid choice: 'raw' (choose from 'spectrum', "
                                       "'spectrum+shape+slope')")):
        rc = cli_main(["augment-classify", "--scene", str(scene), "--labels", str(labels), "--prompts", str(classes),
                       "--out", str(tmp_path / "aug"), "--preset", "tiny", option, value, "--quiet"])
        assert rc == 2 and said in capsys.readouterr().err  # argparse names the option as typed
        assert not (tmp_path / "aug").exists()  # refused before anything is written


def test_bench_writes_the_stable_json_rows(tmp_path):
    path = tmp_path / "bench.json"
    rc = cli_main(["bench", "--datasets", "demo", "--labels-per-class", "2", "--seeds", "0-1", "--methods", "rf,svm",
                   "--splits", "random,disjoint", "--json", str(path), "--quiet"])
    assert rc == 0
    document = json.loads(path.read_text())
    rows = document["rows"]
    assert len(rows) == 4
    from hypersynth.core.version import code_revision

    assert document.get("code") == code_revision()  # the code that made the figures, where it is a git checkout
    for row in rows:
        assert {"dataset", "labels_per_class", "split", "method", "oa_mean", "oa_std", "aa_mean", "kappa_mean",
                "seconds_mean", "seeds"} <= set(row)
        assert row["seeds"] == [0, 1] and 0.5 < row["oa_mean"] <= 1.0


def test_bench_says_in_its_tables_which_datasets_it_could_not_run(tmp_path, monkeypatch, capsys):
    """A dataset not available here is skipped; the tables, the JSON and the last line on the terminal say so, so a
    table that lacks it is not read as the whole benchmark."""
    monkeypatch.setenv("HYPERSYNTH_DATA_DIR", str(tmp_path / "empty"))  # nowhere holds salinasA here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rc = cli_main(["bench", "--datasets", "demo,salinasA", "--labels-per-class", "2", "--seeds", "0", "--methods",
                   "rf", "--splits", "random", "--json", str(tmp_path / "b.json"), "--markdown",
                   str(tmp_path / "b.md"), "--quiet"])
    assert rc == 3  # named and not run: a script must not take the tables as the whole benchmark
    assert json.loads((tmp_path / "b.json").read_text())["skipped"] == ["salinasA"]
    assert (tmp_path / "b.md").read_text().startswith("**Not run: salinasA, not available here**")
    err = capsys.readouterr().err
    assert "skipping salinasA" in err and err.rstrip().endswith(
        "error: salinasA was not run (not available here; see the notes above); the tables and files hold the "
        "others (exit status 3)")


def test_bench_runs_the_protocol_on_an_own_scene_with_reference_labels(scene_files, tmp_path, capsys):
    scene, _, truth, classes = scene_files
    path = tmp_path / "own.json"
    rc = cli_main(["bench", "--scene", str(scene), "--truth", str(truth), "--prompts", str(classes),
                   "--name", "my_field", "--labels-per-class", "2", "--seeds", "0-1", "--methods", "rf,cnn",
                   "--splits", "random,disjoint", "--preset", "tiny", "--json", str(path), "--quiet"])
    assert rc == 0
    runs = json.loads(path.read_text())["runs"]
    assert {r["dataset"] for r in runs} == {"my_field"}  # only the own scene: no dataset was asked for
    assert {(r["split"], r["method"], r["seed"]) for r in runs} == {
        (split, method, seed) for split in ("random", "disjoint") for method in ("rf", "cnn") for seed in (0, 1)}
    truth_ids, _ = np.unique(_labels_of(truth), return_counts=True)
    n_classes = int((truth_ids > 0).sum())
    assert all(r["n_train"] == 2 * n_classes and r["n_test"] > 0 for r in runs)
    assert all(0.3 < r["oa"] <= 1.0 for r in runs)
    assert "### my_field, random split" in capsys.readouterr().out


def test_bench_reads_a_vector_reference_and_names_the_scene_after_its_file(tmp_path):
    from hypersynth.core.demo import write_demo

    files = write_demo(tmp_path / "demo", n_per_class=4)
    path = tmp_path / "own.json"
    assert cli_main(["bench", "--scene", str(files.scene), "--truth", str(files.labels_gpkg), "--datasets", "demo",
                     "--labels-per-class", "2", "--seeds", "0", "--methods", "rf", "--splits", "random",
                     "--json", str(path), "--quiet"]) == 0
    runs = json.loads(path.read_text())["runs"]
    assert sorted(r["dataset"] for r in runs) == ["demo", "demo_scene"]  # the dataset asked for, then the scene
    own = next(r for r in runs if r["dataset"] == "demo_scene")
    assert own["n_train"] == 2 * 6 and own["n_test"] == 2 * 6  # 4 points per class: 2 train, 2 test


def test_bench_takes_a_matlab_cube_and_its_ground_truth_map(tmp_path):
    import scipy.io

    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=2)
    scipy.io.savemat(tmp_path / "cube.mat", {"cube": np.moveaxis(data.scene.cube, 0, -1)})  # rows × cols × bands
    scipy.io.savemat(tmp_path / "cube_gt.mat", {"cube_gt": data.labels.astype(np.uint8)})
    path = tmp_path / "mat.json"
    assert cli_main(["bench", "--scene", str(tmp_path / "cube.mat"), "--truth", str(tmp_path / "cube_gt.mat"),
                     "--labels-per-class", "3", "--seeds", "0", "--methods", "svm", "--splits", "random",
                     "--json", str(path), "--quiet"]) == 0
    (run,) = json.loads(path.read_text())["runs"]
    assert run["dataset"] == "cube" and run["n_train"] == 3 * 3
    assert run["n_test"] == int((data.labels > 0).sum()) - 9 and run["oa"] > 0.5


def test_an_own_scene_is_named_in_the_tables_as_the_scene_is_named(tmp_path):
    from hypersynth.core.bench import own_scene_name

    assert own_scene_name(tmp_path / "field_2024.tif", None) == "field_2024"
    assert own_scene_name(f'NETCDF:"{tmp_path}/emit.nc":reflectance', None) == "emit reflectance"  # with its variable
    assert own_scene_name(tmp_path / "field_2024.tif", "my field") == "my field"


def test_bench_refuses_an_incomplete_or_misnamed_own_scene(scene_files, tmp_path, capsys):
    scene, labels, truth, _ = scene_files
    out = tmp_path / "b.json"
    common = ["--labels-per-class", "2", "--seeds", "0", "--methods", "rf", "--json", str(out), "--quiet"]
    assert cli_main(["bench", "--scene", str(scene), *common]) == 2
    assert "needs both --scene" in capsys.readouterr().err
    assert cli_main(["bench", "--scene", str(scene), "--truth", str(truth), "--name", "salinasA", *common]) == 2
    assert "choose another name" in capsys.readouterr().err
    assert cli_main(["bench", "--scene", str(scene), "--truth", str(tmp_path / "nowhere.tif"), *common]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["bench", "--datasets", "demo", "--labels-per-class", "two", "--seeds", "0", "--json",
                     str(out)]) == 2
    assert "labels per class must be whole numbers of at least 1" in capsys.readouterr().err
    assert cli_main(["bench", "--datasets", "demo", "--labels-per-class", "2", "--seeds", "0-x", "--json",
                     str(out)]) == 2
    assert "e.g. 0-4 or 0,3" in capsys.readouterr().err
    assert not out.exists()  # refused before any run: nothing written


def _labels_of(path):
    from osgeo import gdal

    return gdal.Open(str(path)).ReadAsArray()


def test_bench_files_merge_into_one_table_with_the_target_check(tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path, seeds in ((first, "0"), (second, "1")):
        assert cli_main(["bench", "--datasets", "demo", "--labels-per-class", "2", "--seeds", seeds,
                         "--methods", "rf,svm", "--splits", "random", "--json", str(path), "--quiet"]) == 0
    merged, table = tmp_path / "all.json", tmp_path / "all.md"
    capsys.readouterr()
    assert cli_main(["bench", "--merge", str(first), str(second), "--json", str(merged),
                     "--markdown", str(table)]) == 0
    rows = json.loads(merged.read_text())["rows"]
    assert sorted(r["method"] for r in rows) == ["rf", "svm"] and all(r["seeds"] == [0, 1] for r in rows)
    text = table.read_text()
    assert "Augment − best RF/SVM" not in text  # no Augment & Classify in either file: no target table
    # a file of Augment & Classify runs (here the first file's forest runs under its name, for speed) merged in
    record = json.loads(first.read_text())
    record["rows"], record["runs"] = ([{**entry, "method": "augment"} for entry in record[key]
                                       if entry["method"] == "rf"] for key in ("rows", "runs"))
    (tmp_path / "augment.json").write_text(json.dumps(record))
    assert cli_main(["bench", "--merge", str(first), str(second), str(tmp_path / "augment.json"), "--json",
                     str(tmp_path / "with_augment.json"), "--markdown", str(table), "--overwrite"]) == 0
    assert "Augment − best RF/SVM" in table.read_text() and "| demo | random | 2 |" in table.read_text()
    # augment on seed 0 only, RF/SVM on seeds 0 and 1: the differences are of unpaired means, and say so (review)
    target = table.read_text().split("Augment − best RF/SVM", 1)[1]
    assert "† |" in target.split("\n\n")[0] and "†: the two means are over other seeds (not paired" in target
    runs = [json.loads(p.read_text())["rows"] for p in (first, second)]  # one seed each: their OA
    oa = np.array([[r["oa_mean"] for r in rs if r["method"] == "rf"][0] for rs in runs])
    rf = next(r for r in rows if r["method"] == "rf")
    assert rf["oa_std"] == pytest.approx(oa.std(ddof=0)) and "population, ddof 0" in text
    assert f"{rf['oa_mean'] * 100:.1f} ± {oa.std(ddof=0) * 100:.1f}" in text
    (tmp_path / "bad.json").write_text("{}")
    assert cli_main(["bench", "--merge", str(tmp_path / "bad.json")]) == 2
    assert "not a JSON file written by" in capsys.readouterr().err
    # the same run measured again with other results (another session's settings): refused, not the last file's
    other = json.loads(first.read_text())
    other["runs"] = [{**entry, "oa": entry["oa"] - 0.01} for entry in other["runs"]]
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert cli_main(["bench", "--merge", str(first), str(first), "--json", str(tmp_path / "same.json")]) == 0
    capsys.readouterr()  # the same file twice: the same figures, counted once
    assert cli_main(["bench", "--merge", str(first), str(tmp_path / "other.json")]) == 2
    assert re.search(r"demo, random split, N = 2, (rf|svm), seed 0 was measured twice with other results \(OA [\d.]+ % "
                     r"in .*a.json, [\d.]+ % in .*other.json\)", capsys.readouterr().err)


def test_the_report_keeps_what_the_run_warned_of(scene_files, tmp_path, caplog):
    """A class of the class file without labels is said on the terminal and in the report, which is the record."""
    scene, labels, _, classes = scene_files
    data = json.loads(classes.read_text())
    data["classes"].append({"id": 7, "name": "snow", "color": "#fafafa", "prompt": "fresh snow"})
    seven = tmp_path / "seven.json"
    seven.write_text(json.dumps(data))
    outputs = classify_scene(scene, labels, tmp_path / "run", method="rf", classes_path=seven)
    report = outputs.report.read_text()
    assert "## Warnings\n\n- class 7 (snow) of seven.json has no labelled pixel in labels.tif" in report
    assert "class 7 (snow)" in caplog.text


def test_labels_on_no_data_are_said_and_not_counted_as_learnt(tmp_path, caplog):
    """A class whose every label lies on no-data pixels is said to be lost (it cannot be in the map), a class that
    loses some of its labels there is said too, and the report counts the labelled pixels learnt from."""
    import dataclasses

    import rasterio

    from hypersynth.core.io.read import read_scene

    scene_path, labels, _, classes = write_demo_files(tmp_path, seed=3)
    with rasterio.open(labels) as src:
        label_map = src.read(1)
    ids = sorted(int(i) for i in np.unique(label_map) if i)
    gone, partly = ids[0], ids[1]
    scene = read_scene(scene_path)
    valid = scene.valid.copy()
    valid[label_map == gone] = False  # every label of the first class on no data
    valid[tuple(np.argwhere(label_map == partly)[0])] = False  # and one of the second's
    gaps = write_scene(dataclasses.replace(scene, valid=valid), tmp_path / "gaps.tif")
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        outputs = classify_scene(gaps, labels, tmp_path / "run", method="rf", classes_path=classes)
    n_gone, n_partly = int((label_map == gone).sum()), int((label_map == partly).sum())
    assert f"class {gone} (" in caplog.text and f"all {n_gone} of its labelled pixels in labels.tif" in caplog.text
    assert f": 1 of {n_partly})" in caplog.text
    report = outputs.report.read_text()
    assert f"all {n_gone} of its labelled pixels" in report  # the warnings are the report's too
    learnt = int((label_map > 0).sum()) - n_gone - 1
    assert f"- Training pixels: {learnt} in {len(ids) - 1} classes" in report
    assert re.search(r"^- Run \S+: seed 0, on the CPU \(scikit-learn\)$", report, flags=re.MULTILINE)  # no preset
    assert not re.search(rf"^\| {gone} \|", report, flags=re.MULTILINE)  # not among the mapped classes
    assert re.search(rf"^\| {partly} \| .* \| {n_partly - 1} \| [\d,]+ \| [\d,.]+ \|$", report, flags=re.MULTILINE)


def _one_class_thinned(keep):
    """A ``draw`` for :func:`write_demo_files`: 12 labels per class, then only the pixels of the last class at the
    positions ``keep(its (n, 2) labelled pixels)`` gives."""
    from hypersynth.core.demo import sparse_labels

    def draw(truth):
        labels = sparse_labels(truth, 12, seed=0)
        last = int(labels.max())
        at = np.argwhere(labels == last)
        labels[labels == last] = 0
        for row, col in keep(at):
            labels[row, col] = last
        return labels
    return draw


def test_a_class_with_one_or_two_labels_among_many_is_warned_of(tmp_path, caplog):
    """A class of 1 or 2 labelled pixels beside classes of many is named with its count, on the terminal and in the
    report; a run whose every class has enough labels says nothing of it."""
    scene, labels, truth, classes = write_demo_files(tmp_path / "few", draw=_one_class_thinned(lambda at: at[:1]))
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        outputs = classify_scene(scene, labels, tmp_path / "run", method="svm", classes_path=classes,
                                 validation_path=truth)
    said = re.search(r"class 3 \(\w[\w ]*: 1 labelled pixel\) of labels\.tif: fewer than 3 labelled pixels, while "
                     r"another class has 12: the run learns it from that pixel alone; the SVM's C and gamma cannot be "
                     r"chosen by cross-validation .*; brush a few more pixels of \w[\w ]* \(3 or more, in separate "
                     r"places\)", caplog.text)
    assert said, caplog.text
    assert said.group(0) in outputs.report.read_text()  # the warnings are the report's too
    assert said.group(0) in json.loads((tmp_path / "run" / "metrics.json").read_text())["warnings"]  # and the figures'
    caplog.clear()
    scene, labels, _, classes = write_demo_files(tmp_path / "enough", labels_per_class=3)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        outputs = classify_scene(scene, labels, tmp_path / "quiet", method="svm", classes_path=classes)
    assert "fewer than 3 labelled pixels" not in caplog.text + outputs.report.read_text()


def test_the_few_labels_warning_says_what_the_method_loses(caplog):
    """What a class of 1 or 2 labels costs each method, as the code does it: the blend's CV off (one place) or at
    2 folds (two), the SVM's grid search off, synthetic patches anchored on the pixel or two; nothing when every
    class has few labels (a few-label run by choice) or the class lost its labels to no-data pixels."""
    from hypersynth.core.classify.baselines import SpectralSVM
    from hypersynth.core.label_checks import FEW_LABELS, warn_of_classes_with_few_labels
    from hypersynth.core.scene import ClassInfo

    assert FEW_LABELS == SpectralSVM.MIN_PER_CLASS_FOR_CV  # the threshold is the SVM's grid search's
    classes = [ClassInfo(1, "water"), ClassInfo(2, "grass"), ClassInfo(3, "roof")]
    labels = np.zeros((20, 20), np.int32)
    labels[2:6, 2:6], labels[12:16, 2:6] = 1, 2  # 16 pixels each
    valid = np.ones(labels.shape, bool)

    def said(method, settings=MethodSettings(), at=((10, 10),), valid=valid):
        few = labels.copy()
        for pixel in at:
            few[pixel] = 3
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hypersynth"):
            warn_of_classes_with_few_labels(few, valid, classes, "labels.gpkg", method, settings)
        return " ".join(r.getMessage() for r in caplog.records)

    one = said("augment")
    assert one.startswith("class 3 (roof: 1 labelled pixel) of labels.gpkg: fewer than 3 labelled pixels, while "
                          "another class has 16: the run learns it from that pixel alone; the classifier blend's "
                          "shares and its spatial smoothing cannot be chosen by cross-validation")
    assert "its synthetic patches, anchored on that pixel, mostly repeat it" in one and "SVM" not in one
    assert "brush a few more pixels of roof (3 or more, in separate places)" in one
    assert "cannot be chosen" in said("augment", at=((10, 10), (11, 11)))  # neighbours (a diagonal): one place
    apart = said("augment", at=((10, 10), (18, 18)))
    assert "roof: 2 labelled pixels" in apart and "holds at most 2 folds for every class" in apart
    assert "anchored" not in said("augment", MethodSettings(anchor_strength=1.0))  # prompt only: nothing to repeat
    assert "SVM's C and gamma" in said("augment", MethodSettings(diffusion_features=True)) + said("dfeat")
    rf = said("rf")
    assert "alone; brush" in rf and "cross-validation" not in rf
    labels[labels == 2] = 0
    labels[12, 2:4] = 2
    both = said("svm")  # grass (2 pixels) and roof (1) beside water's 16
    assert both.startswith("classes 2 (grass: 2 labelled pixels), 3 (roof: 1 labelled pixel) of labels.gpkg") and \
        "the run learns each from those pixels alone" in both and "(3 or more each," in both
    labels[labels == 1] = 0
    labels[2, 2:4] = 1
    assert said("augment") == ""  # every class has 1 or 2 labels: a few-label run by choice
    labels[2:6, 2:6] = 1
    off = valid.copy()
    off[10, 10] = False
    grass_only = said("augment", valid=off)
    assert "grass" in grass_only and "roof" not in grass_only  # on no data: warn_of_labels_on_no_data says it


def test_classes_with_nothing_but_their_id_for_a_prompt_are_warned_of(caplog):
    from hypersynth.core.run_checks import warn_of_empty_prompts
    from hypersynth.core.scene import ClassInfo

    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        warn_of_empty_prompts([ClassInfo(1, "class 1"), ClassInfo(2, "water", prompt="calm lake"),
                                ClassInfo(3, "class_3")])
    assert ("classes 1, 3 reach the synthesis with no prompt and no name but their ids ('class 1', 'class 3'): "
            "the text tells the model nothing about them") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        warn_of_empty_prompts([ClassInfo(1, "class 1", prompt="dense green canopy"), ClassInfo(2, "water")])
    assert caplog.text == ""


def test_the_typical_value_is_the_median_of_the_valid_pixels_gathered_once(tmp_path):
    import tracemalloc

    from hypersynth.core.scale_check import typical_value

    rng = np.random.default_rng(0)
    cube = rng.gamma(2.0, 0.1, size=(50, 200, 200)).astype(np.float32)  # (B, H, W)
    cube[3, 10, :20] = np.nan  # a few missing values in valid pixels are left out of the median
    valid = np.ones((200, 200), bool)
    valid[:, :100] = False  # the left half holds no data: its values never count
    cube[:, :, :100] = 1000.0
    rows, cols = np.nonzero(valid)
    assert typical_value(cube, valid, n=10**6) == pytest.approx(float(np.nanmedian(cube[:, rows, cols])), rel=1e-6)
    drawn = typical_value(cube, valid, n=5_000)  # a fixed draw of 5,000 valid pixels
    assert drawn == typical_value(cube, valid, n=5_000) and abs(drawn / typical_value(cube, valid, n=10**6) - 1) < 0.02
    gathered = cube.shape[0] * int(valid.sum()) * 4  # bytes of every valid pixel's values
    tracemalloc.start()
    typical_value(cube, valid, n=10**6)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.5 * gathered  # the values gathered and a NaN mask; no second copy to flatten them


def test_the_typical_pixels_are_drawn_without_listing_every_valid_pixel():
    import tracemalloc

    from hypersynth.core.scale_check import typical_pixels

    valid = np.random.default_rng(1).random((1500, 1000)) < 0.9
    valid[200:400] = False  # rows without a valid pixel
    valid[:, -1] = True
    rows, cols = np.nonzero(valid)
    keep = np.random.default_rng(0).choice(rows.size, 20_000, replace=False)  # the fixed draw, as ranks
    tracemalloc.start()
    drawn = typical_pixels(valid, 20_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(drawn[0], rows[keep]) and np.array_equal(drawn[1], cols[keep])  # the same pixels, order
    assert peak < 2 * valid.size  # np.nonzero would list every valid pixel: 16 bytes each (22 MB here)
    small = np.zeros((4, 5), bool)
    small[1, 2] = small[3, 0] = True
    assert [a.tolist() for a in typical_pixels(small, 10)] == [[1, 3], [2, 0]]  # fewer than n: all of them


def test_classify_streams_a_raster_and_maps_it_as_when_read_whole(augment_run, tmp_path, monkeypatch):
    """A plain raster is never held whole by ``classify``: its valid pixels are found in one pass, its usable bands
    read window by window. The maps are those of the scene read whole, no-data pixels and bad bands included."""
    import rasterio

    from hypersynth.core import scale_check
    from hypersynth.core.io.windows import raster_window_reader
    from hypersynth.core.io import read as read_module

    out, _, _ = augment_run
    other, _, truth, _ = write_demo_files(tmp_path, seed=1)
    gaps, _, valid = _with_gaps(other, tmp_path)

    def never(*args, **kwargs):
        raise AssertionError("the scene was read whole")

    with monkeypatch.context() as patched:
        patched.setattr(read_module, "read_scene", never)
        streamed = classify_with_model(out / CLASSIFIER_BUNDLE, gaps, tmp_path / "streamed", validation_path=truth,
                                       probabilities=True)
    with monkeypatch.context() as patched:
        patched.setattr(read_module, "read_scene_layout", lambda *a, **k: None)  # the scene read whole, as before
        whole = classify_with_model(out / CLASSIFIER_BUNDLE, gaps, tmp_path / "whole", validation_path=truth,
                                    probabilities=True)
    for name in ("classification.tif", "confidence.tif", "probabilities.tif"):
        with rasterio.open(tmp_path / "streamed" / name) as a, rasterio.open(tmp_path / "whole" / name) as b:
            assert np.array_equal(a.read(), b.read(), equal_nan=True), name
    with rasterio.open(streamed.class_map) as cm:
        assert (cm.read(1)[~valid] == 0).all() and (cm.read(1)[valid] > 0).all()
    assert streamed.metrics == whole.metrics
    layout = read_module.read_scene_layout(gaps)
    read_whole = read_module.read_scene(gaps)
    assert np.array_equal(layout.valid, valid) and np.array_equal(layout.good_bands, read_whole.good_bands)
    gathering = scale_check.GatheringReader(raster_window_reader(gaps, np.flatnonzero(layout.good_bands) + 1), valid)
    height, width = valid.shape
    for r0 in range(0, height, 7):  # windows as prediction reads them: overlapping, in rows of tiles
        gathering(r0, min(r0 + 9, height), 0, width)
    _, cube = read_whole.split_usable()
    assert gathering.typical_value() == scale_check.typical_value(cube, valid)  # the scale check's median, the same


@pytest.mark.parametrize("method", ["rf", "svm"])
def test_a_spectral_baseline_streams_a_raster_and_maps_it_as_when_read_whole(method, tmp_path, monkeypatch):
    """A forest or an SVM learns from the labelled pixels' spectra alone, so its run on a plain raster never holds the
    scene: those spectra are read, the rest streamed window by window as the map is predicted. Maps, accuracy, the
    saved classifier (its typical value too) and the report are those of the scene read whole."""
    import json

    import rasterio

    from hypersynth.core.io import read as read_module
    from hypersynth.core.ldm.bundle import load_bundle

    scene_path, labels, truth, classes = write_demo_files(tmp_path, seed=2)
    with rasterio.open(labels) as src:
        labelled = np.argwhere(src.read(1) > 0)
    # no data inside the scene, along its border, and under a label: learnt from nowhere, plotted nowhere
    gaps, _, valid = _with_gaps(scene_path, tmp_path, also=[labelled[0]])

    def never(*args, **kwargs):
        raise AssertionError("the scene was read whole")

    run = dict(method=method, classes_path=classes, validation_path=truth, probabilities=True,
               settings=MethodSettings(preset="tiny", seed=0))
    with monkeypatch.context() as patched:
        patched.setattr(read_module, "read_scene", never)
        streamed = classify_scene(gaps, labels, tmp_path / "streamed", **run)
    with monkeypatch.context() as patched:
        patched.setattr(read_module, "read_scene_layout", lambda *a, **k: None)  # the scene read whole, as before
        whole = classify_scene(gaps, labels, tmp_path / "whole", **run)
    for name in ("classification.tif", "confidence.tif", "probabilities.tif"):
        with rasterio.open(tmp_path / "streamed" / name) as a, rasterio.open(tmp_path / "whole" / name) as b:
            assert np.array_equal(a.read(), b.read(), equal_nan=True), name
    with rasterio.open(streamed.class_map) as cm:
        assert (cm.read(1)[~valid] == 0).all() and (cm.read(1)[valid] > 0).all()
    assert streamed.metrics == whole.metrics and streamed.metrics["oa"] > 0.5
    saved = [json.loads((tmp_path / run_name / CLASSIFIER_BUNDLE / "meta.json").read_text())
             for run_name in ("streamed", "whole")]
    assert saved[0] == saved[1] and np.isfinite(saved[0]["median_value"])  # the scale check's median, the same
    learnt = [load_bundle(tmp_path / run_name / CLASSIFIER_BUNDLE, arrays="numpy").tensors_by_part["classifier"]
              for run_name in ("streamed", "whole")]
    assert learnt[0].keys() == learnt[1].keys()
    if method == "rf":  # the same trees learnt (an SVM is saved as a skops archive, time-stamped: its probabilities,
        assert all(np.array_equal(learnt[0][name], learnt[1][name]) for name in learnt[0])  # above, are the same)

    def report(run_name):  # without the lines that differ by when and where it ran
        text = (tmp_path / run_name / "report.md").read_text()
        return [line for line in text.splitlines() if not re.search(r"took|^- Run |streamed|whole", line)]

    assert report("streamed") == report("whole")
    assert ((tmp_path / "streamed" / "spectra.png").read_bytes() == (tmp_path / "whole" / "spectra.png").read_bytes())


def test_a_class_brushed_in_one_place_is_warned_of_for_the_blend(caplog, monkeypatch):
    """One brushed area per class is the natural first try; for the blend it turns the CV of shares and smoothing
    off (it holds out whole places), so each class in one place is named; a second place, diagonal neighbours
    aside, ends it; for an SVM it makes the CV that picks C and gamma optimistic (single pixels held out beside their
    stroke), which is said too; the methods without either CV, and classes of 1-2 pixels (the few-labels warning's),
    stay quiet."""
    from hypersynth.core.methods import MethodSettings
    from hypersynth.core.label_checks import warn_of_classes_in_one_place
    from hypersynth.core.pixel_mask import PixelMask
    from hypersynth.core.scene import ClassInfo

    classes = [ClassInfo(1, "water"), ClassInfo(2, "grass"), ClassInfo(3, "roof")]
    from hypersynth.core.io import labels as label_io

    monkeypatch.setattr(label_io, "LABEL_CHUNK_PIXELS", 40 * 7)  # strips of 7 rows: places gathered across strips
    labels = np.zeros((300, 40), np.uint8)
    labels[2:6, 2:6] = 1  # water: one place, 16 pixels
    labels[12:16, 2:6], labels[250:252, 30:32] = 2, 2  # grass: two places, far apart
    labels[20:22, 20:22], labels[22:24, 22:24] = 3, 3  # roof: two squares that touch at a corner, one place
    valid = np.ones(labels.shape, bool)

    def said(method, labels=labels, valid=valid, settings=None):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hypersynth"):
            warn_of_classes_in_one_place(labels, valid, classes, "strokes.gpkg", method, settings=settings)
        return " ".join(r.getMessage() for r in caplog.records)

    both = said("augment")
    assert both.startswith("classes 1 (water), 3 (roof) of strokes.gpkg are labelled in one place only (one area "
                           "of touching pixels): the classifier blend's cross-validation holds out whole places"), both
    assert both.endswith("label each of them in a second place, apart from the first") and "grass" not in both
    assert len(both) < 400  # a line an analyst reads in the message bar
    assert said("rf") == said("cnn") == ""  # no blend, no SVM: no CV on the labels
    svm = said("svm")
    assert svm.startswith("classes 1 (water), 3 (roof) of strokes.gpkg are labelled in one place only"), svm
    assert ("the SVM picks its C and gamma by a cross-validation that holds out single pixels, each beside labels of "
            "its own stroke, so its score is optimistic") in svm and "blend" not in svm
    assert said("dfeat") == svm
    with_member = said("augment", settings=MethodSettings(diffusion_features=True))  # the blend's third member
    assert "the classifier blend's cross-validation holds out whole places" in with_member and "the SVM picks" in \
        with_member and with_member.count("labelled in one place only") == 1
    assert "the SVM" not in said("augment")
    tiny = labels.copy()
    tiny[labels == 2] = 0
    tiny[250, 30] = 2  # grass: one pixel, so the SVM takes its defaults and has no CV to mislead
    assert said("svm", tiny) == ""
    apart = labels.copy()
    apart[100:102, 10:12], apart[200:204, 5:7] = 1, 3
    assert said("cnn-pseudo", apart) == ""
    packed = PixelMask.from_array(valid)  # as a streamed scene gives it
    tiny = labels.copy()
    tiny[labels == 3] = 0
    tiny[30, 30] = 3  # a class of one pixel is the few-labels warning's
    alone = said("augment", tiny, packed)
    assert alone.startswith("class 1 (water) of strokes.gpkg is labelled in one place only (one area")
    assert alone.endswith("label water in a second place, apart from the first")
    off = valid.copy()
    off[250:252, 30:32] = False  # grass's second place on no-data pixels: one place is left to learn from
    assert said("augment", apart, off).startswith("class 2 (grass) of strokes.gpkg is labelled in one")
    blocks = labels.copy()
    blocks[250:252, 30:32] = 0  # grass in one place too: every class
    assert said("augment", blocks).startswith("every class of strokes.gpkg is labelled in one place only")
    assert said("augment", blocks).endswith("label each class in a second place, apart from the first")


def test_a_synthesis_model_is_told_what_its_scenes_values_are(tmp_path):
    """What a run's model keeps for the files of its patches: the report's value axis, or "" when unknown."""
    from hypersynth.core.demo import make_demo_scene
    from hypersynth.core.io.read import read_scene
    from hypersynth.core.io.write import write_scene
    from hypersynth.core.run_checks import scene_values

    scene = make_demo_scene(size=32, bands=12, n_classes=2, seed=0).scene
    write_scene(scene, tmp_path / "reflectance.tif", unit_type="reflectance")
    write_scene(scene, tmp_path / "plain.tif")
    assert scene_values(read_scene(tmp_path / "reflectance.tif")) == "Reflectance"
    assert scene_values(read_scene(tmp_path / "plain.tif")) == ""


def test_cli_validation_labels_with_a_class_field_of_their_own(scene_files, tmp_path, capsys):
    """Validation points from the field keep their class in a field of their own ("code"), the training labels in a
    raster: --validation-field names it, as Processing's and the dock's validation class field do."""
    from osgeo import gdal, ogr, osr

    from hypersynth.core.io.read import read_scene

    scene, labels, truth, classes = scene_files
    grid = read_scene(scene)
    x0, dx, _, y0, _, dy = grid.transform
    truth_ids = gdal.Open(str(truth)).ReadAsArray()  # (H, W) the demo's ground truth
    srs = osr.SpatialReference()
    srs.ImportFromWkt(grid.crs_wkt)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "field.gpkg"))
    layer = ds.CreateLayer("field", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("code", ogr.OFTInteger))
    for row, col in ((r, c) for r in range(1, 32, 5) for c in range(2, 32, 5) if truth_ids[r, c] > 0):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("code", int(truth_ids[row, col]))
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x0 + (col + 0.5) * dx} {y0 + (row + 0.5) * dy})"))
        layer.CreateFeature(feature)
    ds = None
    args = ["baseline", "--scene", str(scene), "--labels", str(labels), "--prompts", str(classes), "--validation",
            str(tmp_path / "field.gpkg"), "--out", str(tmp_path / "rf"), "--quiet"]
    assert cli_main(args) == 2  # no field named like a class: said as bad input, nothing written
    assert "field" in capsys.readouterr().err and not (tmp_path / "rf").exists()
    assert cli_main(args + ["--validation-field", "code"]) == 0
    metrics = json.loads((tmp_path / "rf" / "metrics.json").read_text())
    assert metrics["n_test"] >= 10 and metrics["oa"] > 0.5
