"""How rules for choosing the blend's shares would have scored, from the blends a benchmark recorded.

Every blend run of ``bench --json`` (since session 16) lists each blend the labels' cross-validation scored: its
shares, its CV balanced accuracy and log-loss, and its OA on the test pixels before smoothing. This prints, per
dataset × split × N, the mean test OA (and each seed's) of the blend each rule would have chosen:

- ``shipped``: the highest CV balanced accuracy, ties to the most even blend (what the product does);
- ``log-loss``: the lowest CV log-loss;
- ``accuracy, then log-loss``: the highest CV balanced accuracy, ties to the lowest log-loss;
- ``forest unless beaten by M``: the forest alone unless a blend's CV balanced accuracy beats the forest's by at
  least ``--margin`` (then the shipped rule among those);
- ``diffusion-feature share ≤ ¼`` and ``no diffusion-feature SVM``: the shipped rule among the blends whose
  diffusion-feature share is at most ¼, or 0 (the blend without that member, as ``--no-diffusion-features`` would
  choose it from the same folds);
- ``forest alone``, ``most even`` (fixed blends, no CV), and ``best on the test pixels`` (the ceiling any rule could
  reach; no rule can know it).

Run it on a **development scene** (``bench --scene``): a rule read off a benchmark's own test pixels would be
tuned on them. The shipped OA column is the run's blend row (``augment:blend``) recomputed, a check on the records.
It also reads ``scripts/unseen_scenes.py`` JSON (since session 17 its blends record every blend the CV scored, judged
on the unseen tiles): those rows are dataset ``enmap_unseen_tiles``, split ``unseen``.

    .venv/bin/python scripts/blend_rules.py 'docs/bench/dev16_N*_s*.json' --method augment --margin 0.05
    .venv/bin/python scripts/blend_rules.py docs/unseen/session17_N5/unseen_scenes.json --method augment
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from hypersynth.core.bench_tables import RunResult, amount_order, column_amount, merge_bench_files
from hypersynth.core.classify.ensemble import candidate_blends, choose_shares, most_even_best

Blend = dict[str, float]
FOREST = (0.0, 0.0)  # (CNN share of the pair, diffusion-feature share): the forest alone


def _key(blend: Blend) -> tuple[float, float]:
    return float(blend["cnn_weight"]), float(blend["dfeat_weight"])


def _evenness_order(blends: list[Blend]) -> list[Blend]:
    """The blends in the product's tie order (the most even first; :func:`candidate_blends`)."""
    order = {key: i for i, key in enumerate(candidate_blends(any(_key(b)[1] > 0 for b in blends)))}
    return sorted(blends, key=lambda b: order.get(_key(b), len(order)))


def shipped(blends: list[Blend]) -> Blend:
    """The highest CV balanced accuracy, ties to the most even blend: the product's own rule."""
    by_key = {_key(b): b for b in _evenness_order(blends)}
    return by_key[most_even_best({k: b["cv_balanced_accuracy"] for k, b in by_key.items()}, list(by_key))]


def lowest_log_loss(blends: list[Blend]) -> Blend:
    """The lowest CV log-loss, ties to the most even blend: the product's "log-loss" share rule."""
    by_key = {_key(b): b for b in _evenness_order(blends)}
    return by_key[choose_shares("log-loss", {k: b["cv_balanced_accuracy"] for k, b in by_key.items()},
                                {k: b["cv_log_loss"] for k, b in by_key.items()}, list(by_key))]


def accuracy_then_log_loss(blends: list[Blend]) -> Blend:
    """The highest CV balanced accuracy, ties to the lowest CV log-loss."""
    best = max(b["cv_balanced_accuracy"] for b in blends)
    return lowest_log_loss([b for b in blends if b["cv_balanced_accuracy"] >= best - 1e-12])


def forest_unless_beaten(margin: float) -> Callable[[list[Blend]], Blend]:
    """The forest alone unless another blend's CV balanced accuracy is at least ``margin`` higher."""
    def rule(blends: list[Blend]) -> Blend:
        forest = next((b for b in blends if _key(b) == FOREST), None)
        if forest is None:
            return shipped(blends)
        better = [b for b in blends if b["cv_balanced_accuracy"] >= forest["cv_balanced_accuracy"] + margin]
        return shipped(better) if better else forest
    return rule


def dfeat_at_most(limit: float) -> Callable[[list[Blend]], Blend]:
    """The shipped rule among the blends whose diffusion-feature share is at most ``limit``."""
    return lambda blends: shipped([b for b in blends if _key(b)[1] <= limit + 1e-12])


