"""The benchmark's records and what it writes of them: runs, seed-mean rows, the JSON document, the Markdown tables."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from .label_draw import share_percent
from .memory import cgroup_memory_limit
from .methods import method_title
from .version import code_revision

FEW_TEST_PIXELS = 100  # a table cell scored on fewer test pixels in some seed is marked (markdown_tables)


@dataclass
class RunResult:
    """One method on one dataset, one N (or share), one seed, one split."""

    dataset: str
    labels_per_class: Optional[int]  # N; None when the draw took a share of each class
    split: str  # "random", "disjoint" or "no-overlap" (evaluation.protocol.SPLIT_KINDS)
    method: str
    seed: int
    oa: float
    aa: float
    kappa: float
    seconds: float  # training + prediction of the test pixels
    n_train: int
    n_test: int
    choices: dict[str, float] = field(default_factory=dict)  # CNN share, smoothing σ (the labels chose), pseudo-labels
    # Every blend the labels' CV scored (shares, CV balanced accuracy and log-loss) with its OA on the test pixels
    # before smoothing: for studying the choice rule on a development scene (bench --scene); a rule picked from a
    # benchmark's own test pixels would be tuned on them. Empty for other methods and member rows.
    blends: list[dict[str, float]] = field(default_factory=list)
    # What the label draw could not do as asked (a class with N or fewer labelled pixels trains on fewer, a class
    # left with no test pixel): a table cell built on it does not measure what its N says; on a disjoint split with a
    # share, how many test pixels the training patches left
    notes: list[str] = field(default_factory=list)
    share: Optional[float] = None  # the share of each class drawn instead of N (0.1: 10 %); not in the JSON when None


@dataclass
class BenchRow:
    """Mean ± std over seeds; the JSON interface scripts depend on (keep field names stable)."""

    dataset: str
    labels_per_class: Optional[int]  # N; None (null) in a row of a share
    split: str
    method: str
    oa_mean: float
    oa_std: float
    aa_mean: float
    aa_std: float
    kappa_mean: float
    kappa_std: float
    seconds_mean: float
    seeds: list[int] = field(default_factory=list)
    share: Optional[float] = None  # the share of each class drawn instead of N (0.1: 10 %); not in the JSON when None


def json_record(result: RunResult | BenchRow) -> dict[str, Any]:
    """A run or row as the JSON holds it: ``share`` only where the draw took one, so the records of N labels per class
    keep the form they always had."""
    record = asdict(result)
    if record["share"] is None:
        del record["share"]
    return record


def amount_order(n: Optional[int], share: Optional[float]) -> tuple[bool, int, float]:
    """A sort key for how much of each class draws took: every N first (ascending), then every share."""
    return share is not None, n or 0, share or 0.0


def column_amount(n: Optional[int], share: Optional[float], n_form: str = "N = {}") -> str:
    """How much of each class a draw took, as the tables and the log say it: ``n_form`` with N ("N = 5"), or the
    share as a percent ("10 %")."""
    return n_form.format(n) if share is None else f"{share_percent(share)} %"


def machine_description() -> str:
    """CPU model, cores, memory and GPU (if any), for the benchmark tables."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    limit = cgroup_memory_limit()  # a container's or batch job's limit: what the run could use
    if mem and limit is not None and limit < kb * 1024:
        mem += f" (limited to {limit / 2**30:.1f} GiB by its cgroup)"
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores  # a batch job's share
    cores_text = f"{cores} core{'' if cores == 1 else 's'}"
    if cores and usable < cores:
        cores_text = f"{usable} of {cores} cores"
    return f"{cpu}, {cores_text}{mem}{gpu}"


