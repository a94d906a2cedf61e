"""The run report: Markdown + HTML with metrics, spectra real vs synthetic, attention and PCA figures."""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import platform
import re
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np

from .evaluation.metrics import few_pixels_note
from .markdown_text import CELL_SEPARATOR, ESCAPED, md_text
from .io.pixel_values import VALUE_AS_READ, engine_value_title
from .scene import ClassInfo, Scene
from .version import engine_description


def agg_figure(width: float, height: float):  # matplotlib's object API: no pyplot, safe inside QGIS
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


_UNDRAWN: set[str] = set()  # characters already said to be missing from the figures' font (said once a process)
# warnings.catch_warnings swaps the process's filters: two runs' figures saved at once (a dock run and a Processing
# one, each in a task's thread) would restore each other's, so figures are saved one at a time
_SAVING = threading.Lock()


def save_figure(fig: Any, target: Any, *, layout: Optional[Callable[[], Any]] = None, **options: Any) -> None:
    """``fig.savefig(target, **options)``, after ``layout()`` (``fig.tight_layout``, say: it draws the text too);
    text with characters the figure's font lacks (class names in another script) is said in one line, once per
    character, instead of matplotlib's warning per character and figure."""
    with _SAVING, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if layout is not None:
            layout()
        fig.savefig(target, **options)
    missing = set()
    for caught_warning in caught:
        found = re.search(r"Glyph (\d+) \(.*\) missing from", str(caught_warning.message))
        if found:
            missing.add(chr(int(found.group(1))))
        else:  # any other warning goes on as it came
            warnings.warn_explicit(caught_warning.message, caught_warning.category, caught_warning.filename,
                                   caught_warning.lineno)
    new = sorted(missing - _UNDRAWN)
    if new:
        _UNDRAWN.update(new)
        logging.getLogger("hypersynth").warning(
            "the figures' font has no %s: text holding them (a class name, a prompt) is drawn with boxes in their "
            "place; the report's text has them", " ".join(new))


def spectral_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Spectral angle between two spectra, in degrees (0: the same shape, whatever the brightness), over the bands
    both hold (a gap, NaN, in either is left out); NaN where they share none."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return math.nan
    a, b = a[both], b[both]
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def brightness_ratio(synthetic_mean: np.ndarray, real_mean: np.ndarray) -> Optional[float]:
    """The synthetic mean spectrum's brightness (its mean over the bands) over the real one's: 1 alike, 1.2 a fifth
    brighter; None where the real mean's brightness is 0."""
    real = float(np.mean(real_mean))
    return None if real == 0 else round(float(np.mean(synthetic_mean)) / real, 4)


def class_spectra(cube: np.ndarray, labels: np.ndarray, classes: list[ClassInfo], valid: np.ndarray
                  ) -> dict[int, np.ndarray]:
    """Per-class ``(n, B)`` spectra of the labelled pixels that hold data (``valid``; a label on no-data has none)."""
    return {c.id: cube[:, (labels == c.id) & valid].T for c in classes if ((labels == c.id) & valid).any()}


def synthetic_summary(real: dict[int, np.ndarray], synthetic: Any, classes: list[ClassInfo],
                      scene: Optional[Scene] = None) -> dict:
    """Counts and mean-spectrum SAM/RMSE of synthetic centre spectra against the real labelled ones, and the ratio
    of their mean brightness (:func:`brightness_ratio`: SAM ignores brightness, a mean brighter alike at every band
    has a SAM of 0), and the share of their values clipped into the scene's range where recorded; with ``scene``,
    also each class's synthetic mean ± std spectrum over the scene's bands (null where a band is not usable) and the
    scene's wavelengths, which the plugin's spectral dock overlays on the labelled ones."""
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
               "mean_rmse": float(np.sqrt(np.mean((m_syn - m_real) ** 2))),
               "mean_brightness_ratio": brightness_ratio(m_syn, m_real)}
        clipped = getattr(synthetic, "clipped", None)
        if clipped is not None:  # values clipped into the scene's range (SyntheticSet.clipped), a share of the class's
            row["clipped_share"] = round(float(clipped[sel].sum()) / float(synthetic.patches[sel].size), 6)
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
    summary = json.loads(Path(path).read_text(encoding="utf-8"))
    stats = {}
    for row in summary.get("classes", []):
        if "synthetic_mean" in row and "synthetic_std" in row:
            stats[int(row["id"])] = (np.array(row["synthetic_mean"], dtype=float),  # None -> NaN
                                     np.array(row["synthetic_std"], dtype=float))
    wavelengths = summary.get("wavelengths")
    return stats, None if wavelengths is None else np.asarray(wavelengths, dtype=float)


