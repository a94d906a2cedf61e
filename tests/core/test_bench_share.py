"""bench --share: the papers' protocol (a share of each class's labelled pixels) beside N labels per class, drawn as
draw-labels --share draws it, in rows whose JSON keeps its form for N and says the share where one was drawn."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from hypersynth.core import bench
from hypersynth.core.bench_tables import RunResult, bench_documents, merge_bench_files
from hypersynth.core.cli import main
from hypersynth.core.evaluation.protocol import share_split
from hypersynth.core.io.labels import read_labels
from hypersynth.core.io.read import read_scene

ROW_KEYS = ["dataset", "labels_per_class", "split", "method", "oa_mean", "oa_std", "aa_mean", "aa_std", "kappa_mean",
            "kappa_std", "seconds_mean", "seeds"]  # a row's keys, in order, as bench has always written them
RUN_KEYS = ["dataset", "labels_per_class", "split", "method", "seed", "oa", "aa", "kappa", "seconds", "n_train",
            "n_test", "choices", "blends", "notes"]


def _bench(scene_files, tmp_path, *options: str, name: str = "b") -> list[str]:
    """bench's arguments on the 32 × 32 test scene and its whole reference, the random forest, JSON + Markdown."""
    return ["bench", "--scene", str(scene_files["scene"]), "--truth", str(scene_files["truth"]), "--name", "dev",
            "--methods", "rf", "--quiet", "--json", str(tmp_path / f"{name}.json"),
            "--markdown", str(tmp_path / f"{name}.md"), *options]


def _reference(scene_files) -> tuple[np.ndarray, np.ndarray]:
    """The test scene's valid mask and its reference masked by it, as bench draws from them."""
    scene = read_scene(scene_files["scene"])
    truth, _ = read_labels(scene_files["truth"], scene)
    return scene.valid, np.where(scene.valid, truth, 0)


