"""The reliability table: the validation pixels binned by the map's confidence, how often each bin is right."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.core.evaluation.metrics import evaluate
from hypersynth.core.evaluation.reliability import ConfidenceReliability
from hypersynth.core.scene import ClassInfo


def test_pixels_fall_in_their_bins_with_the_last_holding_a_confidence_of_one():
    confidence = np.array([0.2, 0.49, 0.5, 0.55, 0.95, 1.0, 1.0, 0.7])
    right = np.array([False, True, False, True, True, True, True, False])
    table = ConfidenceReliability.from_pixels(confidence, right)
    assert table.rows() == [(0.0, 0.5, 2, 1, pytest.approx(0.345)), (0.5, 0.6, 2, 1, pytest.approx(0.525)),
                            (0.7, 0.8, 1, 0, pytest.approx(0.7)), (0.9, 1.0, 3, 3, pytest.approx(0.9833333))]
    rows = table.to_dict()
    assert [r["pixels"] for r in rows] == [2, 2, 1, 3] and rows[-1]["accuracy"] == 1.0
    lines = table.markdown()
    assert lines[2] == "| confidence | validation pixels | mapped right | right (%) | mean confidence |"
    assert lines[4] == "| [0.0, 0.5) (2 pixels: too few to read) | 2 | 1 | 50.0 | 0.34 |"
    assert lines[-1] == "| [0.9, 1.0] (3 pixels: too few to read) | 3 | 3 | 100.0 | 0.98 |"
    assert "(not a random sample of the map: a guide to it)" in lines[0]
    stratified = table.markdown(stratified=True)[0]  # a sample's points over-represent small classes (review)
    assert "(not a random sample" not in stratified and "a guide to the map, not an estimate" in stratified


@pytest.mark.parametrize("right, verdict", [
    (0.98, "Here the map is under-confident: right on 98.0 % of these pixels where its confidence averages 0.75"),
    (0.50, "Here the map is over-confident: right on 50.0 % of these pixels where its confidence averages 0.75"),
    (0.76, "Here the confidence reads about as the chance of being right: right on 76.0 %"),
])
def test_the_table_says_whether_the_map_is_surer_or_less_sure_than_its_confidence(right, verdict):
    confidence = np.full(100, 0.75)
    table = ConfidenceReliability.from_pixels(confidence, np.arange(100) < round(100 * right))
    assert table.verdict().startswith(verdict) and verdict in table.markdown()[0]


def test_a_row_with_a_pixel_wrong_is_never_said_all_right():
    table = ConfidenceReliability.from_pixels(np.full(3470, 0.85), np.arange(3470) > 0)  # 3469 of 3470
    assert table.markdown()[-1] == "| [0.8, 0.9) | 3470 | 3469 | > 99.9 | 0.85 |"


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="must be \\(N,\\) alike"):
        ConfidenceReliability.from_pixels(np.zeros(3), np.zeros(4, bool))


def test_an_evaluation_with_the_table_writes_it_in_its_json_and_its_markdown():
    classes = [ClassInfo(1, "water"), ClassInfo(2, "road")]
    ev = evaluate(np.array([1, 1, 2, 2]), np.array([1, 2, 2, 2]), classes)
    assert "accuracy_by_confidence" not in ev.to_dict() and "| confidence |" not in ev.tables_markdown()
    ev.by_confidence = ConfidenceReliability.from_pixels(np.array([0.9, 0.4, 0.8, 0.95]),
                                                         np.array([True, False, True, True]))
    assert sum(r["pixels"] for r in ev.to_dict()["accuracy_by_confidence"]) == ev.n_test
    assert "| [0.9, 1.0] (2 pixels: too few to read) | 2 | 2 | 100.0 | 0.93 |" in ev.tables_markdown()


def test_a_float32_confidence_on_an_edge_falls_in_the_row_it_opens():
    """float32 0.7 and 0.9 (a forest's votes of 500) are 0.69999999 and 0.89999998 as float64: they fell in the row
    below (review)."""
    table = ConfidenceReliability.from_pixels(np.float32([0.7, 0.7, 0.9, 0.9, 0.6, 0.8]), np.ones(6, bool))
    assert [(low, n) for low, _, n, _, _ in table.rows()] == [(0.6, 1), (0.7, 2), (0.8, 1), (0.9, 2)]



def test_rows_that_disagree_are_said_to_rather_than_averaged_away():
    """Pooled, a row right more often than its confidence and one less often cancelled: "reads about as the chance"
    (review)."""
    confidence = np.r_[np.full(100, 0.55), np.full(100, 0.95)]
    right = np.r_[np.arange(100) < 81, np.arange(100) < 66]  # 81 % at 0.55, 66 % at 0.95
    assert ConfidenceReliability.from_pixels(confidence, right).verdict().startswith(
        "Here the map is under-confident in some rows and over-confident in others")
