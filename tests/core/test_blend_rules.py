"""scripts/blend_rules.py: which blend each choice rule picks from the blends a benchmark run recorded."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from hypersynth.core.bench import RunResult

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
