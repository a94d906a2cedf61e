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
