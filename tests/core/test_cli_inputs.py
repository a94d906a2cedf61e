"""The command line's checks of what it is given: refused with a message that names the option and says what to
do, before anything runs, and nothing the user had is changed."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hypersynth.core import bench, bench_inputs
from hypersynth.core.cli import main as cli_main
from hypersynth.core.cli.commands import _with_overwrite_option
from hypersynth.core.io.band_choice import describe_bands
from hypersynth.core.io.read import read_scene
from hypersynth.core.io.write import OutputExistsError, atomic_output
from hypersynth.core.ldm.bundle import save_bundle

from ..sensor_products import ENMAP_STEM, PRODUCTS, assert_same_scene, subdatasets, write_prisma, write_product

REPO = Path(__file__).resolve().parents[2]
QUICK_BENCH = ["--labels-per-class", "2", "--seeds", "0", "--methods", "rf", "--splits", "random", "--preset", "tiny",
               "--quiet"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what a refused command must leave as it was."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run_folder(scene_files, tmp_path_factory) -> Path:
    """A random forest run's output folder (with its classifier_bundle) beside a synthesis model_bundle."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert cli_main(["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
                     "--out", str(out), "--quiet"]) == 0
    tensor = {"w": torch.zeros(1)}  # a bundle laid out as SynthesisModel.save lays it out; never loaded here
    save_bundle(out / "model_bundle", {part: tensor for part in ("ema_denoiser", "normalizer", "reference",
                                                                 "text_encoder", "vae")}, {}, {})
    return out