# A wavelength step this many times its neighbours' typical step is a gap (bands left out, e.g. water absorption):
# one missing band on a regular grid doubles the step. The plugin's spectral plots break their lines by it too.
GAP_STEP = 1.9
MAP_FIGURE = "map.png"  # the class map as a picture, in the reports
MAP_SIDE = 800  # map.png's class map is read decimated to at most this many pixels on its long side
MIN_FONT = 7  # the figures' smallest text (legends, ticks), in points


def band_gaps(x: np.ndarray, bands: Optional[np.ndarray] = None) -> np.ndarray:
    """``(len(x) - 1,)`` bool: True between two plotted bands with bands missing between them, where the usable
    bands' scene indices ``bands`` jump, or where the wavelength step is over :data:`GAP_STEP` times the typical
    step of its neighbours (the water-absorption windows a sensor's file leaves out); and where the wavelength
    steps back, as where a second detector's bands start (EnMAP's SWIR at 902 nm after its VNIR's 993 nm), so
    each detector is its own line, not a zigzag through the other's."""
    x = np.asarray(x, dtype=float)
    gaps = np.zeros(max(len(x) - 1, 0), dtype=bool)
    if bands is not None and len(bands) == len(x):
        gaps |= np.diff(np.asarray(bands)) > 1
    steps = np.diff(x)
    gaps |= steps <= 0
    for i, step in enumerate(steps):
        around = np.concatenate([steps[max(0, i - 3):i], steps[i + 1:i + 4]])  # up to 3 steps each side
        around = around[around > 0]
        if around.size and step > GAP_STEP * float(np.median(around)):
            gaps[i] = True
    return gaps


