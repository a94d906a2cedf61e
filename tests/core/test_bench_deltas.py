"""scripts/bench_deltas.py: per-seed OA differences between two sets of real ``bench --json`` runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hypersynth.core.cli import main as cli_main

from .test_quality_scripts import load_script


def test_per_seed_differences_of_two_methods_and_of_two_run_sets(tmp_path: Path, capsys) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path, seeds in ((first, "0,1"), (second, "1")):
        assert cli_main(["bench", "--datasets", "demo", "--labels-per-class", "2", "--seeds", seeds,
                         "--methods", "rf,svm", "--splits", "random", "--quiet", "--json", str(path)]) == 0
    runs = {(r["method"], r["seed"]): r["oa"] for r in json.loads(first.read_text())["runs"]}
    script = load_script("bench_deltas")
    capsys.readouterr()  # the bench's own printout
    assert script.main(["--a", str(first), "--a-method", "svm", "--b-method", "rf"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    expected = [(runs[("svm", s)] - runs[("rf", s)]) * 100 for s in (0, 1)]
    assert row.startswith("| demo | random | 2 | ") and f"s0 {expected[0]:+.1f}, s1 {expected[1]:+.1f}" in row
    assert f"| {sum(expected) / 2:+.2f} |" in row
    import math

    sd = abs(expected[0] - expected[1]) / math.sqrt(2)  # two seeds: the sample sd of two numbers
    half = 12.706205 * sd / math.sqrt(2)  # the t quantile at 1 degree of freedom
    mean = sum(expected) / 2
    assert f"| {sd:.2f} | {mean - half:+.2f} … {mean + half:+.2f} |" in row
    script.main(["--a", str(first), "--a-method", "rf", "--b", str(second), "--b-method", "rf"])
    row = capsys.readouterr().out.splitlines()[2]
    assert "s1 +0.0 |" in row and "s0" not in row  # only the seed both sets ran; the same seed, the same forest
    assert "| +0.00 | – | – |" in row  # one seed: no spread
    third = tmp_path / "c.json"  # the same setting on another seed: nothing to pair (review: ZeroDivisionError)
    assert cli_main(["bench", "--datasets", "demo", "--labels-per-class", "2", "--seeds", "5", "--methods", "rf",
                     "--splits", "random", "--quiet", "--json", str(third)]) == 0
    capsys.readouterr()
    assert script.main(["--a", str(second), "--a-method", "rf", "--b", str(third), "--b-method", "rf"]) == 0
    assert "| demo | random | 2 | no seed in common | – |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no file matches"):
        script.main(["--a", str(tmp_path / "none_*.json"), "--a-method", "rf", "--b-method", "svm"])
