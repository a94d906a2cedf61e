"""A raster's band wavelengths, FWHM and bad-band flags, from its metadata alone: band tags, the ENVI header, GDAL's
IMAGERY domain, band descriptions or a NetCDF band coordinate. One reader for the engine and the plugin's composites
and spectral plots, so both see the same wavelengths."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .damaged import metadata_key, number_or_none

# "418.24 Nanometers", "band 1 (0.4 µm)", "B12 (550.0 nm)": a number followed by a length unit.
_WAVELENGTH_IN_TEXT = re.compile(
    r"([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*(nanometers?|nm|micrometers?|microns?|µm|μm|um)\b", re.IGNORECASE)
# A .mat variable or NetCDF dimension that holds band centre wavelengths.
WAVELENGTH_NAME = re.compile(r"^(wavelengths?|wave_?lengths?|wl|wvl|lambda|bands?_?cent(?:er|re)s?)(?:_nm|_um)?$",
                             re.IGNORECASE)
_FWHM_NAME = re.compile(r"^(fwhms?|bandwidths?|band_?widths?)(?:_nm|_um)?$", re.IGNORECASE)  # a NetCDF FWHM variable
# CF standard names of a band-centre wavelength coordinate.
_WAVELENGTH_STANDARD_NAMES = {"radiation_wavelength", "sensor_band_central_radiation_wavelength"}
_NANOMETRES_PER_UNIT = {**dict.fromkeys(("nanometers", "nanometer", "nanometres", "nanometre", "nm"), 1.0),
                        **dict.fromkeys(("micrometers", "micrometer", "micrometres", "micrometre", "microns", "micron",
                                         "um", "µm", "μm"), 1e3),
                        **dict.fromkeys(("millimeters", "millimeter", "millimetres", "millimetre", "mm"), 1e6),
                        **dict.fromkeys(("centimeters", "centimeter", "centimetres", "centimetre", "cm"), 1e7),
                        **dict.fromkeys(("meters", "meter", "metres", "metre", "m"), 1e9),
                        **dict.fromkeys(("angstroms", "angstrom", "ångström", "å"), 0.1)}
BAND_NUMBER_UNITS = {"index", "band", "bands", "band number", "band numbers"}  # ENVI's "Index": no wavelengths
WAVENUMBER_UNITS = {"wavenumber", "wavenumbers", "cm-1", "cm^-1", "1/cm", "cm⁻¹"}  # ENVI's "Wavenumber": 1e7 / nm
FREQUENCY_HZ = {"ghz": 1e9, "mhz": 1e6}  # ENVI's GHz and MHz: λ = c / f
PLAUSIBLE_NM = (200.0, 20_000.0)  # where an imaging spectrometer's band centres lie (UV to thermal infrared)
log = logging.getLogger("hypersynth")


@dataclass
class BandFacts:
    """What a raster's metadata says of its bands."""

    wavelengths: Optional[np.ndarray]  # (B,) centre wavelengths, nm; None when the file does not say
    fwhm: Optional[np.ndarray]  # (B,) full width at half maximum, nm; None when the file does not say
    flagged_good: np.ndarray  # (B,) bool, False where the file flags the band bad (ENVI's bbl = 0); else all True


def band_facts(ds: Any, path: Path) -> BandFacts:
    """The :class:`BandFacts` of an open rasterio dataset ``ds``, read from its metadata (no pixel); ``path``: its
    file (a NetCDF variable's container, where a FWHM variable may lie beside the wavelengths)."""
    bands = ds.count
    band_tags = [_band_tags(ds, b + 1) for b in range(bands)]
    dataset_tags = {metadata_key(k): v for k, v in ds.tags().items()}
    envi = {metadata_key(k): v for k, v in ds.tags(ns="ENVI").items()} if "ENVI" in (ds.tag_namespaces() or []) else {}
    wavelengths, fwhm = _wavelengths(ds.descriptions, band_tags, dataset_tags, envi, _imagery_wavelengths(ds, bands),
                                     path.name)
    if wavelengths is None:
        coordinate = _netcdf_band_coordinate(band_tags, dataset_tags)
        if coordinate is not None:  # a NetCDF variable whose band dimension has a wavelength coordinate
            dim, raw, units = coordinate
            wavelengths, factor = to_nanometres(raw, units, path.name)
            fwhm = _netcdf_fwhm(path, dim, bands, factor) if wavelengths is not None and factor else None
    flagged = _bad_band_list(band_tags, envi, bands, path.name)
    from .read import alpha_bands  # the readers build on this module

    for band in alpha_bands(ds):  # transparency, not light
        flagged[band - 1] = False
    return BandFacts(wavelengths, fwhm, flagged)


