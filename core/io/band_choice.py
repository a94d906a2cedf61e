"""Bands an analyst leaves out of a scene (water-vapour windows, noisy detector edges), by number or wavelength."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..scene import Scene

# What the bands to leave out look like, for help texts and messages (the numbers: an AVIRIS cube's 224 bands, whose
# water-vapour windows EHU leaves out of Salinas)
LEAVE_OUT_FORMAT = ("band numbers (1 = the first band), ranges of them and wavelength ranges, separated by commas: "
                    "'108-112, 154-167, 224' or '1340-1450nm, 1790-1960nm'")


class BandChoiceError(ValueError):
    """Bands to leave out that cannot be meant; the message says what to give. Callers name their option by it."""


_NUMBER = r"\d+(?:\.\d*)?"
_BANDS = re.compile(r"^(\d+)(?:\s*[-–]\s*(\d+))?$")
_UNIT = r"(nm|um|µm|μm)"
# 1340-1450nm, and 1340nm-1450nm too
_WAVELENGTHS = re.compile(rf"^({_NUMBER})\s*(?:{_UNIT})?\s*[-–]\s*({_NUMBER})\s*{_UNIT}$", re.IGNORECASE)
_ONE_WAVELENGTH = re.compile(rf"^{_NUMBER}\s*{_UNIT}$", re.IGNORECASE)


@dataclass(frozen=True)
class BandRange:
    """One item of the bands to leave out: band numbers (from 1) or wavelengths (nm), both ends included."""

    text: str  # as the analyst wrote it, for messages
    low: float
    high: float
    by_wavelength: bool


def parse_bands_to_leave_out(text: str) -> list[BandRange]:
    """The items of ``text`` (:data:`LEAVE_OUT_FORMAT`), checked for form and order alone, so that a mistake is said
    before a scene is read; :func:`bands_left_out` then finds them in the scene.

    Raises:
        BandChoiceError: nothing given, items of no known form, ranges given high to low: every such item, each with
            what to give instead.
    """
    ranges, problems = [], []
    for item in _items(text):
        try:
            ranges.append(_band_range(item))
        except BandChoiceError as problem:
            problems.append(str(problem))
    _refuse(problems)
    return ranges


def _items(text: str) -> list[str]:
    """The items of ``text``, split at commas, semicolons or "and"; refused when there are none. A list as a report
    writes it reads too ("bands 108–112 (1339–1378 nm), 154–167 (…) and 224 (2497 nm)"): its words "band(s)" and
    its wavelengths in brackets are dropped, the band numbers kept."""
    plain = re.sub(r"(?<=\d)\s*\([^)]*\)", " ", text or "")  # a report's wavelengths after its band numbers
    plain = re.sub(r"(?i)\bbands?\b", " ", plain)
    items = [item.strip() for item in re.split(r"[,;]|\band\b", plain) if item.strip()]
    if not items:
        raise BandChoiceError(f"no bands given to leave out; give {LEAVE_OUT_FORMAT}")
    return items


def _band_range(item: str) -> BandRange:
    """One item of the bands to leave out, read."""
    by_number, by_wavelength = _BANDS.match(item), _WAVELENGTHS.match(item)
    if by_number:
        first, last = int(by_number.group(1)), int(by_number.group(2) or by_number.group(1))
        _check_order(item, first, last, f"{last}-{first}")
        return BandRange(item, first, last, by_wavelength=False)
    if by_wavelength:
        first_unit, unit = (by_wavelength.group(2) or by_wavelength.group(4)).lower(), by_wavelength.group(4).lower()
        if (first_unit == "nm") != (unit == "nm"):
            raise BandChoiceError(f"'{item}' gives its ends in different units; give both in nm or both in µm")
        to_nm = 1.0 if unit == "nm" else 1000.0
        low, high = float(by_wavelength.group(1)), float(by_wavelength.group(3))
        _check_order(item, low, high, f"{by_wavelength.group(3)}-{by_wavelength.group(1)}{by_wavelength.group(4)}")
        return BandRange(item, low * to_nm, high * to_nm, by_wavelength=True)
    if _ONE_WAVELENGTH.match(item):
        raise BandChoiceError(f"'{item}' is one wavelength; give a range of them (e.g. {_example_range(item)}) or the "
                              f"band's number")
    raise BandChoiceError(f"'{item}' is neither a band number (224), a range of them (108-112) nor a wavelength "
                          f"range (1340-1450nm); give {LEAVE_OUT_FORMAT}")


def _refuse(problems: list[str]) -> None:
    """Raise every problem found at once, so the analyst fixes them in one go."""
    if problems:
        raise BandChoiceError("; ".join(problems))


def bands_left_out(text: str, bands: int, wavelengths: Optional[Sequence[float]] = None) -> np.ndarray:
    """``(bands,)`` bool, True for each band ``text`` names (:data:`LEAVE_OUT_FORMAT`): band numbers counted from 1 as
    QGIS and GDAL number them, inclusive ranges of them, and inclusive wavelength ranges in nm or µm, which take every
    band whose centre wavelength (``wavelengths``, nm) lies in them.

    Raises:
        BandChoiceError: what :func:`parse_bands_to_leave_out` refuses, a band number outside the scene, a wavelength
            range for a scene without wavelengths or one that holds no band; the message says what to give.
    """
    chosen = np.zeros(bands, dtype=bool)
    problems = []
    for item in _items(text):
        try:
            chosen |= _in_scene(_band_range(item), bands, wavelengths)
        except BandChoiceError as problem:  # every item's, of form or of the scene, said at once
            problems.append(str(problem))
    _refuse(problems)
    return chosen


def _in_scene(item: BandRange, bands: int, wavelengths: Optional[Sequence[float]]) -> np.ndarray:
    """``(bands,)`` bool: the bands of the scene ``item`` names."""
    if item.by_wavelength:
        return _in_wavelength_range(item, wavelengths)
    outside = [band for band in (int(item.low), int(item.high)) if not 1 <= band <= bands]
    if outside:
        given = "" if item.text == str(outside[0]) else f" (in '{item.text}')"
        meant = (f" (a wavelength range? give its unit: {item.text}nm)" if wavelengths is not None
                 and 300 <= item.low <= item.high <= 2600 and "-" in item.text else "")
        raise BandChoiceError(f"band {outside[0]}{given} is not in the scene: its bands are numbered 1 to {bands}"
                              f"{meant}")
    chosen = np.zeros(bands, dtype=bool)
    chosen[int(item.low) - 1:int(item.high)] = True
    return chosen


@dataclass(frozen=True)
class LeftOut:
    """What naming bands to leave out does to a scene's usable bands."""

    new: np.ndarray  # (B,) bool: the bands named that were usable, flagged bad now
    already: np.ndarray  # (B,) bool: the bands named that were flagged bad already (nothing changes for them)

    def describe(self, wavelengths: Optional[Sequence[float]] = None) -> str:
        """"bands 1–3 (…)", and " (not band 108 (…), flagged bad already)" where some named were."""
        said = describe_bands(self.new, wavelengths)
        if self.already.any():
            said += f" (not {describe_bands(self.already, wavelengths)}, flagged bad already)"
        return said


