"""The run report: Markdown + HTML with metrics, spectra real vs synthetic, attention and PCA figures."""

from __future__ import annotations

import html
import json
import logging
import platform
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from .scene import ClassInfo, Scene
from .version import ENGINE_VERSION


def agg_figure(width: float, height: float):  # matplotlib's object API: no pyplot, safe inside QGIS
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def spectral_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Spectral angle between two spectra, in degrees."""
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def class_spectra(cube: np.ndarray, labels: np.ndarray, classes: list[ClassInfo], valid: np.ndarray
                  ) -> dict[int, np.ndarray]:
    """Per-class ``(n, B)`` spectra of the labelled pixels that hold data (``valid``; a label on no-data has none)."""
    return {c.id: cube[:, (labels == c.id) & valid].T for c in classes if ((labels == c.id) & valid).any()}


def synthetic_summary(real: dict[int, np.ndarray], synthetic: Any, classes: list[ClassInfo],
                      scene: Optional[Scene] = None) -> dict:
    """Counts and mean-spectrum SAM/RMSE of synthetic centre spectra against the real labelled ones; with
    ``scene``, also each class's synthetic mean ± std spectrum over the scene's bands (null where a band is not
    usable) and the scene's wavelengths, which the plugin's spectral dock overlays on the labelled ones."""
    from .classify.base import centre_spectra

    spec = centre_spectra(synthetic.patches)  # (N, B_usable)
    rows = []
    for c in classes:
        sel = synthetic.labels == c.id
        if not sel.any() or c.id not in real:
            continue
        m_syn, m_real = spec[sel].mean(0), real[c.id].mean(0)
        row = {"id": c.id, "name": c.name, "prompt": c.text, "synthetic": int(sel.sum()),
               "real_labelled": int(len(real[c.id])), "mean_sam_deg": round(spectral_angle_deg(m_syn, m_real), 3),
               "mean_rmse": float(np.sqrt(np.mean((m_syn - m_real) ** 2)))}
        if scene is not None:
            row["synthetic_mean"] = _scene_bands(spec[sel].mean(0), scene)
            row["synthetic_std"] = _scene_bands(spec[sel].std(0), scene)
        rows.append(row)
    summary: dict[str, Any] = {"classes": rows, "total": int(len(synthetic.labels))}
    if scene is not None:
        summary["scene_bands"] = scene.bands
        summary["wavelengths"] = None if scene.wavelengths is None else [float(w) for w in scene.wavelengths]
    return summary


def _scene_bands(usable: np.ndarray, scene: Scene) -> list[Optional[float]]:
    """A ``(B_usable,)`` spectrum spread over the scene's bands as JSON numbers, null at bands not used."""
    good = np.flatnonzero(scene.good_bands)
    if len(usable) != len(good):
        raise ValueError(f"{len(usable)} synthetic bands for a scene with {len(good)} usable bands")
    full: list[Optional[float]] = [None] * scene.bands
    for band, value in zip(good, usable):
        full[int(band)] = float(f"{value:.6g}")  # 6 digits: about float32 precision, short JSON
    return full


def read_synthetic_spectra(path: str | Path) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], Optional[np.ndarray]]:
    """Each class's synthetic ``(mean, std)`` over the scene's bands (NaN where unused) and the scene's wavelengths,
    from a run's ``synthetic_summary.json``; no classes for a summary written before it held spectra."""
    summary = json.loads(Path(path).read_text())
    stats = {}
    for row in summary.get("classes", []):
        if "synthetic_mean" in row and "synthetic_std" in row:
            stats[int(row["id"])] = (np.array(row["synthetic_mean"], dtype=float),  # None -> NaN
                                     np.array(row["synthetic_std"], dtype=float))
    wavelengths = summary.get("wavelengths")
    return stats, None if wavelengths is None else np.asarray(wavelengths, dtype=float)


