"""The benchmark's Markdown tables say what their columns hold; its JSON keeps the keys scripts read."""

from __future__ import annotations

from hypersynth.core.bench_tables import RunResult, bench_documents


def test_bench_tables_say_the_seconds_are_per_run_and_the_json_keeps_its_keys():
    runs = [RunResult("demo", 2, "random", "rf", seed, 0.8, 0.7, 0.6, seconds, 6, 100)
            for seed, seconds in ((0, 2.0), (1, 4.0))]
    document, text = bench_documents(runs, "bin/hypersynth bench", "tiny")
    assert "| method | N=2: OA / AA / κ (%) | s / run |" in text and "| 80.0 ± 0.0 / 70.0 / 60.0 | 3.0 |" in text
    assert "s / run: the seconds one run took" in text
    assert document["rows"][0]["seconds_mean"] == 3.0 and "s / run" not in str(document)


def test_a_fast_methods_seconds_keep_two_figures_and_no_target_table_without_augment():
    """An SVM's 0.023 s showed as 0.0; a bench of RF and SVM only had a target table of "–" columns."""
    runs = [RunResult("demo", 2, "random", method, 0, 0.8, 0.7, 0.6, seconds, 6, 100)
            for method, seconds in (("rf", 1.24), ("svm", 0.023))]
    _, text = bench_documents(runs, "bin/hypersynth bench", "tiny")
    assert "| SVM (spectra) | 80.0 ± 0.0 / 70.0 / 60.0 | 0.023 |" in text
    assert "| Random forest (spectra) | 80.0 ± 0.0 / 70.0 / 60.0 | 1.2 |" in text
    assert "Augment − best RF/SVM" not in text
    with_augment = runs + [RunResult("demo", 2, "random", "augment", 0, 0.9, 0.8, 0.7, 95.0, 6, 100)]
    assert "Augment − best RF/SVM" in bench_documents(with_augment, "bin/hypersynth bench", "tiny")[1]