def fixed(key: Optional[tuple[float, float]]) -> Callable[[list[Blend]], Blend]:
    """Always the blend ``key`` (None: the most even one the CV scored)."""
    return lambda blends: (_evenness_order(blends)[0] if key is None
                           else next(b for b in blends if _key(b) == key))


def rules(margin: float) -> dict[str, Callable[[list[Blend]], Blend]]:
    """The rules compared, by the name the table shows."""
    return {"shipped": shipped, "log-loss": lowest_log_loss, "accuracy, then log-loss": accuracy_then_log_loss,
            f"forest unless beaten by {margin:g}": forest_unless_beaten(margin),
            "diffusion-feature share ≤ ¼": dfeat_at_most(0.25), "no diffusion-feature SVM": dfeat_at_most(0.0),
            "forest alone": fixed(FOREST),
            "most even": fixed(None), "best on the test pixels": lambda blends: max(blends, key=lambda b: b["oa"])}


def rule_table(runs: list[RunResult], method: str, margin: float) -> str:
    """Markdown: a row per dataset × split × N × rule with the chosen blends' mean test OA and each seed's."""
    recorded = [r for r in runs if r.method == method and r.blends]
    if not recorded:
        raise SystemExit(f"no {method!r} run with recorded blends (bench writes them since session 16)")
    lines = ["| dataset | split | N | rule | mean OA | − shipped | per seed (OA %: chosen c/d) |",
             "|---|---|---|---|---|---|---|"]
    def cell_of(r: RunResult) -> tuple:  # every N first, then each share
        return r.dataset, r.split, amount_order(r.labels_per_class, r.share)

    for setting in sorted({cell_of(r) for r in recorded}):
        cell = sorted((r for r in recorded if cell_of(r) == setting), key=lambda r: r.seed)
        base = np.mean([shipped(r.blends)["oa"] for r in cell]) * 100
        for name, rule in rules(margin).items():
            chosen = [rule(r.blends) for r in cell]
            mean = np.mean([b["oa"] for b in chosen]) * 100
            seeds = ", ".join(f"s{r.seed} {b['oa'] * 100:.1f}: {b['cnn_weight']:g}/{b['dfeat_weight']:g}"
                              for r, b in zip(cell, chosen))
            is_share, n, share = setting[2]
            amount = column_amount(n or None, share if is_share else None, "{}")
            lines.append(f"| {setting[0]} | {setting[1]} | {amount} | {name} | {mean:.1f} | {mean - base:+.1f} "
                         f"| {seeds} |")
    return "\n".join(lines)


def unseen_runs(data: dict[str, Any]) -> list[RunResult]:
    """The runs of an ``unseen_scenes.py`` JSON (one seed or several) as bench runs: dataset
    ``enmap_unseen_tiles``, split ``unseen``, OA pooled over the unseen tiles, ``blends`` as recorded."""
    meta = data["meta"]
    per_seed = data.get("results_per_seed") or {str(meta["seed"]): data["results"]}
    runs = []
    for seed, results in per_seed.items():
        for r in results:
            pooled = r["unseen_pooled"]
            runs.append(RunResult("enmap_unseen_tiles", int(meta["labels_per_class"]), "unseen", r["method"], int(seed),
                                  pooled["oa"], pooled["aa"], pooled["kappa"], r["seconds"], 0, pooled["n_test"],
                                  blends=r.get("blends", [])))
    return runs


def read_runs(paths: list[str]) -> list[RunResult]:
    """``bench --json`` files (merged as bench merges them) and ``unseen_scenes.py`` JSON files."""
    unseen, bench = [], []
    for path in paths:
        data = json.loads(Path(path).read_text())
        (unseen if isinstance(data, dict) and "meta" in data and "runs" not in data else bench).append((path, data))
    return (merge_bench_files([path for path, _ in bench]) if bench else []) + [
        run for _, data in unseen for run in unseen_runs(data)]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="bench --json or unseen_scenes.py JSON files (globs allowed)")
    parser.add_argument("--method", default="augment", help="the blended method (default augment)")
    parser.add_argument("--margin", type=float, default=0.05,
                        help="CV balanced accuracy a blend needs above the forest's to replace it (default 0.05)")
    args = parser.parse_args(argv)
    paths = sorted({p for pattern in args.files for p in glob.glob(pattern)})
    if not paths:
        raise SystemExit(f"no file matches {args.files}")
    print(rule_table(read_runs(paths), args.method, args.margin))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