def read_band_facts(source: str | Path) -> Optional[BandFacts]:
    """:func:`band_facts` of a raster file or GDAL subdataset (``NETCDF:"scene.nc":radiance``), or None where GDAL
    cannot open it."""
    from rasterio.errors import RasterioIOError

    from .read import gdal_subdataset_file, opened_quietly  # the readers build on this module

    try:
        with opened_quietly(source) as ds:
            return band_facts(ds, gdal_subdataset_file(source) or Path(source))
    except RasterioIOError:
        return None


def _band_tags(ds: Any, band: int) -> dict[str, str]:
    """A band's metadata: its ENVI domain (EnMAP-Box writes wavelengths there) overlaid by the default domain."""
    tags = {metadata_key(k): v for k, v in ds.tags(band, ns="ENVI").items()} if "ENVI" in (
        ds.tag_namespaces(band) or []) else {}
    tags.update({metadata_key(k): v for k, v in ds.tags(band).items()})
    return tags


def _wavelengths(descriptions: tuple, band_tags: list[dict[str, str]], dataset_tags: dict[str, str],
                 envi: dict[str, str], imagery: tuple[Optional[np.ndarray], Optional[np.ndarray]], name: str
                 ) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Centre wavelengths and FWHM in nm from band metadata, the ENVI domain, GDAL's IMAGERY domain (``imagery``:
    :func:`_imagery_wavelengths`) or band descriptions, in that order: written values before text to parse."""
    bands = len(band_tags)
    units = dataset_tags.get("wavelength_units") or envi.get("wavelength_units")
    raw: Optional[np.ndarray] = None  # wavelengths as written in the file, in ``units``
    if all("wavelength" in t for t in band_tags):
        values = [number_or_none(t["wavelength"]) for t in band_tags]
        if all(v is not None for v in values):
            raw, units = np.array(values, dtype=np.float64), band_tags[0].get("wavelength_units", units)
    for source in (envi, dataset_tags):
        listed = _envi_list(source.get("wavelength", ""))
        if raw is None and listed is not None and len(listed) == bands:
            raw = listed
        elif raw is None and listed is not None:
            _say_list_length(name, "wavelengths", len(listed), bands, "the scene is read without wavelengths")
    if raw is None and imagery[0] is not None:
        return imagery
    if raw is None:
        found = [_WAVELENGTH_IN_TEXT.search(d or "") for d in descriptions]
        if all(found):
            raw = np.array([float(m.group(1)) for m in found if m], dtype=np.float64)
            units = found[0].group(2) if found[0] else None
    if raw is None:
        return None, None
    wavelengths, factor = to_nanometres(raw, units, name)
    if wavelengths is None:
        return None, None
    raw_fwhm: Optional[np.ndarray] = None
    if all("fwhm" in t for t in band_tags):
        values = [number_or_none(t["fwhm"]) for t in band_tags]
        if all(v is not None for v in values):
            raw_fwhm = np.array(values, dtype=np.float64)
    if raw_fwhm is None:
        raw_fwhm = _envi_list(envi.get("fwhm", ""))
        if raw_fwhm is not None and len(raw_fwhm) != bands:
            _say_list_length(name, "FWHM values", len(raw_fwhm), bands, "the bands are read without their FWHM")
    fwhm = (raw_fwhm * factor if raw_fwhm is not None and factor is not None and len(raw_fwhm) == bands
            else None)  # the centres' unit
    return wavelengths, fwhm


def _say_list_length(name: str, what: str, listed: int, bands: int, so: str) -> None:
    """Warn of a header list of another length than the bands (review: left out without a word)."""
    log.warning("%s: its header lists %d %s for its %d bands: %s; correct the header's list", name, listed, what,
                bands, so)


def _imagery_wavelengths(ds: Any, bands: int) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Centre wavelengths and FWHM in nm from GDAL's IMAGERY domain (``CENTRAL_WAVELENGTH_UM``, ``FWHM_UM`` per band,
    as GDAL 3.10 and later set them for ENVI and several sensor formats), when every band has one."""
    imagery = [ds.tags(b + 1, ns="IMAGERY") for b in range(bands)]  # {} where the band has none
    centres = [number_or_none(t.get("CENTRAL_WAVELENGTH_UM")) for t in imagery]
    if not bands or any(c is None for c in centres):
        return None, None
    widths = [number_or_none(t.get("FWHM_UM")) for t in imagery]
    fwhm = None if any(w is None for w in widths) else np.array(widths, dtype=np.float64) * 1e3
    return np.array(centres, dtype=np.float64) * 1e3, fwhm


