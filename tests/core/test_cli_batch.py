"""The command line in batch use: progress a log file can follow, the CLIP weights file, what a script chains on,
what an overwrite replaced, and --version and -v anywhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hypersynth.core import pipeline
from hypersynth.core.cli import build_parser, main as cli_main
from hypersynth.core.cli.terminal import TerminalReporter, _elapsed

CLIP_WARNING = "text-tower weights found"  # in the engine's warning and in the command line's


class FakeClock:
    """A clock the test moves on by hand: the log's rate limit is tested without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


# ----------------------------------------------------------------------------------------- A. progress in a log
def test_a_log_file_gets_a_line_as_a_step_moves_on_at_most_every_30_s(capsys):
    clock = FakeClock()
    reporter = TerminalReporter(clock=clock)  # capsys's stderr is no terminal, as a batch job's log file
    reporter.progress(0.0, "VAE 1/12")
    clock.now += 10
    reporter.progress(0.01, "VAE 2/12")  # too soon after the step's last line
    clock.now += 21
    reporter.progress(0.02, "VAE 3/12")
    reporter.progress(0.02, "VAE 4/12")  # the same second
    assert _lines(capsys) == ["[  0 %] 0 s  VAE 1/12", "[  2 %] 31 s  VAE 3/12"]
    clock.now += 1
    reporter.progress(0.05, "latents")  # a new step: at once
    clock.now += 310
    reporter.progress(0.05, "latents")  # nothing moved on: no line, however long since
    reporter.progress(0.18, "latents")
    assert _lines(capsys) == ["[  5 %] 32 s  latents", "[ 18 %] 5 min 42 s  latents"]


def test_hundreds_of_sub_steps_make_a_few_lines_a_minute(capsys):
    clock = FakeClock()
    reporter = TerminalReporter(clock=clock)
    for i in range(600):  # a cross-validation's classifiers, one every 0.25 s for two and a half minutes
        reporter.progress(i / 600, f"cross-validation {i // 40 + 1}/15: classifier {i % 40 + 1}/40")
        clock.now += 0.25
    lines = _lines(capsys)
    assert len(lines) == 5 and lines[0] == "[  0 %] 0 s  cross-validation 1/15: classifier 1/40"
    assert lines[1] == "[ 20 %] 30 s  cross-validation 4/15: classifier 1/40"


def test_the_tiny_presets_last_epoch_is_logged(capsys):
    clock = FakeClock()
    reporter = TerminalReporter(clock=clock)
    reporter.progress(0.0, "VAE 1/2")
    clock.now += 45
    reporter.progress(0.1, "VAE 2/2")
    assert _lines(capsys) == ["[  0 %] 0 s  VAE 1/2", "[ 10 %] 45 s  VAE 2/2"]
    TerminalReporter(quiet=True, clock=clock).progress(0.5, "VAE 1/2")
    assert _lines(capsys) == []


@pytest.mark.parametrize("seconds, said", [(0.4, "0 s"), (42.9, "42 s"), (342, "5 min 42 s"), (7500, "2 h 05 min")])
def test_elapsed_time_reads_as_a_person_says_it(seconds, said):
    assert _elapsed(seconds) == said