def summarize_runs(runs: list[RunResult]) -> list[BenchRow]:
    """Group runs by (dataset, N or share, split, method) and take mean ± std over seeds."""
    groups: dict[tuple, list[RunResult]] = {}
    for r in runs:
        groups.setdefault((r.dataset, r.labels_per_class, r.share, r.split, r.method), []).append(r)
    rows = []
    for (d, n, share, s, m), rs in groups.items():
        def ms(attr: str) -> tuple[float, float]:
            v = np.array([getattr(r, attr) for r in rs], dtype=float)
            return float(v.mean()), float(v.std())  # population std (ddof 0) over the seeds, as the tables say
        oa, aa, k = ms("oa"), ms("aa"), ms("kappa")
        rows.append(BenchRow(d, n, s, m, oa[0], oa[1], aa[0], aa[1], k[0], k[1], ms("seconds")[0],
                             sorted(r.seed for r in rs), share))
    return rows


def markdown_tables(rows: list[BenchRow], machine: str, command: str, runs: Sequence[RunResult] = ()) -> str:
    """One table per dataset × split: methods as rows, N (then each share) as column groups; under it, what the
    ``runs``' label draws could not do as asked. A cell some seed of which scored on fewer than
    :data:`FEW_TEST_PIXELS` test pixels is marked with the fewest (a share's disjoint split on a small scene)."""
    shares = any(r.share is not None for r in rows)
    fewest: dict[tuple, int] = {}  # (dataset, split, N, share, method) -> the fewest test pixels a seed scored on
    for run in runs:
        key = (run.dataset, run.split, run.labels_per_class, run.share, run.method)
        fewest[key] = min(fewest.get(key, run.n_test), run.n_test)
    out = [f"Machine: {machine}", "", f"Command: `{command}`", "",
           "OA is the mean over the seeds ± its standard deviation over them (population, ddof 0); AA and κ are "
           "means. s / run: the seconds one run took (training and predicting the test pixels, with the synthesis "
           "model's training where the method uses one), mean over the seeds."
           + (" A column of a percent trained on that share of each class's labelled pixels (rounded, at least one) "
              "instead of N labels per class." if shares else ""), ""]
    for dataset in dict.fromkeys(r.dataset for r in rows):
        for split in dict.fromkeys(r.split for r in rows if r.dataset == dataset):
            sel = [r for r in rows if r.dataset == dataset and r.split == split]
            amounts = sorted({(r.labels_per_class, r.share) for r in sel}, key=lambda a: amount_order(*a))
            out += [f"### {dataset}, {split} split", "",
                    "| method | " + " | ".join(f"{column_amount(n, share, 'N={}')}: OA / AA / κ (%) | s / run"
                                             for n, share in amounts) + " |",
                    "|---|" + "---|---|" * len(amounts)]
            for method in dict.fromkeys(r.method for r in sel):
                cells = []
                for amount in amounts:
                    r = next((x for x in sel if x.method == method and (x.labels_per_class, x.share) == amount),
                             None)
                    few = fewest.get((dataset, split, *amount, method), FEW_TEST_PIXELS)
                    cells.append("–" if r is None else
                                 f"{r.oa_mean * 100:.1f} ± {r.oa_std * 100:.1f} / {r.aa_mean * 100:.1f} / "
                                 f"{r.kappa_mean * 100:.1f}" + (f" (†{few} px)" if few < FEW_TEST_PIXELS else ""))
                    cells.append("–" if r is None else seconds_cell(r.seconds_mean))
                out.append(f"| {method_title(method)} | " + " | ".join(cells) + " |")
            out.append("")
            if any(few < FEW_TEST_PIXELS for (d, sp, *_), few in fewest.items() if (d, sp) == (dataset, split)):
                out += [f"† some seed of the cell scored on fewer than {FEW_TEST_PIXELS} test pixels (the fewest "
                        f"given): a count of a few pixels, not an accuracy to compare.", ""]
            out += draw_notes([r for r in runs if r.dataset == dataset and r.split == split])
    return "\n".join(out)


def seconds_cell(seconds: float) -> str:
    """A run's seconds for a table: a tenth of a second, two figures under it (an SVM's 0.023 s is no 0.0)."""
    return f"{seconds:.1f}" if seconds >= 0.1 else f"{seconds:.2g}" if seconds >= 0.001 else "< 0.001"