def _bad_band_list(band_tags: list[dict[str, str]], envi: dict[str, str], bands: int, name: str) -> np.ndarray:
    """ENVI's bad band list (``bbl``: 1 good, 0 bad) per band or at dataset level; all good if absent or of another
    length than the bands (said)."""
    if all("bbl" in t for t in band_tags):
        values = [number_or_none(t["bbl"]) for t in band_tags]
        if all(v is not None for v in values):
            return np.array([v != 0 for v in values], dtype=bool)
    listed = _envi_list(envi.get("bbl", ""))
    if listed is not None and len(listed) == bands:
        return listed != 0
    if listed is not None:
        _say_list_length(name, "bad-band flags (bbl)", len(listed), bands,
                         f"none is taken, so its {int((listed == 0).sum())} flagged bad are used too")
    return np.ones(bands, dtype=bool)


def netcdf_wavelengths_across(dataset_tags: dict[str, str]) -> Optional[str]:
    """The wavelength dimension of a NetCDF variable that GDAL reads as its rows or columns, or None.

    GDAL's netCDF driver takes a variable's last two dimensions as rows and columns and the others as bands
    (``NETCDF_DIM_EXTRA``): a ``(y, x, wavelength)`` variable comes out as y bands of x × wavelength pixels. It is
    known by a wavelength-named coordinate (``<dim>#units``) that is not the band dimension, where the band
    dimension is not wavelength-named itself. ``dataset_tags``: the dataset's tags, keys through :func:`metadata_key`.
    """
    if "netcdf_dim_extra" not in dataset_tags:
        return None
    extra = [metadata_key(d.strip()) for d in dataset_tags["netcdf_dim_extra"].strip("{} ").split(",") if d.strip()]
    if any(WAVELENGTH_NAME.match(d) for d in extra):
        return None
    for key in dataset_tags:
        dim = key[:-len("#units")] if key.endswith("#units") else None
        if dim and WAVELENGTH_NAME.match(dim) and dim not in extra:
            return dim
    return None


def _netcdf_band_coordinate(band_tags: list[dict[str, str]], dataset_tags: dict[str, str]
                            ) -> Optional[tuple[str, np.ndarray, Optional[str]]]:
    """The band dimension, its coordinate values and their units of a NetCDF variable, when they are wavelengths.

    GDAL's netCDF driver gives each band ``NETCDF_DIM_<dim>=<value>`` and the dataset ``<dim>#units``; a dimension
    without a coordinate variable gets band numbers instead and no ``NETCDF_DIM_<dim>_VALUES``. The dimension counts
    as wavelengths when its name or CF standard name says so, or its units are nm or µm (not e.g. a depth in m).
    """
    extra = [d.strip() for d in dataset_tags.get("netcdf_dim_extra", "").strip("{} ").split(",") if d.strip()]
    if len(extra) != 1:
        return None
    dim = extra[0]
    key = metadata_key(dim)
    if f"netcdf_dim_{key}_values" not in dataset_tags:
        return None
    units = dataset_tags.get(f"{key}#units")
    standard_name = (dataset_tags.get(f"{key}#standard_name") or "").strip().lower()
    named = bool(WAVELENGTH_NAME.match(dim)) or standard_name in _WAVELENGTH_STANDARD_NAMES
    if not named and _NANOMETRES_PER_UNIT.get((units or "").strip().lower(), math.inf) > 1e3:
        return None
    values = [number_or_none(t.get(f"netcdf_dim_{key}")) for t in band_tags]
    if any(v is None for v in values):
        return None
    return dim, np.array(values, dtype=np.float64), units