# ----------------------------------------------------------------------------------------- B. --clip-weights
@pytest.fixture
def no_classification(monkeypatch):
    """Fails the test if a classification starts: the checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("the run started before --clip-weights was checked")
    monkeypatch.setattr(pipeline, "classify_scene", refuse)


def test_an_error_a_library_raised_is_said_with_where_it_came_from_under_v(scene_files, tmp_path, capsys,
                                                                          monkeypatch):
    """numpy's or torch's own ValueError is said as a refused input (exit 2); a bug raising it reached its report
    without where it came from, even with -v (review)."""
    def broadcast(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setattr(pipeline, "classify_scene", broadcast)
    assert cli_main(_augment(scene_files, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.endswith("error: operands could not be broadcast together with shapes (3,) (4,)\n")
    assert "Traceback" not in err
    assert cli_main(["-v", *_augment(scene_files, tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in broadcast" in err
    assert err.endswith("error: operands could not be broadcast together with shapes (3,) (4,)\n")


def _augment(scene_files, out: Path, *more: str) -> list[str]:
    return ["augment-classify", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
            "--out", str(out), "--quiet", *more]


def test_a_clip_weights_file_that_is_not_there_is_refused_before_anything_runs(scene_files, tmp_path, capsys,
                                                                               no_classification):
    for given, message in ((tmp_path / "none.safetensors", f"no such file: {tmp_path / 'none.safetensors'}; give "
                                                           "the CLIP ViT-B-32 checkpoint"),
                           (tmp_path, f"{tmp_path} is a folder; give the checkpoint file in it")):
        assert cli_main(_augment(scene_files, tmp_path / "out", "--clip-weights", str(given))) == 2
        err = capsys.readouterr().err
        assert "argument --clip-weights" in err and message in err, err
    assert cli_main(["demo", "--out", str(tmp_path / "demo"), "--clip-weights", str(tmp_path / "none.bin")]) == 2
    assert "no such file" in capsys.readouterr().err and not (tmp_path / "demo").exists()


def test_clip_weights_refused_where_they_cannot_be_used(scene_files, tmp_path, capsys, no_classification):
    weights = tmp_path / "open_clip_model.safetensors"
    weights.write_bytes(b"weights")
    assert cli_main(_augment(scene_files, tmp_path / "out", "--clip-weights", str(weights), "--preset", "tiny")) == 2
    assert "--clip-weights is for --preset fast or full" in capsys.readouterr().err
    assert cli_main(_augment(scene_files, tmp_path / "out", "--clip-weights", str(weights), "--synthesis-model",
                             str(tmp_path))) == 2
    assert "--synthesis-model reuses one, whose text tower is saved in it" in capsys.readouterr().err
    assert cli_main(["demo", "--method", "rf", "--out", str(tmp_path / "out"), "--clip-weights", str(weights)]) == 2
    assert "--method rf trains none: leave --clip-weights out" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_checkpoint_files_the_help_names_are_those_the_engine_looks_for():
    from hypersynth.core.cli.option_values import CLIP_FILES
    from hypersynth.core.ldm.text_encoder import CHECKPOINT_FILES

    assert CLIP_FILES == f"open_clip's {' or '.join(CHECKPOINT_FILES)}"  # written out: --help imports no torch


@pytest.fixture
def text_tower_run(monkeypatch):
    """classify_scene replaced by the part that matters here: the engine building the synthesis model's text tower
    (with its warning when no weights are found), inside the report's warning collector; records what it saw."""
    from hypersynth.core.ldm.text_encoder import TextEncoder
    from hypersynth.core.methods import synthesis_config
    from hypersynth.core.report import warnings_of_this_run

    seen: dict = {}

    def run(scene, labels, out, *, settings, **kwargs):
        seen["settings"] = settings
        seen["logged before"] = [r.getMessage() for r in seen["caplog"].records]
        with warnings_of_this_run() as said:
            TextEncoder(synthesis_config(settings).text)
        seen["report's warnings"] = said
        raise ValueError("stopped after the text tower")

    monkeypatch.setattr(pipeline, "classify_scene", run)
    return seen


def test_clip_weights_reach_the_synthesis_models_text_tower(scene_files, tmp_path, caplog, capsys, text_tower_run,
                                                            monkeypatch):
    from hypersynth.core.ldm.text_encoder import TextEncoder

    loaded = []
    monkeypatch.setattr(TextEncoder, "load_weights_file", lambda self, path: loaded.append(path))
    text_tower_run["caplog"] = caplog
    weights = tmp_path / "open_clip_model.safetensors"
    weights.write_bytes(b"weights")
    assert cli_main(_augment(scene_files, tmp_path / "out", "--clip-weights", str(weights))) == 2
    assert "stopped after the text tower" in capsys.readouterr().err
    assert text_tower_run["settings"].clip_weights == str(weights) and loaded == [weights]
    assert not [r for r in caplog.records if CLIP_WARNING in r.getMessage()]


def test_missing_clip_weights_are_said_once_before_training_naming_the_option(scene_files, tmp_path, caplog,
                                                                              text_tower_run, monkeypatch):
    from hypersynth.core.ldm.text_encoder import TextEncoder

    monkeypatch.setattr(TextEncoder, "find_cached_weights",
                        staticmethod(lambda model: (None, "open_clip_model.safetensors of the test's empty cache")))
    text_tower_run["caplog"] = caplog
    assert cli_main(_augment(scene_files, tmp_path / "out")) == 2
    said = [r.getMessage() for r in caplog.records if CLIP_WARNING in r.getMessage()]
    assert len(said) == 1 and said == [m for m in text_tower_run["logged before"] if CLIP_WARNING in m]
    assert "Give --clip-weights FILE" in said[0] and "the test's empty cache" in said[0]
    engine = [m for m in text_tower_run["report's warnings"] if CLIP_WARNING in m]
    assert len(engine) == 1 and "--clip-weights on the command line" in engine[0]  # the report lists the engine's
    caplog.clear()
    logging.getLogger("hypersynth").warning("No CLIP ViT-B-32 text-tower weights found (a later command's)")
    assert len(caplog.records) == 1  # the filter went with the command that said it


