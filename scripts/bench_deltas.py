"""Per-seed OA differences between two sets of benchmark runs (two designs, or a method against a baseline).

The merged tables give means over seeds; whether a design change helps shows in how each seed moved. This
prints, per dataset × split × N, each seed's OA difference ``A − B`` in points, their mean, sample sd and the 95 %
t-interval of the mean (the seeds pair the runs: the same labels), where A and B are a method in two sets of
``bench --json`` files (or two methods in one set), and what each A run's labels chose.

    .venv/bin/python scripts/bench_deltas.py --a 'docs/bench/cell_s9_*.json' --a-method augment \\
        --b 'docs/bench/cell_enmap_potsdam_N*_s*.json' 'docs/bench/cell_salinasA_N*_s*.json' --b-method augment

``--b`` defaults to ``--a`` (compare two methods of the same runs, e.g. ``--b-method rf``).
"""

from __future__ import annotations

import argparse
import glob
import sys

from hypersynth.core.bench_tables import RunResult, amount_order, column_amount, merge_bench_files


SHORT = {"cnn_weight": "c", "dfeat_weight": "d", "smoothing": "σ", "pseudo_labels": "pl",
         "pseudo_classes": "in"}  # the choices' names in the table


def runs_of(patterns: list[str], method: str) -> dict[tuple, RunResult]:
    """``{(dataset, split, amount, seed): run}`` of ``method`` in the files the glob ``patterns`` match (amount: N
    labels a class or a share of each class, as ``amount_order`` sorts them)."""
    paths = sorted({p for pattern in patterns for p in glob.glob(pattern)})
    if not paths:
        raise SystemExit(f"no file matches {patterns}")
    return {(r.dataset, r.split, amount_order(r.labels_per_class, r.share), r.seed): r
            for r in merge_bench_files(paths) if r.method == method}


def paired_spread(diffs: list[float]) -> tuple[float, float]:
    """``(sd, half-width)``: the sample standard deviation (n − 1) of paired per-seed differences and the half-width
    of the 95 % t-interval of their mean (n − 1 degrees of freedom); NaN for one seed. scipy's t quantile: the
    interval over 5 seeds is 2.78 standard errors wide on each side, not the normal 1.96."""
    import math

    from scipy import stats

    n = len(diffs)
    if n < 2:
        return math.nan, math.nan
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    return sd, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def delta_table(a: dict[tuple, RunResult], b: dict[tuple, RunResult], title: str) -> str:
    """Markdown: one row per dataset × split × N with each common seed's ``A − B`` (OA points), the mean, the paired
    differences' sample sd and the 95 % t-interval of the mean (the seeds are paired: the same labels for A and B)."""
    lines = [f"| dataset | split | N | {title}, per seed (OA points) | mean | sd (paired, n − 1) | 95 % CI of the "
             "mean (t) | A's choices per seed (c: CNN share of the pair, d: diffusion-feature share, σ: smoothing, "
             "pl … in: pseudo-labels drawn in that many classes) |", "|---|---|---|---|---|---|---|---|"]
    for setting in sorted({k[:3] for k in a} & {k[:3] for k in b}):
        seeds = sorted(k[3] for k in a if k[:3] == setting and k in b)
        if not seeds:  # both measured the setting, on other seeds: nothing to pair (review: ZeroDivisionError)
            lines.append(f"| {setting[0]} | {setting[1]} | "
                         f"{column_amount(setting[2][1], setting[2][2] if setting[2][0] else None, '{}')} | no "
                         "seed in common | – | – | – | – |")
            continue
        diffs = [(a[setting + (s,)].oa - b[setting + (s,)].oa) * 100 for s in seeds]
        choices = "; ".join(" ".join(f"{SHORT.get(k, k)} {v:g}" for k, v in a[setting + (s,)].choices.items()) or "–"
                            for s in seeds)
        per_seed = ", ".join(f"s{s} {d:+.1f}" for s, d in zip(seeds, diffs))
        amount = column_amount(setting[2][1], setting[2][2] if setting[2][0] else None, "{}")
        mean = sum(diffs) / len(diffs)
        sd, half = paired_spread(diffs)
        spread = ("–", "–") if sd != sd else (f"{sd:.2f}", f"{mean - half:+.2f} … {mean + half:+.2f}")
        lines.append(f"| {setting[0]} | {setting[1]} | {amount} | {per_seed} | {mean:+.2f} | {spread[0]} | "
                     f"{spread[1]} | {choices} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", nargs="+", required=True, metavar="GLOB", help="bench --json files of set A")
    parser.add_argument("--a-method", required=True, help="the method (or member row, e.g. augment:dfeat) of A")
    parser.add_argument("--b", nargs="+", metavar="GLOB", help="files of set B (default: those of A)")
    parser.add_argument("--b-method", required=True, help="the method of B")
    args = parser.parse_args(argv)
    a, b = runs_of(args.a, args.a_method), runs_of(args.b or args.a, args.b_method)
    print(delta_table(a, b, f"{args.a_method} (A) − {args.b_method} (B)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