def _netcdf_fwhm(path: Path, dim: str, bands: int, factor: float) -> Optional[np.ndarray]:
    """The FWHM in nm beside a NetCDF wavelength coordinate: a 1-D root variable named fwhm or bandwidth on the band
    dimension, in its own units, else in those of the wavelengths (``factor`` to nm)."""
    from osgeo import gdal

    try:
        ds = gdal.OpenEx(str(path), gdal.OF_MULTIDIM_RASTER)
        root = ds.GetRootGroup() if ds is not None else None
        for name in (root.GetMDArrayNames() or []) if root is not None else []:
            array = root.OpenMDArray(name) if _FWHM_NAME.match(name) else None
            dims = array.GetDimensions() if array is not None else []
            if len(dims) == 1 and dims[0].GetName() == dim and dims[0].GetSize() == bands:
                unit_factor = _NANOMETRES_PER_UNIT.get((array.GetUnit() or "").strip().lower(), factor)
                return np.asarray(array.ReadAsArray(), dtype=np.float64) * unit_factor
    except RuntimeError:  # with gdal.UseExceptions() on, a failed open or read raises instead of giving None
        return None
    return None


def nanometres_per_unit(units: Optional[str], values: np.ndarray) -> float:
    """The factor to nm for a wavelength unit; with no (or an unknown) unit, values below 30 are taken as µm."""
    factor = _NANOMETRES_PER_UNIT.get((units or "").strip().lower())
    if factor is not None:
        return factor
    return 1000.0 if np.nanmax(values) < 30 else 1.0


def to_nanometres(raw: np.ndarray, units: Optional[str], name: str) -> tuple[Optional[np.ndarray], Optional[float]]:
    """Band centres ``raw`` written in ``units`` as nm, and the factor that takes their FWHM to nm (None where the
    unit is no linear one: a wavenumber, a frequency). Band numbers (ENVI's "Index", or 1, 2, 3… without a unit) are
    no wavelengths: None. Values in the other unit of nm and µm than the header says (400 "Micrometers") are read in
    it, and values that are no wavelength in either are left out, each with a warning naming ``name`` (review: read
    as 400,000 nm, or band numbers as 1–40 nm, without a word)."""
    unit = (units or "").strip().lower()
    values = np.asarray(raw, dtype=np.float64)
    consecutive = values.size > 1 and np.all(np.diff(values) == 1) and values[0] in (0, 1)
    if unit in BAND_NUMBER_UNITS or (unit in ("", "unknown") and consecutive):
        log.info("%s: its band 'wavelengths' are band numbers (%s): the scene is read without wavelengths", name,
                 units or "1, 2, 3…")
        return None, None
    if unit in WAVENUMBER_UNITS:
        with np.errstate(divide="ignore"):
            return _plausible(1e7 / values, units, name), None
    if unit in FREQUENCY_HZ:
        with np.errstate(divide="ignore"):
            return _plausible(299_792_458.0 * 1e9 / (values * FREQUENCY_HZ[unit]), units, name), None
    factor = nanometres_per_unit(units, values)
    nm = values * factor
    low, high = PLAUSIBLE_NM
    if np.all((nm >= low) & (nm <= high)):
        return nm, factor
    for other in (1.0, 1e3):  # nm and µm swapped: the values say which
        if other != factor and np.all((values * other >= low) & (values * other <= high)):
            log.warning("%s: its wavelengths %g–%g are said to be in %s, which gives %g–%g nm; read as %s instead",
                        name, float(values.min()), float(values.max()), units or "no unit", float(nm.min()),
                        float(nm.max()), "nm" if other == 1.0 else "µm")
            return values * other, other
    return _plausible(nm, units, name), factor


def _plausible(nm: np.ndarray, units: Optional[str], name: str) -> Optional[np.ndarray]:
    """``nm`` where every value lies in :data:`PLAUSIBLE_NM`, else None with a warning: a header's unit misread."""
    low, high = PLAUSIBLE_NM
    if np.all(np.isfinite(nm) & (nm >= low) & (nm <= high)):
        return nm
    log.warning("%s: its wavelengths in %s give %s nm, not the %g–%g nm of an imaging spectrometer: the scene is "
                "read without wavelengths; check the header's wavelength units", name, units or "no unit",
                f"{np.nanmin(nm):g}–{np.nanmax(nm):g}" if np.isfinite(nm).any() else "no finite", low, high)
    return None


def _envi_list(text: Any) -> Optional[np.ndarray]:
    """``"{ 1.0, 2.0 , 3 }"`` -> array; None when the text is not a list of numbers."""
    if not isinstance(text, str) or not text.strip():
        return None
    parts = [p for p in re.split(r"[,\s]+", text.strip().strip("{}").strip()) if p]
    values = [number_or_none(p) for p in parts]
    if not values or any(v is None for v in values):
        return None
    return np.array(values, dtype=np.float64)