def test_a_refused_output_folder_is_said_without_the_note_on_missing_clip_weights(scene_files, tmp_path, caplog,
                                                                                 capsys, text_tower_run, monkeypatch):
    from hypersynth.core.ldm.text_encoder import TextEncoder

    monkeypatch.setattr(TextEncoder, "find_cached_weights", staticmethod(lambda model: (None, "an empty cache")))
    text_tower_run["caplog"] = caplog
    out = tmp_path / "out"
    out.mkdir()
    (out / "classification.tif").write_bytes(b"an earlier run's map")
    assert cli_main(_augment(scene_files, out)) == 2
    err = capsys.readouterr().err
    assert "classification.tif" in err and "--overwrite" in err, err
    assert not [r for r in caplog.records if CLIP_WARNING in r.getMessage()]  # the folder's refusal alone
    assert "settings" not in text_tower_run and (out / "classification.tif").read_bytes() == b"an earlier run's map"
    assert cli_main(_augment(scene_files, out, "--overwrite")) == 2  # the folder accepted: the note, then the run
    assert len([r for r in caplog.records if CLIP_WARNING in r.getMessage()]) == 1
    assert "stopped after the text tower" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- C. the classifier
def test_a_runs_printout_names_the_classifier_a_script_chains_into_classify(scene_files, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli_main(["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
                     "--out", str(out), "--quiet"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines() if ":" in line)
    classifier = lines["classifier"].strip()
    assert classifier == str(out / "classifier_bundle") and "model bundle" not in lines  # rf trains no synthesis
    assert cli_main(["classify", "--classifier", classifier, "--scene", str(scene_files["scene"]), "--out",
                     str(tmp_path / "again"), "--quiet"]) == 0
    again = capsys.readouterr().out
    assert "classified map:" in again and "classifier:" not in again  # classify saves no classifier
    assert cli_main(["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
                     "--out", str(out), "--quiet", "--overwrite"]) == 0
    said = capsys.readouterr().err  # what --overwrite removed, the costly bundles among it, is said
    assert f"in {out}, of what was there before: replaced " in said and "classifier_bundle" in said
    (out / "attention.npz").write_bytes(b"an augment run's")  # a file a baseline run writes none of
    assert cli_main(["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
                     "--out", str(out), "--quiet", "--overwrite"]) == 0
    said = capsys.readouterr().err  # replaced and removed told apart (a review: all read "replaced")
    assert "; removed attention.npz (this run writes none)" in said and not (out / "attention.npz").exists()


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def test_json_prints_one_object_a_script_reads_with_the_files_and_the_accuracy(scene_files, tmp_path, capsys):
    """--json: stdout is one JSON object (the files, null where not written; the accuracy as metrics.json has it;
    the classes; what a rerun replaced and removed), and notes stay on stderr."""
    out = tmp_path / "run"
    common = ["--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]), "--validation",
              str(scene_files["truth"]), "--out", str(out), "--quiet", "--json"]
    assert cli_main(["baseline", *common, "--cog"]) == 0
    summary = json.loads(capsys.readouterr().out, parse_constant=_no_constant)  # strict JSON: no NaN
    assert summary["class_map"] == str(out / "classification.tif") and summary["cog"] == str(
        out / "classification_cog.tif")
    assert summary["classifier"] == str(out / "classifier_bundle") and summary["synthesis_model"] is None
    assert summary["probabilities"] is None and summary["synthetic_patches"] is None
    written = [v for k, v in summary.items() if k not in ("accuracy", "classes", "replaced", "removed") and v]
    assert len(written) == 7 and all(Path(v).exists() for v in written)  # map, confidence, 2 reports, metrics, …
    metrics = json.loads((out / "metrics.json").read_text())
    assert summary["accuracy"] == {"oa": metrics["oa"], "aa": metrics["aa"], "kappa": metrics["kappa"],
                                   "validation_pixels": metrics["n_test"]}
    named = {c["id"]: c["name"] for c in json.loads(scene_files["classes"].read_text())["classes"]}
    assert {c["id"]: c["name"] for c in summary["classes"]} == named
    assert summary["replaced"] == [] and summary["removed"] == []
    assert cli_main(["baseline", *common, "--overwrite", "--method", "svm"]) == 0  # no --cog now
    captured = capsys.readouterr()
    again = json.loads(captured.out)
    assert "classification.tif" in again["replaced"] and "classification_cog.tif" in again["removed"]
    assert again["cog"] is None and "of what was there before" not in captured.err  # said in the object
    assert cli_main(["classify", "--classifier", again["classifier"], "--scene", str(scene_files["scene"]),
                     "--out", str(tmp_path / "elsewhere"), "--quiet", "--json"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["classifier"] is None and applied["accuracy"] is None and applied["metrics"] is None


def test_a_rerun_with_cog_says_its_cog_was_replaced_not_removed(scene_files, tmp_path, capsys):
    """The terminal said "removed classification_cog.tif … (this run writes none)", then wrote it (review)."""
    run = ["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]), "--out",
           str(tmp_path / "run"), "--quiet", "--cog"]
    assert cli_main(run) == 0
    capsys.readouterr()
    assert cli_main([*run, "--overwrite"]) == 0
    said = capsys.readouterr()
    assert "classification_cog.tif" in said.err.split("replaced ")[1].split(";")[0]
    assert "removed" not in said.err and f"COG:            {tmp_path / 'run' / 'classification_cog.tif'}" in said.out


def test_a_cog_that_cannot_be_written_still_says_where_the_run_went(scene_files, tmp_path, capsys, monkeypatch):
    from hypersynth.core.cli import commands

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(commands, "_write_cog", full)
    assert cli_main(["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
                     "--out", str(tmp_path / "run"), "--quiet", "--cog"]) == 2
    said = capsys.readouterr()
    assert str(tmp_path / "run" / "classification.tif") in said.out and "error:" in said.err


def test_bench_takes_the_clip_weights_file_for_the_models_it_trains(tmp_path, monkeypatch):
    from hypersynth.core import bench

    weights = tmp_path / "open_clip_model.safetensors"
    weights.write_bytes(b"weights")
    seen = {}

    def run_bench(datasets, labels_per_class, seeds, methods, splits, settings, **kwargs):
        seen["settings"] = settings  # what the runs would train with
        return []

    monkeypatch.setattr(bench, "run_bench", run_bench)
    cli_main(["bench", "--datasets", "demo", "--labels-per-class", "2", "--seeds", "0", "--methods", "rf",
              "--splits", "random", "--clip-weights", str(weights), "--quiet"])
    assert seen["settings"].clip_weights == str(weights)


# ----------------------------------------------------------------------------------------- D. the class file
def test_the_help_says_what_the_class_file_reader_takes(capsys):
    from hypersynth.core.io.classes import ALLOWED_KEYS

    for command in ("augment-classify", "baseline", "bench"):
        assert cli_main([command, "--help"]) == 0
        assert f"(JSON: {ALLOWED_KEYS} per class)" in " ".join(capsys.readouterr().out.split()), command


# ----------------------------------------------------------------------------------------- E. --version, -v
def test_version_is_printed(capsys):
    from hypersynth.core.version import ENGINE_VERSION

    assert cli_main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"hypersynth {ENGINE_VERSION}")


@pytest.mark.parametrize("args, verbose", [
    (["-v", "baseline", "--scene", "s.tif", "--labels", "l.tif", "--out", "o"], True),
    (["baseline", "-v", "--scene", "s.tif", "--labels", "l.tif", "--out", "o"], True),
    (["baseline", "--scene", "s.tif", "--labels", "l.tif", "--out", "o", "--verbose"], True),
    (["baseline", "--scene", "s.tif", "--labels", "l.tif", "--out", "o"], False),
    (["datasets", "-v"], True),
])
def test_verbose_is_taken_before_or_after_the_command(args, verbose):
    assert build_parser().parse_args(args).verbose is verbose


def test_an_accuracy_on_few_pixels_gets_a_note_on_stderr(capsys, tmp_path):
    from types import SimpleNamespace

    from hypersynth.core.cli.commands import _print_outputs

    outputs = SimpleNamespace(class_map=tmp_path / "classification.tif", confidence=tmp_path / "confidence.tif",
                              probabilities=None, report=tmp_path / "report.md", bundle=None, classifier=None,
                              synthetic_patches=None, replaced=[],
                              metrics={"oa": 0.5, "aa": 0.5, "kappa": 0.2, "n_test": 10})
    _print_outputs(outputs)
    captured = capsys.readouterr()
    assert "accuracy:       OA 50.00 %  AA 50.00 %  kappa 0.2000 (10 validation pixels)\n" in captured.out
    assert captured.err == "note: the OA's 95 % interval: 23.7–76.3 %; few pixels to judge by\n"
    outputs.metrics = {"oa": 1.0, "aa": 1.0, "kappa": None, "n_test": 300}  # κ undefined: one class validated
    _print_outputs(outputs)
    assert "accuracy:       OA 100.00 %  AA 100.00 %  kappa – (300 validation pixels)\n" in capsys.readouterr().out