def with_gaps(x: np.ndarray, gaps: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """``x`` and each ``y`` with a NaN point inserted in each gap (:func:`band_gaps`), so a line breaks there
    instead of running straight across it."""
    at = np.flatnonzero(gaps) + 1
    x = np.asarray(x, dtype=float)
    mids = (x[at - 1] + x[at]) / 2.0
    return (np.insert(x, at, mids), *(np.insert(np.asarray(y, dtype=float), at, np.nan) for y in ys))


def value_label(source: Optional[str | Path]) -> str:
    """The spectra's value axis, of the values as the engine reads them: "Reflectance", "Radiance (units)",
    "Pixel value (units)" as the scene file's metadata or a sensor product's name says
    (:func:`~.io.pixel_values.engine_value_title`; the plugin's spectral plots read the same metadata), else "Pixel
    value (scale 0.0001 applied)" or :data:`VALUE_AS_READ`, as QGIS names them."""
    return engine_value_title(source)


def spectra_figure(path: Path, real: dict[int, np.ndarray], synthetic: Any, classes: list[ClassInfo],
                   wavelengths: Optional[np.ndarray], bands: Optional[np.ndarray] = None,
                   value: str = VALUE_AS_READ) -> Any:
    """Per-class mean ± 1 std of real labelled spectra, and of synthetic ones when present; the lines break where
    bands are missing (:func:`band_gaps`; ``bands``: the plotted bands' indices in the scene); ``value``: the value
    axis's title (:func:`value_label`). Returns the figure, saved to ``path``."""
    from matplotlib.patches import Patch

    from .classify.base import centre_spectra

    n = len(classes)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = agg_figure(4.0 * cols, 2.9 * rows)
    syn = centre_spectra(synthetic.patches) if synthetic is not None else None
    width = next(iter(real.values())).shape[1]
    numbered = bands is not None and len(bands) == width  # the file's band numbers, as the analyst names them
    x = wavelengths if wavelengths is not None else (np.asarray(bands) + 1 if numbered else np.arange(1, width + 1))
    gaps = band_gaps(x, bands)
    for i, c in enumerate(classes):
        ax = fig.add_subplot(rows, cols, i + 1)
        colour = np.array(c.color) / 255.0
        if c.id in real:
            xs, m, lo, hi = _mean_std_with_gaps(x, gaps, real[c.id])
            ax.plot(xs, m, color=colour, lw=1.5, label=f"real mean (n={len(real[c.id])})")
            ax.fill_between(xs, lo, hi, color=colour, alpha=0.25)
        if syn is not None and (synthetic.labels == c.id).any():
            sel = syn[synthetic.labels == c.id]
            xs, m, lo, hi = _mean_std_with_gaps(x, gaps, sel)
            ax.plot(xs, m, color="k", lw=1.0, ls="--", label=f"synthetic mean (n={len(sel)})")
            ax.fill_between(xs, lo, hi, color="k", alpha=0.1)
        handles, _ = ax.get_legend_handles_labels()
        handles.append(Patch(facecolor="0.7", alpha=0.6, label="shading: mean ± 1 std"))
        ax.set_title(c.name, fontsize=9)
        ax.tick_params(labelsize=MIN_FONT)
        ax.legend(handles=handles, fontsize=MIN_FONT)
        ax.set_xlabel("wavelength (nm)" if wavelengths is not None else "band" if numbered else "usable band",
                      fontsize=8)
        if i % cols == 0:
            ax.set_ylabel(value, fontsize=8)
    save_figure(fig, path, layout=fig.tight_layout)
    return fig


def _mean_std_with_gaps(x: np.ndarray, gaps: np.ndarray, spectra: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(x, mean, mean - std, mean + std)`` of ``(n, B)`` spectra, NaN in the gaps."""
    m, s = spectra.mean(0), spectra.std(0)
    return with_gaps(x, gaps, m, m - s, m + s)


def pca_figure(path: Path, real: dict[int, np.ndarray], synthetic: Any, classes: list[ClassInfo]) -> Any:
    """2-D PCA scatter of the real labelled spectra (circles) and the synthetic patches' centre spectra (triangles),
    per class colour, on the first two principal components of both together; returns the figure, saved to
    ``path``."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from sklearn.decomposition import PCA

    from .classify.base import centre_spectra

    syn = centre_spectra(synthetic.patches)
    stacked = np.concatenate([*real.values(), syn])
    pca = PCA(n_components=2).fit(stacked)
    share = pca.explained_variance_ratio_ * 100.0
    fig = agg_figure(6.2, 4.6)
    ax = fig.add_subplot(111)
    # a class's few labelled pixels over its many synthetic patches: drawn last, larger and hollow (filled, they
    # buried the synthetic ones where synthesis did well, right on them)
    real_point = dict(s=40, linewidths=1.4, zorder=3)
    synthetic_point = dict(s=18, alpha=0.75, linewidths=0.3, edgecolors="k", zorder=2)
    handles = []
    for c in classes:
        colour = np.array(c.color) / 255.0
        shown = False
        if c.id in real:
            r = pca.transform(real[c.id])
            ax.scatter(r[:, 0], r[:, 1], marker="o", facecolors="none", edgecolors=colour, **real_point)
            shown = True
        sel = synthetic.labels == c.id
        if sel.any():
            s = pca.transform(syn[sel])
            ax.scatter(s[:, 0], s[:, 1], marker="^", color=colour, **synthetic_point)
            shown = True
        if shown:
            handles.append(Patch(color=colour, label=c.name))
    handles += [Line2D([], [], ls="", marker="o", markerfacecolor="none", markeredgecolor="0.3", markeredgewidth=1.4,
                       label="real labelled"),
                Line2D([], [], ls="", marker="^", color="0.5", markeredgecolor="k", label="synthetic (centre pixel)")]
    ax.set_xlabel(f"PC 1 ({share[0]:.0f} % of variance)", fontsize=8)
    ax.set_ylabel(f"PC 2 ({share[1]:.0f} % of variance)", fontsize=8)
    ax.tick_params(labelsize=MIN_FONT)
    ax.set_title("Real labelled and synthetic spectra on the first two principal components of both", fontsize=8)
    ax.legend(handles=handles, fontsize=MIN_FONT, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    save_figure(fig, path, layout=fig.tight_layout)
    return fig


def class_map_figure(path: Path, class_map: Path, classes: Sequence[ClassInfo], max_side: int = MAP_SIDE) -> Any:
    """``class_map`` (a classification GeoTIFF of class ids, 0 unclassified) in the class colours with a legend,
    read decimated to at most ``max_side`` pixels on its long side (a huge scene costs little memory); returns the
    figure, saved to ``path``."""
    from matplotlib.patches import Patch

    from .io.read import opened_quietly

    with opened_quietly(class_map) as ds:
        height, width = ds.height, ds.width
        step = max(1, int(np.ceil(max(height, width) / max_side)))
        shape = (max(1, int(np.ceil(height / step))), max(1, int(np.ceil(width / step))))
        ids = ds.read(1, out_shape=shape)  # (h, w) nearest-neighbour decimation of the class ids
        dx, dy = abs(ds.transform.a) or 1.0, abs(ds.transform.e) or 1.0
    lut = np.zeros((max(int(ids.max()), max((c.id for c in classes), default=0)) + 1, 4))  # RGBA by class id
    lut[0] = (1.0, 1.0, 1.0, 1.0)  # 0: white, which no default class colour is (a light grey was near one)
    for c in classes:
        lut[c.id] = (*(np.array(c.color) / 255.0), 1.0)
    aspect = (dy * height / shape[0]) / (dx * width / shape[1])  # a shown pixel's height over its width, on the ground
    fig = agg_figure(6.4, min(8.0, max(2.5, 4.4 * shape[0] * aspect / shape[1] + 0.6)))
    ax = fig.add_subplot(111)
    ax.imshow(lut[ids], interpolation="nearest", aspect=aspect)
    ax.set_xticks([])
    ax.set_yticks([])
    present = set(np.unique(ids).tolist())
    handles = [Patch(color=lut[c.id], label=c.name) for c in classes if c.id in present]
    if 0 in present:
        handles.append(Patch(facecolor=lut[0], edgecolor="0.4", linewidth=0.6, label="no data or unclassified"))
    legend = ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title("Class map" + (f" (1 pixel in {step} each way, of {width} × {height})" if step > 1 else
                                f" ({width} × {height} pixels)"), fontsize=8)

    def layout() -> None:
        fig.tight_layout()
        keep_legend_inside(fig, ax, legend)

    save_figure(fig, path, layout=layout)
    return fig


def keep_legend_inside(fig: Any, ax: Any, legend: Any, pad_px: float = 6.0) -> None:
    """Narrow ``ax`` until ``legend``, placed right of it, ends inside the figure: matplotlib 3.6's tight_layout
    leaves such a legend out of account, and a long class name was cut at the image's edge."""
    renderer = fig.canvas.get_renderer()
    for _ in range(6):  # an image's axes keep their aspect: each narrowing moves the legend by part of it
        over = legend.get_window_extent(renderer).x1 + pad_px - fig.bbox.x1
        if over <= 0:
            return
        box = ax.get_position()
        fig.subplots_adjust(left=box.x0, right=max(box.x0 + 0.2, box.x1 - over / fig.bbox.width))


def grid_fact(scene: Scene) -> str:
    """The header's line on the scene's grid: pixel size in the CRS's units and the CRS, or a plain pixel grid."""
    x0, dx, rx, y0, ry, dy = (float(v) for v in scene.transform)
    if not scene.crs_wkt:
        return "Grid: pixels (no coordinate reference system)"
    unit, name = "", scene.crs_wkt.split('"')[1] if '"' in scene.crs_wkt else ""
    code = None
    try:
        from rasterio.crs import CRS

        crs = CRS.from_wkt(scene.crs_wkt)
        code = crs.to_string() if crs.to_epsg() else None
        linear = (crs.linear_units or "").lower()
        unit = "°" if crs.is_geographic else " m" if linear in ("metre", "meter", "m") else f" {linear}".rstrip()
    except Exception:  # noqa: BLE001 (a CRS rasterio cannot read: the name in its WKT is still worth saying)
        pass
    size = f"{abs(dx):g}{unit}" if abs(dx) == abs(dy) else f"{abs(dx):g} × {abs(dy):g}{unit}"
    crs_text = f"{code} ({name})" if code and name else code or name or "a CRS without a name"
    return f"Grid: {size} pixels, {crs_text}" + (", rotated" if rx or ry else "")


def bands_left_out_fact(scene: Scene) -> str:
    """What the report's scene line adds where the run left bands out: "; of its 224, left out: bands 108–112
    (…) (flagged bad in the file, or without data)", those the run was told to leave out named apart ("bands 1–3
    (…), as the run was told, and band 224 (…), flagged bad in the file, or without data"); "" where it used them
    all; who told them is the scene's ``told_by`` ("as the classifier's training run was told")."""
    from .io.band_choice import describe_bands

    left_out = ~np.asarray(scene.good_bands, dtype=bool)
    if not left_out.any():
        return ""
    named = np.zeros_like(left_out) if scene.named_left_out is None else np.asarray(scene.named_left_out, dtype=bool)
    in_file = left_out & ~named
    if not named.any():
        return (f"; of its {scene.bands}, left out: {describe_bands(left_out, scene.wavelengths)} (flagged bad in the "
                f"file, or without data)")
    said = f"{describe_bands(named, scene.wavelengths)}, {scene.told_by}"
    if in_file.any():
        said += f", and {describe_bands(in_file, scene.wavelengths)}, flagged bad in the file, or without data"
    return f"; of its {scene.bands}, left out: {said}"


SYNTHETIC_SUMMARY = "synthetic_summary.json"  # the synthetic-sample summary the report writes beside it
FIGURES = ("confusion.png", "spectra.png", "pca.png")  # the report's other pictures, attention.png after them
# (map.png's row says what its decimation is)
REPORT_FILE_NOTES = {  # what the data files the report writes beside it hold, for its "Files" section
    SYNTHETIC_SUMMARY: "the synthetic-sample summary as JSON: for each class, its prompt, how many synthetic "
                              "patches and labelled pixels, how far apart their mean centre spectra are (SAM, RMSE, "
                              "brightness ratio), and the synthetic patches' mean ± std spectrum",
}
ATTENTION_NOTE = ("each prompt word's cross-attention maps and the patches they were read on (NumPy; the plugin's "
                  "attention dock shows them)")


BRIGHTNESS_OFF = 0.2  # a class's synthetic mean brighter or darker than its labelled one by more: said below the table


def brightness_notes(rows: Sequence[dict]) -> list[str]:
    """Lines under the synthetic-sample table naming each class whose synthetic patches are more than
    :data:`BRIGHTNESS_OFF` brighter or darker than its labelled pixels (the SAM column cannot show it)."""
    said = []
    for r in rows:
        ratio = r.get("mean_brightness_ratio")
        if ratio is not None and abs(ratio - 1.0) > BRIGHTNESS_OFF:
            said.append(f"{md_text(r['name'])}'s synthetic patches are {abs(ratio - 1.0) * 100:.0f} % "
                        f"{'brighter' if ratio > 1 else 'darker'} than its labelled pixels")
    if not said:
        return []
    return ["", f"**Brightness:** {'; '.join(said)}. The classifier learns from them as they are: where that is not "
            "the class as it varies over the scene (other labels of it, lit otherwise), label more of it, or lower "
            "the synthetic weight."]


def report_files(out: Path) -> list[tuple[str, str]]:
    """The files the report writes beside it that are in ``out`` and what each holds: its data files and, in one
    row, its figures."""
    from .attention import ATTENTION_ARRAYS, ATTENTION_FIGURE  # it draws with this module's figures

    notes = {**REPORT_FILE_NOTES, ATTENTION_ARRAYS: ATTENTION_NOTE}
    files = [(name, note) for name, note in notes.items() if (out / name).is_file()]
    figures = [name for name in (*FIGURES, ATTENTION_FIGURE) if (out / name).is_file()]
    if figures:
        files.append((", ".join(figures), "this report's other figures, as PNG (the HTML report holds them too)"))
    return files


def _attention_start(rows: Sequence[Any]) -> str:
    """How the attention figure's patches (its ``ClassAttention`` rows) were made, as the report says it."""
    anchored = [md_text(r.name) for r in rows if r.anchored]
    if not anchored:
        return "sampled from noise"
    made = ("started from a labelled patch kept with the model (as the run started its synthetic patches from its "
            "labelled ones), noised part-way and then denoised")
    if len(anchored) == len(rows):
        return made
    return f"{made} (for {', '.join(anchored)}; the others, without a labelled patch kept, from noise)"


def mapped_area_columns(scene: Scene) -> tuple[str, str, Callable[[int], str]]:
    """The class table's mapped-area columns for ``scene``'s grid: its header cells, their Markdown alignment, and a
    function of a class's mapped pixel count giving its cells; hectares beside the pixels where the grid is in
    metres (what an analyst reports), pixels alone otherwise."""
    from .evaluation.area import grid_area

    unit, per_pixel, distorted = grid_area(scene.transform, scene.crs_wkt, scene.shape)
    if unit != "ha":  # the table's header says why there are no hectares
        why = " (no hectares: the CRS does not keep areas)" if distorted else ""
        return f"mapped pixels{why}", "---:", lambda n: f"{int(n):,}"
    return "mapped pixels | mapped area (ha)", "---:|---:", lambda n: f"{int(n):,} | {int(n) * per_pixel:,.1f}"


def files_section(files: Sequence[tuple[str, str]]) -> list[str]:
    """The report's "Files" section (Markdown lines): each file and what it holds; none without files."""
    if not files:
        return []
    return ["## Files", "", "| file | what it holds |", "|---|---|", *(f"| {n} | {w} |" for n, w in files), ""]


def write_report(out: Path, *, scene: Scene, labels: np.ndarray, classes: list[ClassInfo], fitted: Any,
                 method_title: str, evaluation: Optional[Any], seconds_training: float, cube: np.ndarray,
                 mapped: Mapping[int, int], attention: Sequence[Any] = (), files: Sequence[tuple[str, str]] = (),
                 warnings: Sequence[str] = (), run_facts: Sequence[str] = (),
                 learnt: Optional[tuple[np.ndarray, np.ndarray]] = None, class_map: Optional[Path] = None) -> Path:
    """Write report.md and report.html (plus figures and the synthetic summary) into ``out``; ``attention``: the
    rows (:class:`.attention.ClassAttention`) of the cross-attention figure already in ``out``
    (:func:`.attention.write_class_attention`), which the report shows; none: no figure;
    ``evaluation``: the accuracy on the validation labels (an :class:`~.evaluation.metrics.Evaluation`), or None;
    ``mapped``: the pixels the class map gives each class id;
    ``files``: the run's main files and what each holds; ``warnings``: what the run warned of
    (:func:`warnings_of_this_run`), listed under the header; ``run_facts``: lines that let a reader run it again
    (settings, text encoder, input files); ``learnt``: the labels and valid mask on ``cube``'s grid when it holds a
    part of the scene only (the area the models learnt from), else the scene's are; ``class_map``: the run's
    classification GeoTIFF, shown decimated as ``map.png`` (:func:`class_map_figure`) and listed under Files."""
    grid_labels, grid_valid = learnt or (labels, scene.valid)
    real = class_spectra(cube, grid_labels, classes, grid_valid)
    wl = scene.usable_wavelengths()
    synthetic = fitted.synthetic
    spectra_figure(out / "spectra.png", real, synthetic, classes, wl, np.flatnonzero(scene.good_bands),
                   value_label(scene.source))
    files = list(files)
    shows_map = class_map is not None and Path(class_map).exists()
    if shows_map:
        class_map_figure(out / MAP_FIGURE, Path(class_map), classes)
        files.append((MAP_FIGURE, f"the class map as a picture in the class colours (at most {MAP_SIDE} pixels "
                                 "on its long side), as this report shows it"))
    lines = [f"# HyperSynth report: {md_text(scene.name)}", "",
             f"- Method: **{method_title}**",
             f"- Scene: {scene.shape[0]} × {scene.shape[1]} pixels, {cube.shape[0]} usable bands"
             + (f" ({wl.min():.0f}–{wl.max():.0f} nm)" if wl is not None else "") + bands_left_out_fact(scene),
             f"- {grid_fact(scene)}",
             f"- Training pixels: {sum(len(v) for v in real.values())} in {len(classes)} classes; "
             f"training took {seconds_training:.1f} s",
             f"- Engine {engine_description()}, Python {platform.python_version()}, {platform.machine()}",
             *(f"- {md_text(fact)}" for fact in run_facts), ""]  # they name files, classes: the analyst's words
    lines += [*(f"- {md_text(n)}" for n in fitted.notes), ""] if fitted.notes else []
    lines += warnings_section(warnings)  # after the header's notes: a heading over them would claim them
    choice = getattr(fitted.classifier, "choice", None)  # a blend's: how the labels' CV scored each share
    if choice is not None and choice.folds and choice.scores:
        lines += ["## How your labels chose the blend", "",
                  "Balanced accuracy of each blend on the labels held out by the cross-validation (chosen: bold; "
                  "ties go to the most even blend). CNN share c of the CNN + spectral-forest pair; "
                  + ("SVM share d of the whole blend, for the SVM on the diffusion-model features: "
                     "blend = (1 − d)·(c·CNN + (1 − c)·forest) + d·SVM." if choice.with_dfeat else
                     "blend = c·CNN + (1 − c)·forest."), "", *choice.table(), ""]
    head, align, cells = mapped_area_columns(scene)
    lines += ["## Classes", "", f"| id | class | prompt | labelled | {head} |", f"|---|---|---|---:|{align}|"]
    for c in classes:
        learnt = len(real[c.id]) if c.id in real else 0  # labelled pixels that hold data: those learnt from
        lines.append(f"| {c.id} | {md_text(c.name)} | {md_text(c.text)} | {learnt} | {cells(mapped.get(c.id, 0))} |")
    lines.append("")
    if shows_map:
        lines += ["![class map](map.png)", ""]
    if evaluation is not None:
        ev = evaluation
        # 10 pixels: the OA's interval is wide; not where a sample holds, whose points' OA estimates nothing
        few = "" if ev.area is not None and ev.area.holds() else few_pixels_note(ev.oa, ev.n_test)
        kappa = "–" if math.isnan(ev.kappa) else f"{ev.kappa:.4f}"  # undefined with one class validated
        lines += ["## Accuracy against the validation labels", "",
                  ev.headline(f"OA {ev.oa * 100:.2f} %, AA {ev.aa * 100:.2f} %, κ {kappa} on {ev.n_test} "
                              f"validation pixels{'; ' + few if few else ''}."),
                  "", ev.tables_markdown().rstrip("\n"), "", "![confusion matrix](confusion.png)", ""]
    if synthetic is not None:
        summary = synthetic_summary(real, synthetic, classes, scene)
        (out / SYNTHETIC_SUMMARY).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        pca_figure(out / "pca.png", real, synthetic, classes)
        lines += ["## Synthetic samples", "",
                  "How the synthetic patches' mean centre spectrum of each class compares with its real labelled "
                  "mean. The spectral angle (SAM) ignores brightness: a mean brighter or darker by the same factor at "
                  "every band has a SAM of 0°; the brightness ratio (synthetic over real, the means over the bands; 1 "
                  "alike) and the RMSE of the means (in the scene's values) show it.", "",
                  "| class | prompt | synthetic | real | SAM of means (°) | brightness ratio | RMSE of means |",
                  "|---|---|---|---|---|---|---|"]
        for r in summary["classes"]:
            ratio = "–" if r["mean_brightness_ratio"] is None else f"{r['mean_brightness_ratio']:.2f}"
            lines.append(f"| {md_text(r['name'])} | {md_text(r['prompt'])} | {r['synthetic']} | {r['real_labelled']} | "
                         f"{r['mean_sam_deg']:.2f} | {ratio} | {r['mean_rmse']:.3g} |")
        lines += brightness_notes(summary["classes"])
        lines += ["", "Each point a spectrum: the real labelled pixels (open circles) and the synthetic patches' "
                  "centre pixels (triangles), in the class colours, projected on the first two principal components of "
                  "both together (the axes say how much of their variance each holds).", "",
                  "![PCA of real vs synthetic spectra](pca.png)", ""]
        if attention:
            source = str(getattr(fitted.synthesis_model, "text_source", ""))
            untrained = (f" **Read with care:** the text encoder here is {source}: its words start with no "
                         "meaning, so the maps show what training taught it from your class names and prompts alone."
                         if source.startswith("random-init") else "")
            lines += ["What the synthesis model reads in each class's prompt: one patch per class "
                      f"{_attention_start(attention)} with that prompt; each map shows where the patch's latent positions "
                      "attend to one of the "
                      "prompt's word pieces (as the text encoder splits it; function words such as 'of' and 'the' "
                      "have none, as the attention dock hides them), as a multiple of the even share 1/n, "
                      "n the prompt's tokens (start and end markers included): 1× everywhere if every token were "
                      "attended alike. Red: more than even, blue: less, pale: near even. One colour scale for all "
                      "maps, from ½× to 2× at least, so differences of a few per cent stay pale." + untrained, "",
                      "![cross-attention per prompt word](attention.png)", ""]
    lines += ["## Spectra", "",
              "Each class's mean spectrum (line) with ± 1 standard deviation (shading), of the real labelled pixels "
              "and, where the run made them, of the synthetic patches' centre pixels (dashed); the lines break where "
              "bands are missing or unusable (water absorption, say).", "", "![per-class spectra](spectra.png)", ""]
    lines += files_section([*files, *report_files(out)])
    return write_markdown_and_html(out, lines)


def write_markdown_and_html(out: Path, lines: Sequence[str]) -> Path:
    """``report.md`` and its ``report.html`` twin (what a browser or QGIS opens) in ``out``; returns the first."""
    md = "\n".join(lines).rstrip("\n") + "\n"
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(_markdown_to_html(md, out), encoding="utf-8")
    return out / "report.md"


def _markdown_to_html(md: str, folder: Optional[Path] = None) -> str:
    """A small converter for the report's own Markdown (headings, lists, tables, images, **bold**, `code`); an
    image found in ``folder`` is embedded as a data URI, so the HTML file alone shows it when moved or mailed."""
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
            items.append(f"<li>{_inline(line[2:])}</li>")
            continue
        if line.startswith("|"):
            cells = [_inline(c.strip()) for c in CELL_SEPARATOR.split(line.strip()[1:-1])]  # "\\|": a cell's own
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](")
            body.append(f'<p><img src="{_image_source(src.rstrip(")"), folder)}" alt="{html.escape(alt)}"></p>')
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush()
    return ("<!doctype html><meta charset='utf-8'><title>HyperSynth report</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:2px 8px}img{max-width:100%}code{background:#f2f2f2;padding:0 2px}"
            "</style>" + "\n".join(body))


def _inline(text: str) -> str:
    """A line's text as HTML: escaped, with Markdown's `code` spans and **bold** (the report's inline markup); no
    bold inside a code span; outside one, a backslash-escaped character (:func:`.markdown_text.md_text`'s) is
    shown as itself and is no markup."""
    parts = re.split(r"(?<!\\)`([^`]+)`", text)  # even: plain text, odd: code spans
    return "".join(f"<code>{html.escape(part)}</code>" if i % 2 else _plain(part) for i, part in enumerate(parts))


def _plain(text: str) -> str:
    """Text outside code spans as HTML: **bold**, and backslash escapes kept out of the markup's way."""
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(html.escape(match.group(1)))
        return f"\x00{len(kept) - 1}\x00"

    shown = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(ESCAPED.sub(keep, text)))
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], shown)


def _image_source(src: str, folder: Optional[Path]) -> str:
    """An ``<img>``'s src: the picture ``src`` in ``folder`` as a base64 data URI, else the (escaped) name itself."""
    kinds = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
    path = folder / src if folder is not None else None
    kind = kinds.get(Path(src).suffix.lower())
    if path is None or kind is None or not path.is_file():
        return html.escape(src)
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


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
    return ["## Warnings", "", *(f"- {md_text(s)}" for s in unique), ""] if unique else []