def spectra_figure(path: Path, real: dict[int, np.ndarray], synthetic: Any, classes: list[ClassInfo],
                   wavelengths: Optional[np.ndarray]) -> None:
    """Per-class mean ± std of real labelled spectra, and of synthetic ones when present."""
    from .classify.base import centre_spectra

    n = len(classes)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = agg_figure(4.0 * cols, 2.8 * rows)
    syn = centre_spectra(synthetic.patches) if synthetic is not None else None
    for i, c in enumerate(classes):
        ax = fig.add_subplot(rows, cols, i + 1)
        x = wavelengths if wavelengths is not None else np.arange(next(iter(real.values())).shape[1])
        colour = np.array(c.color) / 255.0
        if c.id in real:
            m, s = real[c.id].mean(0), real[c.id].std(0)
            ax.plot(x, m, color=colour, lw=1.5, label=f"real (n={len(real[c.id])})")
            ax.fill_between(x, m - s, m + s, color=colour, alpha=0.25)
        if syn is not None and (synthetic.labels == c.id).any():
            sel = syn[synthetic.labels == c.id]
            m, s = sel.mean(0), sel.std(0)
            ax.plot(x, m, color="k", lw=1.0, ls="--", label=f"synthetic (n={len(sel)})")
            ax.fill_between(x, m - s, m + s, color="k", alpha=0.1)
        ax.set_title(c.name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
        if wavelengths is not None:
            ax.set_xlabel("wavelength (nm)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def pca_figure(path: Path, real: dict[int, np.ndarray], synthetic: Any, classes: list[ClassInfo]) -> None:
    """2-D PCA scatter of real (dots) vs synthetic (crosses) spectra, per class colour."""
    from sklearn.decomposition import PCA

    from .classify.base import centre_spectra

    syn = centre_spectra(synthetic.patches)
    stacked = np.concatenate([*real.values(), syn])
    pca = PCA(n_components=2).fit(stacked)
    fig = agg_figure(5.5, 4.5)
    ax = fig.add_subplot(111)
    for c in classes:
        colour = np.array(c.color) / 255.0
        if c.id in real:
            r = pca.transform(real[c.id])
            ax.scatter(r[:, 0], r[:, 1], s=6, color=colour, alpha=0.5, label=f"{c.name} real")
        sel = synthetic.labels == c.id
        if sel.any():
            s = pca.transform(syn[sel])
            ax.scatter(s[:, 0], s[:, 1], s=18, marker="x", color=colour, label=f"{c.name} synthetic")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path)


def files_section(files: Sequence[tuple[str, str]]) -> list[str]:
    """The report's "Files" section (Markdown lines): each file and what it holds; none without files."""
    if not files:
        return []
    return ["## Files", "", "| file | what it holds |", "|---|---|", *(f"| {n} | {w} |" for n, w in files), ""]


def write_report(out: Path, *, scene: Scene, labels: np.ndarray, classes: list[ClassInfo], fitted: Any,
                 method_title: str, evaluation: Optional[Any], seconds_training: float, cube: np.ndarray,
                 mapped: Mapping[int, int], with_attention: bool = False, files: Sequence[tuple[str, str]] = (),
                 warnings: Sequence[str] = (), run_facts: Sequence[str] = (),
                 learnt: Optional[tuple[np.ndarray, np.ndarray]] = None) -> Path:
    """Write report.md and report.html (plus figures and the synthetic summary) into ``out``; ``with_attention``:
    the report shows the cross-attention figure already in ``out`` (:func:`.attention.write_class_attention`);
    ``evaluation``: the accuracy on the validation labels (an :class:`~.evaluation.metrics.Evaluation`), or None;
    ``mapped``: the pixels the class map gives each class id;
    ``files``: the run's main files and what each holds; ``warnings``: what the run warned of
    (:func:`warnings_of_this_run`), listed under the header; ``run_facts``: lines that let a reader run it again
    (settings, text encoder, input files); ``learnt``: the labels and valid mask on ``cube``'s grid when it holds a
    part of the scene only (the area the models learnt from), else the scene's are."""
    grid_labels, grid_valid = learnt or (labels, scene.valid)
    real = class_spectra(cube, grid_labels, classes, grid_valid)
    wl = scene.usable_wavelengths()
    synthetic = fitted.synthetic
    spectra_figure(out / "spectra.png", real, synthetic, classes, wl)
    lines = [f"# HyperSynth report: {scene.name}", "",
             f"- Method: **{method_title}**",
             f"- Scene: {scene.shape[0]} × {scene.shape[1]} pixels, {cube.shape[0]} usable bands"
             + (f" ({wl.min():.0f}–{wl.max():.0f} nm)" if wl is not None else ""),
             f"- Training pixels: {sum(len(v) for v in real.values())} in {len(classes)} classes; "
             f"training took {seconds_training:.1f} s",
             f"- Engine {ENGINE_VERSION}, Python {platform.python_version()}, {platform.machine()}",
             *(f"- {fact}" for fact in run_facts), ""]
    lines += [*(f"- {n}" for n in fitted.notes), ""] if fitted.notes else []
    lines += warnings_section(warnings)  # after the header's notes: a heading over them would claim them
    choice = getattr(fitted.classifier, "choice", None)  # a blend's: how the labels' CV scored each share
    if choice is not None and choice.folds and choice.scores:
        lines += ["## How your labels chose the blend", "",
                  "Balanced accuracy of each blend on the labels held out by the cross-validation (chosen: bold; "
                  "ties go to the most even blend). CNN share c of the CNN + spectral-forest pair; "
                  + ("SVM share d of the whole blend, for the SVM on the diffusion-model features: "
                     "blend = (1 − d)·(c·CNN + (1 − c)·forest) + d·SVM." if choice.with_dfeat else
                     "blend = c·CNN + (1 − c)·forest."), "", *choice.table(), ""]
    lines += ["## Classes", "", "| id | class | prompt | labelled | mapped pixels |", "|---|---|---|---|---|"]
    for c in classes:
        learnt = len(real[c.id]) if c.id in real else 0  # labelled pixels that hold data: those learnt from
        lines.append(f"| {c.id} | {c.name} | {c.text} | {learnt} | {int(mapped.get(c.id, 0))} |")
    lines.append("")
    if evaluation is not None:
        ev = evaluation
        lines += ["## Accuracy against the validation labels", "",
                  f"OA {ev.oa * 100:.2f} %, AA {ev.aa * 100:.2f} %, κ {ev.kappa:.4f} on {ev.n_test} validation pixels.",
                  "", ev.tables_markdown().rstrip("\n"), "", "![confusion matrix](confusion.png)", ""]
    if synthetic is not None:
        summary = synthetic_summary(real, synthetic, classes, scene)
        (out / "synthetic_summary.json").write_text(json.dumps(summary, indent=2))
        pca_figure(out / "pca.png", real, synthetic, classes)
        lines += ["## Synthetic samples", "", "| class | prompt | synthetic | real | SAM of means (°) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['prompt']} | {r['synthetic']} | {r['real_labelled']} | {r['mean_sam_deg']:.2f} |"
                  for r in summary["classes"]]
        lines += ["", "![PCA of real vs synthetic spectra](pca.png)", ""]
        if with_attention:
            source = str(getattr(fitted.synthesis_model, "text_source", ""))
            untrained = (f" **Read with care:** the text encoder here is {source}: its words start with no "
                         "meaning, so the maps show what training taught it from your class names and prompts alone."
                         if source.startswith("random-init") else "")
            lines += ["What the synthesis model reads in each class's prompt: one patch per class sampled from noise "
                      "with that prompt; each map shows where the patch's latent tokens attend to one word piece "
                      "(brighter: more; one colour scale for all, from the least to the most attended place)."
                      + untrained, "", "![cross-attention per prompt word](attention.png)", ""]
    lines += ["## Spectra", "", "![per-class spectra](spectra.png)", ""]
    lines += files_section(files)
    return write_markdown_and_html(out, lines)


def write_markdown_and_html(out: Path, lines: Sequence[str]) -> Path:
    """``report.md`` and its ``report.html`` twin (what a browser or QGIS opens) in ``out``; returns the first."""
    md = "\n".join(lines).rstrip("\n") + "\n"
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(_markdown_to_html(md))
    return out / "report.md"


def _markdown_to_html(md: str) -> str:
    """A small converter for the report's own Markdown (headings, lists, tables, images)."""
    body: list[str] = []
    table: list[list[str]] = []
    items: list[str] = []

    def flush() -> None:
        if items:  # a list's items inside their <ul>
            body.append("<ul>" + "".join(items) + "</ul>")
            items.clear()
        if table:
            head, *rest = table
            body.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rest) + "</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("- "):
            items.append(f"<li>{_bold(html.escape(line[2:]))}</li>")
            continue
        if line.startswith("|"):
            cells = [_bold(html.escape(c.strip())) for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](")
            body.append(f'<p><img src="{html.escape(src.rstrip(")"))}" alt="{html.escape(alt)}"></p>')
        elif line.strip():
            body.append(f"<p>{_bold(html.escape(line))}</p>")
    flush()
    return ("<!doctype html><meta charset='utf-8'><title>HyperSynth report</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:2px 8px}img{max-width:100%}</style>" + "\n".join(body))


def _bold(text: str) -> str:
    """Markdown's **bold** as HTML (the report's only inline markup)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


@contextmanager
def warnings_of_this_run() -> Iterator[list[str]]:
    """Collect the warnings the engine logs in this thread while the block runs, for the run's report: what was
    said on the terminal or in the QGIS log must not be missing from the record the run leaves (another run in
    another thread keeps its own)."""
    said: list[str] = []
    thread = threading.get_ident()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread:
                said.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("hypersynth")
    logger.addHandler(handler)
    try:
        yield said
    finally:
        logger.removeHandler(handler)


def warnings_section(said: Sequence[str]) -> list[str]:
    """The report's "Warnings" lines (none when nothing was said), each warning once, in the order said."""
    unique = list(dict.fromkeys(s.strip() for s in said if s.strip()))
    return ["## Warnings", "", *(f"- {s}" for s in unique), ""] if unique else []