def draw_notes(runs: Sequence[RunResult]) -> list[str]:
    """Markdown lines for what the label draws could not do as asked, and on a disjoint split with a share how many
    test pixels it left, once per N (or share) and seed (empty when none)."""
    said = dict.fromkeys((r.labels_per_class, r.share, r.seed, note) for r in runs for note in r.notes)
    if not said:
        return []
    heading = ("**Label draws not as asked** (these cells do not measure N labels per class):"
               if all(share is None for _, share, _, _ in said) else
               "**Label draws: test pixels left, and draws not as asked** (a share's disjoint split tests only the "
               "pixels outside every training patch; a cell whose draw was not as asked does not measure quite what "
               "its N or share says):")
    return ([heading, ""] + [f"- {column_amount(n, share)}, seed {seed}: {note}" for n, share, seed, note in said]
            + [""])


def target_table(rows: list[BenchRow]) -> str:
    """Issue 4's acceptance check per dataset × split × N: Augment & Classify against the best of RF/SVM, against
    the same classifier without synthesis ("cnn-pseudo") and against the CNN alone (OA points, seed means); the
    bench's Markdown has it where Augment & Classify ran (without it, its columns would all be "–")."""
    out = ["| dataset | split | N | best of RF/SVM | CNN alone | same classifier, no synthesis | Augment & Classify | "
           "Augment − best RF/SVM | Augment − no synthesis | Augment − CNN alone |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for setting, by, best in _by_setting(rows):
        aug = by.get("augment")
        out.append(f"| {setting} | {_best_cell(best)} | {_cell(by.get('cnn'))} | {_cell(by.get('cnn-pseudo'))} | "
                   f"{_cell(aug)} | {_delta(aug, best)} | {_delta(aug, by.get('cnn-pseudo'))} | "
                   f"{_delta(aug, by.get('cnn'))} |")
    return _with_unpaired_note(out)


def diffusion_feature_table(rows: list[BenchRow]) -> str:
    """The MTMSD-style rows against the best of RF/SVM and Augment & Classify, and their own augmentation gain
    (dfeat-augment − dfeat); empty when no run has diffusion features."""
    if not any(r.method in ("dfeat", "dfeat-augment") for r in rows):
        return ""
    out = ["| dataset | split | N | best of RF/SVM | Augment & Classify | diffusion features | diffusion features + "
           "synthetic | features − best RF/SVM | features + synthetic − best RF/SVM | synthetic's gain |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for setting, by, best in _by_setting(rows):
        feat, aug = by.get("dfeat"), by.get("dfeat-augment")
        out.append(f"| {setting} | {_best_cell(best)} | {_cell(by.get('augment'))} | {_cell(feat)} | {_cell(aug)} | "
                   f"{_delta(feat, best)} | {_delta(aug, best)} | {_delta(aug, feat)} |")
    return _with_unpaired_note(out) + "\n"


def _by_setting(rows: list[BenchRow]) -> Iterator[tuple[str, dict[str, BenchRow], Optional[BenchRow]]]:
    """Per dataset × split × N (or share), in first-seen order: its "dataset | split | N" cells (a share's N cell
    reads "10 %"), its rows by method, and the better of its RF and SVM rows (None when neither ran)."""
    for setting in dict.fromkeys((r.dataset, r.split, r.labels_per_class, r.share) for r in rows):
        by = {r.method: r for r in rows if (r.dataset, r.split, r.labels_per_class, r.share) == setting}
        base = [by[m] for m in ("rf", "svm") if m in by]
        dataset, split, n, share = setting
        yield (f"{dataset} | {split} | {column_amount(n, share, '{}')}", by,
               max(base, key=lambda r: r.oa_mean) if base else None)


def _best_cell(best: Optional[BenchRow]) -> str:
    return _cell(best) + (f" ({best.method})" if best else "")


def _cell(r: Optional[BenchRow]) -> str:
    return "–" if r is None else f"{r.oa_mean * 100:.1f} ± {r.oa_std * 100:.1f}"


UNPAIRED = "†"  # after a difference of two means over other seeds (a merge of files, a stopped benchmark)
UNPAIRED_NOTE = (f"{UNPAIRED}: the two means are over other seeds (not paired: other label draws), so the difference "
                 "is not the method's alone; run the missing seeds")


def _with_unpaired_note(table: list[str]) -> str:
    """A table's lines (header and rule first) as text, with :data:`UNPAIRED_NOTE` under it where a cell has the mark."""
    return "\n".join(table) + ("\n\n" + UNPAIRED_NOTE if any(UNPAIRED in line for line in table[2:]) else "")


def _delta(a: Optional[BenchRow], b: Optional[BenchRow]) -> str:
    """``a − b`` in OA points, marked :data:`UNPAIRED` where their seeds differ (review: unsaid)."""
    if a is None or b is None:
        return "–"
    return f"{(a.oa_mean - b.oa_mean) * 100:+.1f}" + ("" if sorted(a.seeds) == sorted(b.seeds) else UNPAIRED)


def merge_bench_files(paths: list[str]) -> list[RunResult]:
    """The per-seed runs of several ``bench --json`` files (e.g. one per cell of a long benchmark; files written before
    bench took a share have runs of N only); a run found twice (same dataset, N or share, split, method, seed) with the
    same figures counts once.

    Raises:
        ValueError: a file is no bench file, or a run was measured twice with other figures: the files come from
            benchmarks of other settings or code (review: the last file sorted won, silently, and a table mixed
            sessions).
    """
    merged: dict[tuple, tuple[RunResult, str]] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            runs = [RunResult(**r) for r in data["runs"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a JSON file written by 'hypersynth bench --json': {exc}") from exc
        for r in runs:
            key = (r.dataset, r.labels_per_class, r.share, r.split, r.method, r.seed)
            earlier = merged.get(key)
            if earlier is not None and (earlier[0].oa, earlier[0].aa, earlier[0].kappa) != (r.oa, r.aa, r.kappa):
                amount = column_amount(r.labels_per_class, r.share, "N = {}")
                raise ValueError(f"{r.dataset}, {r.split} split, {amount}, {r.method}, seed {r.seed} was measured "
                                 f"twice with other results (OA {earlier[0].oa * 100:.2f} % in {earlier[1]}, "
                                 f"{r.oa * 100:.2f} % in {path}): the files come from benchmarks of other settings "
                                 "or code; merge one benchmark's files (bench_cells.sh's NAME=x writes cell_x_*)")
            merged[key] = (r, str(path))
    return [r for r, _ in merged.values()]


def bench_documents(runs: list[RunResult], command: str, preset: Optional[str], skipped: Sequence[str] = (),
                    not_scored: Sequence[str] = ()) -> tuple[dict[str, Any], str]:
    """What a benchmark writes: the JSON document (machine, command, preset, the datasets ``skipped`` as not
    available here, the label draws ``not_scored`` as they left no pixel to test on, the stable rows and every run)
    and the Markdown (what was skipped or not scored, per-setting tables, the target check and the diffusion-feature
    table). ``preset``: None for a merge of files (which may mix presets; each file's command says its own), left
    out of the JSON then."""
    rows = summarize_runs(runs)
    machine = machine_description()
    code = code_revision() if preset else None  # a merge's files each name their own code in their command's run
    document = {"machine": machine, "command": command, **({"preset": preset} if preset else {}),
                **({"code": code} if code else {}),
                **({"skipped": list(skipped)} if skipped else {}),
                **({"not_scored": list(not_scored)} if not_scored else {}),
                "rows": [json_record(r) for r in rows], "runs": [json_record(r) for r in runs]}
    not_run = (f"**Not run: {', '.join(skipped)}, not available here** (`hypersynth datasets` says where they are "
               "looked for; `--download` fetches those that can be).\n\n" if skipped else "")
    if not_scored:  # their cells average the other seeds, or are missing
        not_run += ("**Not run: label draws that left no pixel to test on**\n\n"
                    + "".join(f"- {line}\n" for line in not_scored) + "\n")
    text = (not_run + (f"Code: `{code}`\n\n" if code else "") + markdown_tables(rows, machine, command, runs)
            + ("\n" + target_table(rows) + "\n\n" if any(r.method == "augment" for r in rows) else "\n")
            + diffusion_feature_table(rows))
    return document, text