# ----------------------------------------------------------------------------------------- 1. demo --overwrite
def test_demo_refuses_an_earlier_demo_unless_overwrite_is_given(tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    demo = ["demo", "--out", str(out), "--method", "rf", "--preset", "tiny", "--labels-per-class", "2", "--quiet"]
    assert cli_main(demo) == 0
    before = _snapshot(out)
    assert {"classification.tif", "report.md", "scene/demo_labels.tif"} <= set(before)
    capsys.readouterr()
    assert cli_main(demo + ["--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "already holds files a demo writes (" in err and "an earlier run's, or yours by those names" in err
    assert "--overwrite" in err and "overwrite=True" not in err
    assert _snapshot(out) == before  # nothing replaced, not even the scene's labels
    from hypersynth.core import pipeline

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl+C once the new scene is written
    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "classify_scene", stopped)
        assert cli_main(demo + ["--seed", "1", "--overwrite"]) == 130
    assert "interrupted: nothing was written" in capsys.readouterr().err
    assert _snapshot(out) == before  # the earlier scene is back, beside the earlier map that it made (review)
    assert cli_main(demo + ["--seed", "1", "--overwrite"]) == 0
    assert _snapshot(out)["scene/demo_labels.tif"] != before["scene/demo_labels.tif"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # nothing set aside is left
    make_demo = (REPO / "Makefile").read_text().split("\ndemo:")[1].split("\n\n")[0]
    assert "--overwrite" in make_demo  # `make demo` twice replaces its own out/demo


# ----------------------------------------------------------------------------------------- 2. bench output files
@pytest.fixture
def no_run(monkeypatch):
    """Fails the test if a benchmark starts: the checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("the benchmark ran before its output files were checked")
    monkeypatch.setattr(bench, "run_bench", refuse)


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_bench_checks_its_output_files_before_running(option, tmp_path, capsys, no_run):
    (tmp_path / "a_file").write_text("x")
    mine = tmp_path / "mine.json"
    mine.write_text("my results")
    cases = [(tmp_path, "is a folder"), (tmp_path / "a_file" / "b.json", "is a file, so no folder can be made"),
             (mine, "already exists; pass --overwrite"), ("", "is empty")]
    if sys.platform.startswith("linux"):
        cases.append((Path("/proc/hypersynth_bench.json"), "cannot write in /proc"))
    for path, message in cases:
        assert cli_main(["bench", "--datasets", "demo", *QUICK_BENCH, option, str(path)]) == 2
        err = capsys.readouterr().err
        assert option in err and message in err, err
    assert cli_main(["bench", "--merge", str(mine), option, str(mine)]) == 2  # --merge: the same rule
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert mine.read_text() == "my results"


def test_bench_overwrite_replaces_an_existing_file_and_quotes_its_command(tmp_path, capsys):
    path, table = tmp_path / "b.json", tmp_path / "b.md"
    path.write_text("old")
    args = ["bench", "--datasets", "demo, Demo", *QUICK_BENCH, "--seeds", "0,0", "--methods", "rf,RF",
            "--json", str(path), "--markdown", str(table), "--overwrite"]
    assert cli_main(args) == 0
    data = json.loads(path.read_text())
    # 8. each dataset, seed and method once (SalinasA-style case folded); 10. the command as a shell would take it
    assert len(data["runs"]) == 1 and [r["seeds"] for r in data["rows"]] == [[0]]
    assert "--datasets 'demo, Demo'" in data["command"] and "--datasets 'demo, Demo'" in table.read_text()
    assert data["command"].startswith("bin/hypersynth bench ")


def test_bench_says_when_a_label_draw_is_not_what_n_asks(tmp_path, caplog):
    """More labels per class than a class holds: its cell trains on fewer and tests on one pixel; said on the
    terminal and under the table, so nobody reads it as N labels per class."""
    import logging

    table = tmp_path / "b.md"
    args = ["bench", "--datasets", "demo", *QUICK_BENCH, "--labels-per-class", "1000", "--markdown", str(table)]
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert cli_main(args) == 0
    assert "demo, random split, N = 1000, seed 0: class" in caplog.text and "used for training" in caplog.text
    text = table.read_text()
    assert "**Label draws not as asked**" in text and "- N = 1000, seed 0: class" in text


# ----------------------------------------------------------------------------------------- 3. nothing ran
def test_bench_says_why_nothing_ran_and_how_to_get_the_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HYPERSYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "b.json"
    assert cli_main(["bench", "--datasets", "indian_pines", *QUICK_BENCH, "--json", str(path)]) == 2
    err = capsys.readouterr().err
    assert "error: nothing was run: indian_pines is not available here" in err
    assert "--download" in err and "allow_download" not in err and str(tmp_path / "data") in err
    assert not path.exists()
    for option, message in (("--datasets", "no dataset given"), ("--methods", "no method given"),
                            ("--seeds", "seeds must be whole numbers"), ("--splits", "no split given")):
        assert cli_main(["bench", *QUICK_BENCH, option, "", "--json", str(path)]) == 2
        assert re.search(f"argument {option}(/--seed)?: {message}", capsys.readouterr().err)
    assert cli_main(["bench", "--datasets", "moffett_field", *QUICK_BENCH]) == 2
    err = capsys.readouterr().err
    assert "moffett_field has no class labels" in err and "load_scene_only" not in err and "--truth" in err


def test_bench_missing_a_named_dataset_keeps_the_others_but_exits_3(tmp_path, monkeypatch, capsys):
    """A dataset named with --datasets and not here was a note with exit status 0: a script took the tables as
    whole (carried over from session 41's review)."""
    monkeypatch.setenv("HYPERSYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "b.json"
    assert cli_main(["bench", "--datasets", "indian_pines,demo", *QUICK_BENCH, "--json", str(path)]) == bench.PARTIAL
    err = capsys.readouterr().err
    assert "error: indian_pines was not run (not available here" in err and "exit status 3" in err
    document = json.loads(path.read_text())
    assert {row["dataset"] for row in document["rows"]} == {"demo"} and document["skipped"] == ["indian_pines"]


def test_run_bench_runs_the_datasets_it_is_given_and_warns_of_those_not_here(tmp_path, monkeypatch, caplog):
    """The engine's own datasets argument (the command line and Processing pass their scenes as own_scenes): a
    dataset not here is a warning in the log, as every engine warning is (it was printed to stdout), and nothing
    at all to run is an error (it returned no runs without a word)."""
    import logging

    from hypersynth.core.methods import MethodSettings

    monkeypatch.setenv("HYPERSYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = MethodSettings(preset="tiny")
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        runs = bench.run_bench(["indian_pines", "demo"], [2], [0], ["rf"], ["random"], settings)
    assert [(r.dataset, r.method) for r in runs] == [("demo", "rf")]
    assert "skipping indian_pines:" in caplog.text
    with pytest.raises(ValueError, match=r"^nothing was run: indian_pines \(not available here: see the warnings "
                                         r"above\)$"):
        bench.run_bench(["indian_pines"], [2], [0], ["rf"], ["random"], settings)


# ----------------------------------------------------------------------------------------- 4. numbers and --out
@pytest.mark.parametrize("args, message", [
    (["demo", "--patch-size", "0"], "argument --patch-size: expected a whole number of at least 3 (leave "),
    (["demo", "--patch-size", "-5"], "argument --patch-size: expected a whole number of at least 3"),
    (["demo", "--seed", "99999999999"], "argument --seed: expected a whole number from 0 to 4294967295"),
    (["demo", "--seed", "-1"], "argument --seed: expected a whole number from 0 to 4294967295"),
    (["demo", "--synthetic-per-class", "0"], "argument --synthetic-per-class: expected a whole number of at least 1"),
    (["demo", "--pseudo-labels", "-3"], "argument --pseudo-labels: expected a whole number of at least 1"),
    (["demo", "--labels-per-class", "0"], "argument --labels-per-class: expected a whole number of at least 1"),
    (["demo", "--balance-rate", "7"], "argument --balance-rate: expected a number in [0, 1]"),
    (["demo", "--anchor-strength", "0"], "argument --anchor-strength: expected a number in (0, 1]"),
    (["demo", "--out", ""], "argument --out: is empty; give a folder"),
    (["classify", "--model", "m", "--scene", "s.tif", "--out", "map.tif"],  # it made a folder map.tif (review)
     "argument --out: 'map.tif' looks like a file name, but --out names the folder the files are written into (a "
     "run's map is its classification.tif): give a folder, e.g. --out map/"),
    (["synthesize", "--bundle", "b", "--class", "1", "--out", "p.npz", "--n", "0"],
     "argument --n: expected a whole number of at least 1"),
    (["synthesize", "--bundle", "b", "--class", "1", "--out", ""], "argument --out: is empty"),
    (["synthesize", "--bundle", "b", "--class", "1", "--out", "p.npz", "--anchor-strength", "7"],
     "argument --anchor-strength: expected a number in (0, 1]"),  # it starts patches from kept labelled ones
    (["classify", "--model", "m", "--scene", "s.tif", "--out", ""], "argument --out: is empty"),
    (["synthesize", "--bundle", "b", "--prompt", " ", "--out", "p.npz"],
     "argument --prompt: expected words describing the patches, e.g. 'asphalt road'; got an empty prompt"),
    (["augment-classify", "--scene", "s.tif", "--labels", "l.tif", "--out", "o", "--synthetic-weight", "11"],
     "argument --synthetic-weight: expected a number in (0, 10]; got '11'"),
    # an input left empty (a script's unset variable) went on as '.' or a nameless file (review)
    (["augment-classify", "--scene", "s.tif", "--labels", "l.tif", "--out", "o", "--validation", ""],
     "argument --validation: is empty; give a file, or leave the option out"),
    (["assess", "--map", "m.tif", "--validation", ""], "argument --validation: is empty; give a file\n"),
    (["augment-classify", "--scene", "", "--labels", "l.tif", "--out", "o"], "argument --scene: is empty; give a "
                                                                              "file\n"),  # required: no leaving out
    (["classify", "--model", "", "--scene", "s.tif", "--out", "o"], "argument --classifier/--model: is empty; give "
                                                                    "a folder"),
    (["baseline", "--scene", "s.tif", "--labels", "l.tif", "--out", "o", "--class-field", ""],
     "argument --class-field: is empty; give a field name"),
    (["bench", "--datasets", "demo", "--name", ""], "argument --name: is empty; give a name"),
])
def test_numbers_and_empty_names_are_refused_naming_the_option(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli_main(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


# ----------------------------------------------------------------------------------------- 5. the saved models
NEW_NAMES = {"--model": "--classifier", "--bundle": "--synthesis-model"}  # the old spellings stay, for scripts


@pytest.mark.parametrize("args, dest", [
    (["classify", "--scene", "s.tif", "--out", "o"], "classifier"),
    (["synthesize", "--class", "1", "--out", "p.npz"], "synthesis_model"),
    (["augment-classify", "--scene", "s.tif", "--labels", "l.tif", "--out", "o"], "synthesis_model"),
])
def test_each_saved_model_option_says_what_it_takes_and_keeps_its_old_name(args, dest, capsys):
    """classify takes --classifier (a classifier_bundle), synthesize and augment-classify --synthesis-model (a
    model_bundle); --model and --bundle, their first names, mean the same."""
    from hypersynth.core.cli import build_parser

    old, new = {"classifier": ("--model", "--classifier"), "synthesis_model": ("--bundle", "--synthesis-model")}[dest]
    for option in (new, old):
        assert getattr(build_parser().parse_args(args[:1] + [option, "saved"] + args[1:]), dest) == "saved"
    assert cli_main([args[0], "--help"]) == 0
    helptext = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert f"{new} FOLDER, {old} FOLDER" in helptext and f"({old}: the same option's older name)" in helptext


def test_classify_takes_the_classifier_by_either_name(run_folder, scene_files, tmp_path):
    maps = []
    for option in ("--classifier", "--model"):
        out = tmp_path / option.strip("-")
        assert cli_main(["classify", option, str(run_folder / "classifier_bundle"), "--scene",
                         str(scene_files["scene"]), "--out", str(out), "--quiet"]) == 0
        maps.append((out / "classification.tif").read_bytes())
    assert maps[0] == maps[1]
    out = tmp_path / "cog"  # --cog, as augment-classify and baseline take it
    assert cli_main(["classify", "--classifier", str(run_folder / "classifier_bundle"), "--scene",
                     str(scene_files["scene"]), "--out", str(out), "--cog", "--quiet"]) == 0
    from osgeo import gdal

    cog, plain = gdal.Open(str(out / "classification_cog.tif")), gdal.Open(str(out / "classification.tif"))
    assert cog.GetMetadata("IMAGE_STRUCTURE").get("LAYOUT") == "COG"  # each dataset held while its band is read
    assert (cog.GetRasterBand(1).ReadAsArray() == plain.GetRasterBand(1).ReadAsArray()).all()
    cog = plain = None


# ----------------------------------------------------------------------------------------- 5. the wrong bundle
def test_a_bundle_of_the_other_kind_or_a_run_folder_is_named_for_what_it_is(run_folder, scene_files, tmp_path,
                                                                             capsys, monkeypatch):
    """Checked once per run, by the engine, before the output folder is claimed: the same words on the command
    line and in Processing."""
    from hypersynth.core import model_folders, pipeline

    checked = []
    monkeypatch.setattr(pipeline, "check_model_folder",
                        lambda *args: checked.append(args) or model_folders.check_model_folder(*args))
    before = _snapshot(run_folder)
    scene, out = str(scene_files["scene"]), str(tmp_path / "out")
    cases = [
        (["classify", "--model", str(run_folder / "model_bundle"), "--scene", scene, "--out", out],
         f"is a synthesis model, not the classifier this needs; give the classifier: "
         f"{run_folder / 'classifier_bundle'}"),
        (["classify", "--model", str(run_folder), "--scene", scene, "--out", out],
         f"{run_folder} is a run's output folder; give the classifier in it: {run_folder / 'classifier_bundle'}"),
        (["synthesize", "--bundle", str(run_folder / "classifier_bundle"), "--class", "1", "--out",
          str(tmp_path / "p.npz")],
         f"is a classifier bundle, not the synthesis model this needs; give the synthesis model: "
         f"{run_folder / 'model_bundle'}"),
        (["augment-classify", "--scene", scene, "--labels", str(scene_files["labels"]), "--out", out,
          "--bundle", str(run_folder / "classifier_bundle")],
         f"is a classifier bundle, not the synthesis model this needs; give the synthesis model: "
         f"{run_folder / 'model_bundle'}"),
    ]
    for old_args, message in cases:
        for args in (old_args, [NEW_NAMES.get(a, a) for a in old_args]):  # the old spellings, then the new
            checked.clear()
            assert cli_main(args + ["--quiet"]) == 2
            err = capsys.readouterr().err
            assert message in err and "it holds None" not in err and "SynthesisModel.save" not in err, err
            assert len(checked) == 1, checked
    assert not any(tmp_path.iterdir()) and _snapshot(run_folder) == before
    with pytest.raises(ValueError) as refused:  # the engine says the same to every front end
        pipeline.classify_with_model(run_folder / "model_bundle", scene, out)
    assert str(refused.value) == (f"{run_folder / 'model_bundle'} is a synthesis model, not the classifier this "
                                  f"needs; give the classifier: {run_folder / 'classifier_bundle'}")


def test_synthesize_checks_its_out_file_before_the_model_loads(run_folder, tmp_path, capsys, monkeypatch):
    """A wrong --out was said after the whole synthesis (the .npz name), or not before it (an existing file)."""
    from hypersynth.core import pipeline
    from hypersynth.core.ldm.model import SynthesisModel

    def refuse(*args, **kwargs):
        raise AssertionError("the synthesis model loaded before the output file was checked")

    monkeypatch.setattr(SynthesisModel, "load", refuse)
    bundle = run_folder / "model_bundle"
    mine = tmp_path / "mine.npz"
    mine.write_bytes(b"my patches")
    assert cli_main(["synthesize", "--bundle", str(bundle), "--class", "1", "--out", str(mine), "--quiet"]) == 2
    assert capsys.readouterr().err == (f"error: {mine} already exists; pass --overwrite to replace it, or choose "
                                       "another --out\n")
    cases = [(mine, OutputExistsError, f"{mine} already exists; choose another name or allow overwriting "
                                       "(overwrite=True) to replace it"),
             (tmp_path / "patches.txt", ValueError, "synthetic patches are written as .npz (NumPy archive), .csv "
                                                    "(spectral library) or .tif (GeoTIFF mosaic); got 'patches.txt' "
                                                    "(e.g. patches.npz)"),
             (tmp_path, ValueError, f"{tmp_path} is a folder; give a .npz, .csv or .tif file name in it (e.g. "
                                    f"{tmp_path / 'patches.npz'})")]
    if sys.platform.startswith("linux"):
        cases.append((Path("/proc/patches.npz"), ValueError, "cannot write the synthetic patches to "
                                                             "/proc/patches.npz: cannot write in /proc"))
    for out, error, message in cases:
        with pytest.raises(error) as refused:
            pipeline.synthesize_to_file(bundle, out, class_id=1)
        assert str(refused.value).startswith(message)
    with pytest.raises(ValueError, match="label 70000 is out of range"):  # a free prompt's label, before loading
        pipeline.synthesize_to_file(bundle, tmp_path / "p.tif", prompt="wet sand", label=70000)
    assert mine.read_bytes() == b"my patches" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.npz"]


# ----------------------------------------------------------------------------------------- 6. --overwrite named
def test_a_refusal_to_replace_an_output_names_the_overwrite_option(run_folder, scene_files, capsys):
    before = _snapshot(run_folder)
    assert cli_main(["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
                     "--out", str(run_folder), "--method", "svm", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "allow overwriting" not in err
    # what --overwrite would delete is said before it does (review: only after, and cut from the engine's message)
    assert ("--overwrite replaces them or, where this run writes no such file, removes them: the saved models "
            "classifier_bundle and model_bundle among them, what a run learnt (copy them elsewhere first") in err
    assert _snapshot(run_folder) == before
    with pytest.raises(OutputExistsError) as refused:  # the file writers' wording, as synthesize meets it
        with atomic_output(run_folder / "report.md"):
            pass
    assert _with_overwrite_option(refused.value) == (f"{run_folder / 'report.md'} already exists; pass --overwrite "
                                                     "to replace it, or choose another --out")


# ----------------------------------------------------------------------------------------- 7. help
def _help(capsys, *command: str) -> str:
    assert cli_main([*command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare words


def test_each_command_offers_only_its_options_each_explained(capsys):
    top = _help(capsys)
    assert "random forest, SVM or CNN" in top
    classify = _help(capsys, "classify")
    assert "no labels, no training" in classify and "where to predict" in classify
    assert "--preset" not in classify and "--seed" not in classify and "where to train" not in classify
    synthesize = _help(capsys, "synthesize")
    assert "model_bundle folder" in synthesize and "where to sample" in synthesize
    for option in ("--preset", "--patch-size", "--synthetic-per-class", "--balance-rate",
                   "--pseudo-labels", "--pseudo-labeller", "--pseudo-rule", "--spatial-smoothing",
                   "--diffusion-features", "--synthetic-weight"):
        assert option not in synthesize
    assert "--anchor-strength" in synthesize and "0.05 gives near copies of them" in synthesize  # it acts there
    assert "$HYPERSYNTH_DATA_DIR" in _help(capsys, "datasets")
    bench_help = _help(capsys, "bench")
    for text in ("--preset {tiny,fast,full} model size", "--device {auto,cpu,cuda,cuda:N} where to train and predict",
                 "--quiet no progress bars", "--download fetch", "--overwrite replace existing --json"):
        assert text in bench_help, text
    assert "--method {rf,svm,cnn,augment} augment (Augment & Classify" in _help(capsys, "demo")
    assert "--method {rf,svm,cnn} rf (random forest" in _help(capsys, "baseline")
    for command in ("demo", "augment-classify", "baseline", "classify", "synthesize", "bench", "import-scene",
                    "datasets"):
        text = _help(capsys, command)
        assert "session" not in text and "BENCHMARKS section" not in text and "historical" not in text, command
    for command in ("augment-classify", "baseline", "classify", "bench"):  # every --scene takes products as they are
        assert "EnMAP L2A, EMIT L2A/L1B and PRISMA L2 products open directly" in _help(capsys, command), command


def test_an_option_the_command_has_not_is_refused_with_that_commands_usage(capsys):
    """argparse refused it with the top-level usage line, which lists the commands, not the command's options."""
    assert cli_main(["classify", "--classifier", "c", "--scene", "s.tif", "--out", "o", "--frobnicate"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("usage: hypersynth classify ") and "--classifier FOLDER" in said
    assert said.endswith("hypersynth classify: error: unrecognized arguments: --frobnicate\n")
    assert cli_main(["augment-classify", "--scene", "s.tif", "--labels", "l.tif", "--promts", "c.json", "--out",
                     "o"]) == 2  # a typo: the option meant is named where the eye lands, after the usage
    assert capsys.readouterr().err.endswith(
        "error: unrecognized arguments: --promts (did you mean --prompts?) c.json\n")
    # a prefix is no option of its own: synthesize's --class was read as augment-classify's --class-field (review)
    assert cli_main(["augment-classify", "--scene", "s.tif", "--labels", "l.tif", "--class", "3", "--out", "o"]) == 2
    assert capsys.readouterr().err.endswith(
        "error: unrecognized arguments: --class (did you mean --class-field?) 3\n")


def test_a_scene_name_the_tables_cannot_take_is_refused_for_its_one_reason(tmp_path, capsys):
    """The refusal listed every reason a name may be refused; now the one that applies, and where the name came
    from when --name was not given."""
    scene = tmp_path / "salinasA.tif"
    scene.write_bytes(b"")
    assert cli_main(["bench", "--scene", str(scene), "--truth", str(scene), "--methods", "rf", "--seeds", "0",
                     "--quiet"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: 'salinasA' (taken from the scene's file name, salinasA.tif) cannot name your "
                           "scene in the benchmark tables: it is the key of a dataset HyperSynth benchmarks (")
    assert ", semicolon" not in said and said.endswith("; choose another name (--name on the command line)\n")


def test_one_concept_one_option_name_across_commands(capsys):
    """A review found --validation-field refused by classify and assess, --cog missing from classify, and --quiet
    refused by assess and datasets (a script passes it to every command)."""
    from hypersynth.core.cli.parser import build_parser

    parser = build_parser()
    for command in ("classify", "assess"):
        base = (["classify", "--classifier", "c", "--scene", "s.tif", "--out", "o"] if command == "classify" else
                ["assess", "--map", "m.tif"])
        for option in ("--validation-field", "--class-field"):
            assert parser.parse_args([*base, "--validation", "v.gpkg", option, "lc"]).class_field == "lc"
    assert parser.parse_args(["classify", "--classifier", "c", "--scene", "s.tif", "--out", "o", "--cog"]).cog
    for command in ("demo", "augment-classify", "baseline", "classify", "assess", "synthesize", "bench",
                    "import-scene", "draw-labels", "datasets"):
        assert "--quiet" in _help(capsys, command), command
    assert parser.parse_args(["datasets", "--quiet"]).quiet


def test_the_run_commands_help_lists_the_outputs_and_a_class_file_that_reads(capsys, tmp_path):
    """augment-classify's help was one line: no outputs, no example, and not the class file's top-level form."""
    from hypersynth.core.io.classes import read_classes

    for command in ("augment-classify", "baseline"):
        text = _help(capsys, command)
        assert "writes into --out: classification.tif" in text and f"hypersynth {command} --scene cube.tif" in text
        assert ("model_bundle/" in text) == (command == "augment-classify")
        example = text.split("a JSON object with a list of classes:", 1)[1].split("(colour and prompt", 1)[0]
        (tmp_path / "classes.json").write_text(example)
        assert [(c.id, c.name, c.text) for c in read_classes(tmp_path / "classes.json")] == [
            (1, "water", "calm open water"), (2, "asphalt road", "dark asphalt road")]


# ----------------------------------------------------------------------------------------- 9. dataset names
def test_dataset_names_are_matched_in_any_case_and_a_typo_gets_a_suggestion(capsys):
    assert bench_inputs.parse_datasets("SalinasA, DEMO,salinasa") == ["salinasA", "demo"]
    assert cli_main(["bench", "--datasets", "salinsA", *QUICK_BENCH]) == 2
    assert "unknown dataset 'salinsA'; did you mean salinasA?" in capsys.readouterr().err
    assert bench_inputs.parse_methods("RF,svm,rf") == ["rf", "svm"]


def test_sigterm_stops_a_run_and_leaves_nothing_half_written(tmp_path):
    """A batch system's stop (SIGTERM) unwinds like Ctrl+C: no staging folder, no map, exit status 143."""
    import os
    import signal
    import subprocess

    out = tmp_path / "demo"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen([str(REPO / "bin" / "hypersynth"), "demo", "--out", str(out), "--preset", "fast"],
                           stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in run.stderr:  # not a terminal: one line per stage
        lines.append(line)
        if "VAE" in line:
            break
    run.send_signal(signal.SIGTERM)
    _, rest = run.communicate(timeout=120)
    assert run.returncode == 143, "".join(lines) + (rest or "")
    assert "terminated: nothing was written" in (rest or "")
    assert not (out / "classification.tif").exists()
    assert not [p for p in out.rglob(".hypersynth-run-*")]


# ----------------------------------------------------------------------------------------- 10. import-scene
@pytest.mark.parametrize("kind", PRODUCTS)
def test_import_scene_writes_each_product_as_a_geotiff_that_reads_the_same(kind, tmp_path, capsys):
    product = write_product(kind, tmp_path / "product")
    given = [product] + ([product.with_name(f"{ENMAP_STEM}-METADATA.XML")] if kind == "EnMAP L2A" else
                         subdatasets(product)[:1])  # also the XML, or a subdataset name as QGIS gives it
    for i, source in enumerate(given):
        out = tmp_path / f"scene{i}.tif"
        assert cli_main(["import-scene", "--scene", str(source), "--out", str(out), "--quiet"]) == 0
        assert capsys.readouterr().out == f"imported the {kind} product {source}\nGeoTIFF: {out}\n"
        assert_same_scene(read_scene(out), read_scene(product))
        assert read_scene(out).wavelengths is not None


def test_import_scene_flags_the_bands_to_leave_out_and_says_which(tmp_path, capsys):
    product = write_product("EMIT L2A reflectance", tmp_path / "product")
    scene = read_scene(product)
    out = tmp_path / "emit.tif"
    wavelengths = f"{scene.wavelengths[3] - 0.01:.2f}-{scene.wavelengths[4] + 0.01:.2f}nm"
    assert cli_main(["import-scene", "--scene", str(product), "--out", str(out), "--quiet",
                     "--leave-out-bands", f"1, {wavelengths}"]) == 0
    imported = read_scene(out)
    assert np.array_equal(imported.good_bands, scene.good_bands & ~np.isin(np.arange(scene.bands), [0, 3, 4]))
    said = describe_bands(~imported.good_bands, scene.wavelengths)  # the product's own bad bands too
    assert not scene.good_bands.all() and capsys.readouterr().out.endswith(f"GeoTIFF: {out}\nflagged bad: {said}\n")
    assert np.array_equal(imported.cube, scene.cube)
    refused = tmp_path / "refused.tif"
    assert cli_main(["import-scene", "--scene", str(product), "--out", str(refused), "--leave-out-bands", "x"]) == 2
    assert "argument --leave-out-bands: 'x' is neither a band number (224)" in capsys.readouterr().err
    assert cli_main(["import-scene", "--scene", str(product), "--out", str(refused), "--quiet",
                     "--leave-out-bands", f"1-{scene.bands}"]) == 2
    assert "error: --leave-out-bands: leaving out bands 1–" in capsys.readouterr().err
    assert cli_main(["import-scene", "--scene", str(product), "--out", str(refused), "--quiet",
                     "--leave-out-bands", "99"]) == 2
    assert f"error: --leave-out-bands: band 99 is not in the scene: its bands are numbered 1 to {scene.bands}\n" in \
        capsys.readouterr().err
    assert not refused.exists()
    assert "--leave-out-bands BANDS" in _help(capsys, "import-scene")


def test_import_scene_refuses_an_existing_out_without_overwrite_and_explains_itself(tmp_path, capsys):
    product = write_product("PRISMA L2D", tmp_path)
    out = tmp_path / "prisma.tif"
    out.write_bytes(b"mine")
    command = ["import-scene", "--scene", str(product), "--out", str(out), "--quiet"]
    assert cli_main(command) == 2
    assert capsys.readouterr().err == (f"error: {out} already exists; pass --overwrite to replace it, or choose "
                                       "another --out\n")
    assert out.read_bytes() == b"mine"
    assert cli_main(command + ["--overwrite"]) == 0 and read_scene(out).cube.shape == (12, 4, 5)
    assert cli_main(["import-scene", "--scene", str(out), "--out", str(out), "--overwrite", "--quiet"]) == 2
    assert "is the file the scene is read from; choose another name" in capsys.readouterr().err
    assert cli_main(["import-scene", "--scene", str(product), "--out", str(tmp_path / "prisma.img")]) == 2
    assert "argument --out: the scene is written as GeoTIFF; name it prisma.tif" in capsys.readouterr().err
    broken = write_prisma(tmp_path / "broken.he5", drop=("SWIR_Cube",))
    assert cli_main(["import-scene", "--scene", str(broken), "--out", str(tmp_path / "broken.tif"), "--quiet"]) == 2
    assert "error: broken.he5 is a PRISMA L2D product, but Data Fields/SWIR_Cube is missing" in capsys.readouterr().err
    assert not (tmp_path / "broken.tif").exists()
    text = _help(capsys, "import-scene")
    for words in ("EnMAP L2A (DLR)", "-METADATA.XML", "EMIT L2A / L1B (NASA)", "geometry lookup table",
                  "PRISMA L2B/L2C/L2D (ASI)", "float32 GeoTIFF", "wavelength", "--overwrite replace an existing --out"):
        assert words in text, words


def test_the_help_gives_the_presets_sampling_defaults():
    """--guidance, --steps and --synthetic-per-class said "the preset's" without the numbers, which were in a bundle's
    config.json only; the help's numbers are the presets' own."""
    from hypersynth.core.cli.parser import build_parser
    from hypersynth.core.ldm.config import preset
    from hypersynth.core.methods import default_synthetic_per_class

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    helps = {a.dest: " ".join(a.help.split()) for a in sub["augment-classify"]._actions if a.help}
    fast, full, tiny = preset("fast").diffusion, preset("full").diffusion, preset("tiny").diffusion
    assert f"{fast.guidance:g} for fast and full, {tiny.guidance:g} for tiny" in helps["guidance"]
    assert full.guidance == fast.guidance
    assert f"{fast.sample_steps} for fast, {full.sample_steps} for full, {tiny.sample_steps} for tiny" in helps["steps"]
    assert (f"{default_synthetic_per_class('fast')} for fast, {default_synthetic_per_class('full')} for full, "
            f"{default_synthetic_per_class('tiny')} for tiny") in helps["synthetic_per_class"]


@pytest.mark.parametrize("command, said", [
    (["bench", "--datasets", "demo", "--prompts", "classes.json", "--class-field", "x"],
     "--prompts, --class-field apply to your own --scene and --truth"),
    (["bench", "--datasets", "demo", "--name", "mine"], "--name applies to your own --scene and --truth"),
    (["bench", "--datasets", "demo", "--json", "-"], "--json - : bench writes its JSON to a file as its runs finish"),
    (["demo", "--method", "rf", "--synthetic-weight", "3", "--guidance=7", "--out", "d"],
     "--synthetic-weight, --guidance apply to Augment & Classify (--method augment); the rf baseline does not use "
     "them: leave them out"),
    (["demo", "--method", "svm", "--patch-size", "5", "--out", "d"], "--patch-size applies to Augment & Classify"),
    (["baseline", "--scene", "s.tif", "--labels", "l.tif", "--out", "o", "--validation-field", "class"],
     "--validation-field names the class field of --validation's labels, and no --validation was given"),
    (["classify", "--classifier", "c", "--scene", "s.tif", "--out", "o", "--class-field", "class"],
     "--class-field names the class field of --validation's labels"),
    (["assess", "--map", "m.tif", "--validation", "v.gpkg", "--exclude-field", "class"],
     "--exclude-field names the class field of --exclude's labels, and no --exclude was given"),
    (["synthesize", "--synthesis-model", "model", "--class", "3", "--label", "5", "--out", "p.npz"],
     "--label names the class of --prompt's patches; --class N's patches are of class N"),
    (["sample-validation", "--map", "map.tif", "--out", "v.gpkg", "--per-class", "5", "--min-per-class", "3"],
     "--min-per-class applies to --total or --target-error"),
    (["sample-validation", "--map", "map.tif", "--out", "v.gpkg", "--total", "60", "--expected-accuracy", "0.9"],
     "--expected-accuracy sizes the sample for --target-error"),
    (["draw-labels", "--scene", "s.tif", "--truth", "t.tif", "--out", "l.gpkg", "--patch-size", "3"],
     "--patch-size sets how far the disjoint and no-overlap splits keep validation pixels from the labels"),
])
def test_an_option_the_command_would_not_use_is_refused(command, said, tmp_path, capsys, monkeypatch):
    """Each was accepted and dropped without a word (exit 0): --label beside --class, bench's --prompts without
    --scene, --min-per-class beside --per-class, … (review)."""
    monkeypatch.chdir(tmp_path)
    assert cli_main([*command, "--quiet"]) == 2
    assert f"error: {said}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
