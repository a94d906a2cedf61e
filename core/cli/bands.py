"""``hypersynth bands``: a scene's bands as a table, and the ones its data suggest leaving out."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..band_screen import BandScreen, screen_file, screen_scene
from ..progress import Reporter


def screen_of(source: str, reporter: Reporter) -> tuple[BandScreen, Optional[np.ndarray], Optional[np.ndarray],
                                                       np.ndarray]:
    """``(screen, wavelengths, FWHM, flagged_good)`` of a scene: a plain raster from a few squares of its file (never
    read whole), anything else (a sensor product, a MATLAB cube) read as a run reads it."""
    from ..io.band_metadata import read_band_facts
    from ..io.read import plain_raster, read_scene

    plain = plain_raster(source)
    facts = read_band_facts(plain) if plain is not None else None
    if plain is not None and facts is not None:
        return screen_file(plain, facts.flagged_good), facts.wavelengths, facts.fwhm, facts.flagged_good
    scene = read_scene(source, reporter=reporter.sub(0.0, 1.0, "reading the scene: "))
    return screen_scene(scene), scene.wavelengths, scene.fwhm, np.asarray(scene.good_bands, dtype=bool)


def band_rows(screen: BandScreen, wavelengths: Optional[np.ndarray], fwhm: Optional[np.ndarray],
              flagged_good: np.ndarray) -> list[dict[str, Any]]:
    """One dict a band (``--json``'s ``bands``): its number from 1, wavelength and FWHM (nm, null when unknown), how
    the file flags it, its median, noise and SNR over the pixels read (null where not known: a constant band's SNR,
    one at or below zero), and why the data suggest leaving it out ("level", "snr", "constant"; null)."""
    snr = screen.snr

    def number(value: float) -> Optional[float]:
        return None if not math.isfinite(value) else round(float(value), 6)  # JSON has no NaN

    return [{"band": b + 1,
             "wavelength": None if wavelengths is None else number(wavelengths[b]),
             "fwhm": None if fwhm is None else number(fwhm[b]),
             "file": "bad" if not flagged_good[b] else "no data" if not screen.screened[b] else "",
             "median": number(screen.level[b]), "noise": number(screen.noise[b]),
             "snr": number(snr[b]) if screen.screened[b] else None,
             "suggested": "level" if screen.low_level[b] else "snr" if screen.low_snr[b] else
             "constant" if screen.constant[b] else None}
            for b in range(len(flagged_good))]


def run_bands(args: argparse.Namespace, reporter: Reporter) -> int:
    """Print the table (or with ``--json`` one object) on stdout."""
    screen, wavelengths, fwhm, good = screen_of(args.scene, reporter)
    reporter.close()
    rows = band_rows(screen, wavelengths, fwhm, good)
    if args.json:
        print(json.dumps({"scene": str(Path(args.scene)), "bands": rows, "pixels_read": screen.pixels,
                          "leave_out": screen.option_text(), "said": screen.describe(wavelengths)},
                         indent=2, allow_nan=False))
        return 0
    usable = int(good.sum())
    print(f"{Path(args.scene).name}: {len(rows)} bands, {usable} not flagged bad by the file; figures from "
          f"{screen.pixels:,} pixels")
    print(f"{'band':>5}  {'nm':>8}  {'FWHM':>6}  {'file':7}  {'median':>11}  {'noise':>10}  {'SNR ≥':>8}  suggested")
    for row in rows:
        why = {"level": "leave out (next to no light)", "snr": "leave out (mostly noise)",
               "constant": "leave out (one value throughout)"}.get(row["suggested"], "")
        print(f"{row['band']:>5}  {_shown(row['wavelength'], '.1f'):>8}  {_shown(row['fwhm'], '.1f'):>6}  "
              f"{row['file']:7}  {_shown(row['median'], '.5g'):>11}  {_shown(row['noise'], '.4g'):>10}  "
              f"{_shown(row['snr'], '.1f'):>8}  {why}")
    said = screen.describe(wavelengths, pixels=False)
    print(f"\n{said[0].upper() + said[1:]}")
    if screen.suggested.any():
        print(f"--leave-out-bands {screen.option_text()}")
    return 0


def _shown(value: Any, form: str) -> str:
    """A table cell: a number in ``form`` (".1f"), "inf" as it is, "–" for none."""
    return "–" if value is None else value if isinstance(value, str) else format(value, form)
