"""scripts/blend_rules.py: which blend each choice rule picks from the blends a benchmark run recorded."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from hypersynth.core.bench_tables import RunResult

from .test_quality_scripts import load_script


def _blend(c: float, d: float, cv: float, loss: float, oa: float) -> dict[str, float]:
    return {"cnn_weight": c, "dfeat_weight": d, "cv_balanced_accuracy": cv, "cv_log_loss": loss, "oa": oa}


def _run(seed: int, blends: list[dict[str, float]]) -> RunResult:
    return RunResult("dev", 5, "random", "augment", seed, 0.5, 0.5, 0.4, 1.0, 30, 100, {}, blends)


def test_each_rule_picks_its_blend_and_is_compared_with_the_shipped_one(tmp_path: Path, capsys) -> None:
    script = load_script("blend_rules")
    blends = [_blend(0.0, 0.0, 0.70, 0.90, 0.60),   # the forest alone
              _blend(0.5, 0.25, 0.74, 1.10, 0.50),  # the most even: ties with (1, 0) on accuracy, goes first
              _blend(1.0, 0.0, 0.74, 0.95, 0.55),
              _blend(0.25, 0.0, 0.72, 0.80, 0.65)]  # the lowest log-loss
    assert script.shipped(blends)["oa"] == 0.50
    assert script.lowest_log_loss(blends)["oa"] == 0.65
    assert script.accuracy_then_log_loss(blends)["oa"] == 0.55
    assert script.forest_unless_beaten(0.05)(blends)["oa"] == 0.60  # nothing beats the forest's 0.70 by 0.05
    assert script.forest_unless_beaten(0.03)(blends)["oa"] == 0.50  # 0.74 does: the shipped rule among those
    assert script.dfeat_at_most(0.25)(blends)["oa"] == 0.50  # the most even blend has a share of 1/4
    assert script.dfeat_at_most(0.0)(blends)["oa"] == 0.55  # without the member: (1, 0) has the best CV score
    path = tmp_path / "dev.json"
    other = [dict(b, oa=b["oa"] - 0.1) for b in blends]  # seed 1: every blend 10 points lower
    path.write_text(json.dumps({"runs": [asdict(_run(0, blends)), asdict(_run(1, other)),
                                         asdict(_run(2, []))]}))  # a run without records is left out
    capsys.readouterr()
    assert script.main([str(path), "--margin", "0.05"]) == 0
    table = capsys.readouterr().out.splitlines()
    rows = {line.split(" | ")[3]: line for line in table[2:]}
    assert "| 45.0 | +0.0 | s0 50.0: 0.5/0.25, s1 40.0: 0.5/0.25 |" in rows["shipped"]
    assert "| 60.0 | +15.0 |" in rows["log-loss"] and "| 60.0 | +15.0 |" in rows["best on the test pixels"]
    assert "| 55.0 | +10.0 |" in rows["forest unless beaten by 0.05"] and "s2" not in table[-1]


def test_unseen_scene_records_are_read_as_runs(tmp_path: Path, capsys) -> None:
    script = load_script("blend_rules")
    blends = [_blend(0.0, 0.0, 0.70, 0.90, 0.60), _blend(0.5, 0.25, 0.74, 1.10, 0.50)]
    pooled = {"oa": 0.5, "aa": 0.45, "kappa": 0.4, "n_test": 1206}
    several = {"meta": {"seed": 0, "seeds": [0, 1], "labels_per_class": 5},
               "results_per_seed": {"0": [{"method": "augment", "seconds": 9.0, "unseen_pooled": pooled,
                                           "blends": blends}],
                                    "1": [{"method": "rf", "seconds": 1.0, "unseen_pooled": pooled}]}}
    one = {"meta": {"seed": 3, "seeds": [3], "labels_per_class": 2},
           "results": [{"method": "augment", "seconds": 9.0, "unseen_pooled": pooled, "blends": blends}]}
    (tmp_path / "n5.json").write_text(json.dumps(several))
    (tmp_path / "n2.json").write_text(json.dumps(one))
    runs = script.read_runs([str(tmp_path / "n5.json"), str(tmp_path / "n2.json")])
    assert sorted((r.labels_per_class, r.method, r.seed, len(r.blends)) for r in runs) == [
        (2, "augment", 3, 2), (5, "augment", 0, 2), (5, "rf", 1, 0)]
    assert {(r.dataset, r.split) for r in runs} == {("enmap_unseen_tiles", "unseen")}
    capsys.readouterr()
    assert script.main([str(tmp_path / "*.json")]) == 0
    table = capsys.readouterr().out
    assert "| enmap_unseen_tiles | unseen | 2 | log-loss | 60.0 | +10.0 |" in table