def newly_left_out(text: str, good: np.ndarray, wavelengths: Optional[Sequence[float]] = None) -> LeftOut:
    """The bands ``text`` names (:func:`bands_left_out`) that ``good`` ``(B,)`` still has as usable, and those it
    names that are flagged bad already.

    Raises:
        BandChoiceError: as :func:`bands_left_out`; every band named is flagged bad already (nothing would change), or
            none would be left usable.
    """
    good = np.asarray(good, dtype=bool)
    named = bands_left_out(text, good.size, wavelengths)
    new = named & good
    if not new.any():
        raise BandChoiceError(f"{describe_bands(named, wavelengths)} {'are' if named.sum() > 1 else 'is'} flagged bad "
                              f"already; name bands still usable")
    if not (good & ~new).any():
        raise BandChoiceError(f"leaving out {describe_bands(new, wavelengths)} would leave the scene no usable band; "
                              f"name fewer")
    return LeftOut(new, named & ~good)


def leave_out_in_run(scene: "Scene", text: str, told_by: str = "as the run was told") -> LeftOut:
    """Leave the bands ``text`` names (:func:`bands_left_out`) out of ``scene`` for one run, in place: they are
    flagged bad in its ``good_bands`` and kept in its ``named_left_out`` (every band named, those the file flags too:
    what the analyst said, given again on another scene of the sensor), so the run and its report leave them out as
    they would a file's flagged bands. The scene's file is not touched and its valid pixels stay as read: the run
    gives what a run on the scene imported with these bands left out gives (:func:`.convert.import_scene`).

    Unlike an import, naming only bands the file flags bad already is no mistake here: the run leaves them out either
    way (the returned ``already`` says which). ``told_by``: who named them, kept in the scene's ``told_by`` for the
    report.

    Raises:
        BandChoiceError: as :func:`bands_left_out`, or no usable band would be left.
    """
    good = np.asarray(scene.good_bands, dtype=bool)
    named = bands_left_out(text, good.size, scene.wavelengths)
    new = named & good
    if not (good & ~new).any():
        raise BandChoiceError(f"leaving out {describe_bands(new, scene.wavelengths)} would leave the scene no usable "
                              f"band; name fewer")
    scene.good_bands = good & ~new
    left_out = LeftOut(new, named & ~good & ~_named(scene))
    earlier = scene.named_left_out
    if earlier is not None and earlier.any() and told_by != scene.told_by:  # a second list for the same run: both
        # kept, with both reasons (review: the first list's bands were reported as flagged by the file)
        named, told_by = named | earlier, f"{scene.told_by}, or {told_by}"
    scene.named_left_out, scene.told_by = named, told_by
    return left_out