@pytest.mark.parametrize("split", ["random", "disjoint"])
def test_a_share_row_is_run_again_by_hand(scene_files, tmp_path, split, monkeypatch):
    """bench --share's SVM row and a baseline run on draw-labels --share's files, same seed: bench's own training and
    test pixels, and the same figures to the last digit."""
    import hypersynth.core.evaluation.protocol as protocol

    splits = []

    def kept(*args, **kwargs):  # bench's own split, as run_one draws it
        splits.append(share_split(*args, **kwargs))
        return splits[-1]

    monkeypatch.setattr(protocol, "share_split", kept)
    assert main(_bench(scene_files, tmp_path, "--methods", "svm", "--share", "5%", "--seeds", "2",
                       "--splits", split)) == 0
    monkeypatch.undo()
    assert len(splits) == 1 and splits[0].share == 0.05 and splits[0].test_mask.any()
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    bench_oa = next(r["oa_mean"] for r in rows if r["method"] == "svm")
    assert main(["draw-labels", "--scene", str(scene_files["scene"]), "--truth", str(scene_files["truth"]),
                 "--share", "5%", "--seed", "2", "--split", split, "--out", str(tmp_path / "t.gpkg"),
                 "--validation-out", str(tmp_path / "v.tif"), "--quiet"]) == 0
    scene = read_scene(scene_files["scene"])
    assert np.array_equal(read_labels(tmp_path / "t.gpkg", scene)[0], splits[0].train_labels())
    assert np.array_equal(read_labels(tmp_path / "v.tif", scene, min_classes=1)[0] > 0, splits[0].test_mask)
    assert main(["baseline", "--method", "svm", "--seed", "2", "--scene", str(scene_files["scene"]), "--labels",
                 str(tmp_path / "t.gpkg"), "--prompts", str(tmp_path / "t_classes.json"), "--validation",
                 str(tmp_path / "v.tif"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["oa"] == pytest.approx(bench_oa, abs=1e-12)


@pytest.mark.parametrize("options, counts, shares", [
    ([], [2, 5], []),  # the default N
    (["--share", "10%"], [], [0.1]),  # a share alone replaces it
    (["--share", "5%,10%,0.1"], [], [0.05, 0.1]),  # a comma list, percents and fractions, each once
    (["--labels-per-class", "3", "--share", "0.05"], [3], [0.05]),  # both, when both are given
])
def test_a_share_replaces_the_default_n_unless_both_are_given(options, counts, shares, monkeypatch):
    seen = {}

    def run_bench(datasets, labels_per_class, seeds, methods, splits, settings, **kwargs):
        seen.update(counts=labels_per_class, shares=kwargs["shares"])
        return []

    monkeypatch.setattr(bench, "run_bench", run_bench)
    main(["bench", "--datasets", "demo", "--seeds", "0", "--methods", "rf", "--splits", "random", "--quiet", *options])
    assert seen == {"counts": counts, "shares": shares}


@pytest.mark.parametrize("value", ["0", "100%", "1", "ten", ","])
def test_bench_refuses_a_share_it_cannot_draw(value, capsys):
    assert main(["bench", "--datasets", "demo", "--share", value]) == 2
    said = capsys.readouterr().err
    assert "argument --share: expected a share above 0 and below 100 %" in said
    assert ("did you mean 1%?" in said) == (value == "1")  # a bare whole number: a percent meant, likely


def test_a_bare_number_of_percent_is_asked_about():
    from hypersynth.core.bench_inputs import parse_share

    with pytest.raises(ValueError, match=r"got '5' \(a bare number is a fraction: did you mean 5%\?\)$"):
        parse_share("5")
    assert parse_share("0.05") == parse_share("5%") == 0.05


def test_share_rows_say_their_share_and_rows_of_n_keep_their_form(scene_files, tmp_path):
    assert main(_bench(scene_files, tmp_path, "--labels-per-class", "2", "--share", "10%", "--seeds", "0,1",
                       "--splits", "random")) == 0
    document = json.loads((tmp_path / "b.json").read_text())
    by_amount = {(r["labels_per_class"], r.get("share")): r for r in document["rows"]}
    assert set(by_amount) == {(2, None), (None, 0.1)}
    assert list(by_amount[2, None]) == ROW_KEYS  # byte for byte the form scripts read
    assert list(by_amount[None, 0.1]) == ROW_KEYS + ["share"] and by_amount[None, 0.1]["seeds"] == [0, 1]
    assert {tuple(run) for run in document["runs"]} == {tuple(RUN_KEYS), tuple(RUN_KEYS + ["share"])}
    assert all(run["n_train"] > 2 * 3 for run in document["runs"] if run.get("share"))  # 10 % of ~340 a class
    text = (tmp_path / "b.md").read_text()
    assert "| method | N=2: OA / AA / κ (%) | s / run | 10 %: OA / AA / κ (%) | s / run |" in text
    assert "Augment − best RF/SVM" not in text  # Augment & Classify did not run: no target table of "–" columns
    from hypersynth.core.bench_tables import BenchRow, target_table

    target = target_table([BenchRow(**row) for row in document["rows"]])  # its N column, as a bench with augment has
    assert "| dev | random | 2 |" in target and "| dev | random | 10 % |" in target
    assert "A column of a percent trained on that share of each class's labelled pixels" in text


def test_a_disjoint_share_says_how_many_test_pixels_are_left(scene_files, tmp_path, caplog):
    """At 10 % of each class no pixel of the small scene lies outside every 9 × 9 training patch: that draw is not
    run (it would have stopped the benchmark) and said; at 2 % some are left, and how many is said for each seed."""
    valid, reference = _reference(scene_files)
    left = share_split(reference, 0.02, 0, kind="disjoint", patch_size=9, valid=valid)
    untrained = int(((reference > 0) & ~left.train_mask).sum())
    tested = int(left.test_mask.sum())
    assert 0 < tested < untrained
    note = (f"{tested:,} of the {untrained:,} labelled pixels not drawn for training are left to test on; the other "
            f"{untrained - tested:,} lie inside the 9×9 training patches")
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert main(_bench(scene_files, tmp_path, "--share", "10%,2%", "--seeds", "0", "--splits", "disjoint")) == 0
    assert f"dev, disjoint split, 2 %, seed 0: {note}" in caplog.text
    assert "dev, disjoint split, 10 %, seed 0: no pixel to test on: 0 of the" in caplog.text
    document = json.loads((tmp_path / "b.json").read_text())
    assert [(r["share"], r["seeds"]) for r in document["rows"]] == [(0.02, [0])]
    assert document["runs"][0]["n_test"] == tested and note in document["runs"][0]["notes"]
    assert len(document["not_scored"]) == 1 and "10 %, seed 0: no pixel to test on" in document["not_scored"][0]
    text = (tmp_path / "b.md").read_text()
    assert f"- 2 %, seed 0: {note}" in text and "**Label draws: test pixels left, and draws not as asked**" in text
    assert "**Not run: label draws that left no pixel to test on**" in text
    assert main(_bench(scene_files, tmp_path, "--share", "10%", "--seeds", "0", "--splits", "disjoint",
                       name="none")) == 2  # nothing at all to score


def test_merge_takes_files_from_before_shares_beside_share_runs(scene_files, tmp_path):
    """A file of N runs has no share key (as files written before bench took a share); merged with share runs of the
    same dataset, split, method and seed, each keeps its own row."""
    assert main(_bench(scene_files, tmp_path, "--labels-per-class", "2", "--seeds", "0", "--splits", "random",
                       name="old")) == 0
    assert main(_bench(scene_files, tmp_path, "--share", "10%", "--seeds", "0", "--splits", "random",
                       name="new")) == 0
    old = json.loads((tmp_path / "old.json").read_text())
    assert all("share" not in record for record in old["rows"] + old["runs"])
    runs = merge_bench_files([str(tmp_path / "old.json"), str(tmp_path / "new.json")])
    assert sorted((r.labels_per_class or 0, r.share or 0.0) for r in runs) == [(0, 0.1), (2, 0.0)]
    assert main(["bench", "--merge", str(tmp_path / "old.json"), str(tmp_path / "new.json"),
                 "--json", str(tmp_path / "merged.json")]) == 0
    merged = json.loads((tmp_path / "merged.json").read_text())["rows"]
    assert [(r["labels_per_class"], r.get("share")) for r in merged] == [(2, None), (None, 0.1)]
    assert merged[0] == next(r for r in old["rows"])  # the row of N as its own file had it


def test_summary_keeps_n_and_share_apart_and_orders_the_columns():
    runs = [RunResult("demo", n, "random", "rf", seed, oa, 0.5, 0.4, 1.0, 6, 100, share=share)
            for n, share, oa in ((None, 0.05, 0.9), (5, None, 0.7), (None, 0.1, 0.95), (2, None, 0.6))
            for seed in (0, 1)]
    document, text = bench_documents(runs, "bin/hypersynth bench", "tiny")
    assert [(r["labels_per_class"], r.get("share"), r["oa_mean"]) for r in document["rows"]] == [
        (None, 0.05, 0.9), (5, None, 0.7), (None, 0.1, 0.95), (2, None, 0.6)]
    assert ("| method | N=2: OA / AA / κ (%) | s / run | N=5: OA / AA / κ (%) | s / run | 5 %: OA / AA / κ (%) | "
            "s / run | 10 %: OA / AA / κ (%) | s / run |") in text
    assert ("| Random forest (spectra) | 60.0 ± 0.0 / 50.0 / 40.0 | 1.0 | 70.0 ± 0.0 / 50.0 / 40.0 | 1.0 | "
            "90.0 ± 0.0 / 50.0 / 40.0 | 1.0 | 95.0 ± 0.0 / 50.0 / 40.0 | 1.0 |") in text


def test_a_cell_scored_on_few_test_pixels_says_how_few():
    """A share's disjoint split on SalinasA left 4 to 17 test pixels a seed: such a cell reads as an accuracy unless
    it says so."""
    runs = [RunResult("dev", None, "disjoint", "rf", seed, 1.0, 1.0, 1.0, 1.0, 534, n_test, share=0.1)
            for seed, n_test in ((0, 16), (1, 4))]
    runs += [RunResult("dev", None, "random", "rf", seed, 0.98, 0.98, 0.97, 1.0, 534, 4814, share=0.1)
             for seed in (0, 1)]
    _, text = bench_documents(runs, "bin/hypersynth bench", "fast")
    assert "| Random forest (spectra) | 100.0 ± 0.0 / 100.0 / 100.0 (†4 px) | 1.0 |" in text
    assert "| Random forest (spectra) | 98.0 ± 0.0 / 98.0 / 97.0 | 1.0 |" in text  # enough pixels: unmarked
    assert text.count("† some seed of the cell scored on fewer than 100 test pixels") == 1  # under its table only