def _named(scene: "Scene") -> np.ndarray:
    """``(B,)`` bool: the bands named to be left out of ``scene`` so far (none: all False)."""
    earlier = scene.named_left_out
    return np.zeros(scene.bands, dtype=bool) if earlier is None else np.asarray(earlier, dtype=bool)


def band_numbers_text(chosen: np.ndarray) -> str:
    """The bands ``chosen`` ``(B,)`` marks as :data:`LEAVE_OUT_FORMAT` reads them ("108-112,154-167,224"), for
    saving them where they are given again (a classifier bundle's training run's)."""
    return ",".join(f"{a + 1}" if a == b else f"{a + 1}-{b + 1}" for a, b in _runs(np.flatnonzero(chosen)))


def told_bands_text(scene: "Scene") -> str:
    """The bands a run on ``scene`` was told to leave out (its ``named_left_out``) as they are given again
    ("108-112,224"), for a saved model and the report; "" where it was told none."""
    told = scene.named_left_out
    return band_numbers_text(told) if told is not None and told.any() else ""


def describe_bands(chosen: np.ndarray, wavelengths: Optional[Sequence[float]] = None) -> str:
    """The bands ``chosen`` marks as runs of band numbers with their wavelengths: "bands 104–108 (1339–1378 nm) and
    220 (2497 nm)"."""
    runs = _runs(np.flatnonzero(chosen))
    if not runs:
        return "no band"
    parts = []
    for first, last in runs:
        part = f"{first + 1}" if first == last else f"{first + 1}–{last + 1}"
        if wavelengths is not None:
            low, high = float(wavelengths[first]), float(wavelengths[last])
            part += f" ({low:.0f} nm)" if first == last else f" ({low:.0f}–{high:.0f} nm)"
        parts.append(part)
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"band{'s' if chosen.sum() > 1 else ''} {listed}"


def _in_wavelength_range(item: BandRange, wavelengths: Optional[Sequence[float]]) -> np.ndarray:
    """The bands whose centre lies in the wavelength range ``item``."""
    if wavelengths is None:
        raise BandChoiceError(f"'{item.text}' is a wavelength range, but the scene has no wavelengths; give band "
                              f"numbers instead (e.g. 108-112)")
    centres = np.asarray(wavelengths, dtype=float)
    inside = (centres >= item.low) & (centres <= item.high)
    if not inside.any():
        below, above = np.flatnonzero(centres < item.low), np.flatnonzero(centres > item.high)
        nearest = ([below[np.argmax(centres[below])]] if below.size else []) + \
            ([above[np.argmin(centres[above])]] if above.size else [])
        near = " and ".join(f"{centres[b]:.1f} nm (band {b + 1})" for b in nearest)
        raise BandChoiceError(f"'{item.text}' holds no band of the scene (the nearest: {near})")
    return inside


def _check_order(item: str, first: float, last: float, swapped: str) -> None:
    if last < first:
        raise BandChoiceError(f"'{item}' runs from high to low; give the lower end first ({swapped})")


def _example_range(item: str) -> str:
    number = float(re.match(_NUMBER, item).group(0))
    unit = item[len(re.match(_NUMBER, item).group(0)):].strip()
    step = 50 if unit.lower() == "nm" else 0.05
    return f"{number - step:g}-{number + step:g}{unit}"


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs ``(first, last)`` of sorted indices."""
    runs: list[tuple[int, int]] = []
    for i in indices.tolist():
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs
