"""What a raster's pixel values are (reflectance, radiance, units, scaling), from its metadata alone: the value axis of
the report's spectra and of the plugin's spectral plots, one reading for both."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .convert import PRODUCT_TAG
from .damaged import metadata_key

# Imported products (the GeoTIFF's PRODUCT_TAG item): what their values are, by the product's name. The import writes
# physical values (the products' own scaling applied).
PRODUCT_QUANTITIES = ((re.compile(r"^ENMAP\d\d-.*L2A", re.IGNORECASE), "Reflectance"),
                      (re.compile(r"^EMIT_L2A_RFL", re.IGNORECASE), "Reflectance"),
                      (re.compile(r"^EMIT_L1B_RAD", re.IGNORECASE), "Radiance"),
                      (re.compile(r"^PRS_L2[CD]", re.IGNORECASE), "Reflectance"),
                      (re.compile(r"^PRS_L2B", re.IGNORECASE), "Radiance"))
RADIANCE_UNITS = re.compile(r"w\b.*\bsr\b")  # watts per steradian: "W/(m2 sr um)", "uW cm-2 sr-1 nm-1" (lower case)
VALUE_AS_READ = "Pixel value"  # the value axis when the scene does not say what its values are (QGIS's word too)


@dataclass(frozen=True)
class PixelValues:
    """What a raster's pixel values are, as far as its metadata says: the name of a spectral plot's value axis."""

    quantity: Optional[str] = None  # "Reflectance" or "Radiance"; None when the file does not say
    units: str = ""  # e.g. "W/(m2 sr um)", as the file writes them; "" when it does not say
    scale: float = 1.0  # GDAL's scale of the stored values, which QGIS applies (so the plot shows scaled values)
    offset: float = 0.0  # GDAL's offset, applied likewise
    reflectance_factor: Optional[float] = None  # ENVI's reflectance scale factor: QGIS shows reflectance × this

    def axis_title(self, short: bool = False) -> str:
        """The value axis of the values as QGIS shows them (stored values, GDAL's scale and offset applied):
        "Reflectance", "Reflectance × 10000", "Radiance (units)", "Pixel value (scale 0.0001 applied)", or plain
        "Pixel value".

        ``short``: the quantity alone, without units or the scale applied (for an axis too short for the whole);
        ENVI's reflectance factor stays, the numbers would read wrong without it.
        """
        if self.quantity is not None:
            factor = f" × {self.reflectance_factor:g}" if self.reflectance_factor not in (None, 1.0) else ""
            return f"{self.quantity}{factor}{f' ({self.units})' if self.units and not short else ''}"
        if short:
            return "Pixel value"
        if self.units:
            return f"Pixel value ({self.units})"
        applied = [f"scale {self.scale:g}"] if self.scale != 1.0 else []
        applied += [f"offset {self.offset:g}"] if self.offset != 0.0 else []
        return f"Pixel value ({', '.join(applied)} applied)" if applied else "Pixel value"

    def engine_title(self) -> str:
        """The value axis of the values as the engine reads them (GDAL's scale and offset and ENVI's reflectance
        factor applied): "Reflectance", "Radiance (units)"; a scene that does not name its quantity as QGIS shows it
        ("Pixel value (DN)", "Pixel value (scale 0.0001 applied)", :data:`VALUE_AS_READ`): QGIS and the engine both
        apply GDAL's scale and offset, so the report and the plugin's plots name those values alike."""
        if self.quantity is not None:
            return f"{self.quantity}{f' ({self.units})' if self.units else ''}"
        return self.axis_title()

    def from_engine(self, values: np.ndarray) -> np.ndarray:
        """Values the engine gives (a run's synthetic spectra, a preview's) in :meth:`axis_title`'s units: the engine
        applies ENVI's reflectance scale factor as it reads a scene, QGIS shows the stored values without it (GDAL's
        scale and offset both apply)."""
        return np.asarray(values, dtype=float) * (self.reflectance_factor or 1.0)


def unit_type_for(values: str) -> Optional[str]:
    """GDAL's band unit type for values named as :func:`engine_value_title` names them: "reflectance", the units of
    "Radiance (units)" or "Pixel value (units)", else None ("Pixel value (scale 0.0001 applied)" names no unit): what
    a GeoTIFF the engine writes of them says, so that it reads back named the same."""
    if values.startswith("Reflectance"):
        return "reflectance"
    units = values[values.find("(") + 1:-1] if values.endswith(")") and "(" in values else ""
    if units.endswith(" applied"):
        units = ""
    return units or ("radiance" if values.startswith("Radiance") else None)


def quantity_in(text: str) -> Optional[str]:
    """"Reflectance" or "Radiance" when ``text`` (a unit, a plot title) names one or has radiance's units."""
    lowered = text.lower()
    if "reflect" in lowered:
        return "Reflectance"
    if "radiance" in lowered or RADIANCE_UNITS.search(lowered):
        return "Radiance"
    return None


def product_quantity(name: str) -> Optional[str]:
    """"Reflectance" or "Radiance" for a sensor product's name (EnMAP L2A, EMIT, PRISMA: :data:`PRODUCT_QUANTITIES`),
    else None."""
    return next((quantity for pattern, quantity in PRODUCT_QUANTITIES if name and pattern.match(name)), None)


def engine_value_title(source: Optional[str | Path]) -> str:
    """:meth:`PixelValues.engine_title` of the raster ``source``; a sensor product the engine reads from its own
    files (it applies the product's scaling as it reads) is named by its file name, as an imported one is by its
    tag. QGIS shows such a file's stored values, so the plugin's plots keep :func:`read_pixel_values`'s title."""
    values = read_pixel_values(source)
    if values.quantity is None and source:
        quantity = product_quantity(Path(str(source)).name)
        if quantity is not None:
            return quantity
    return values.engine_title()


def read_pixel_values(source: Optional[str | Path]) -> PixelValues:
    """What the values of a raster file or GDAL subdataset are, from its metadata alone: an imported product's name,
    its first band's unit type, a units item of the dataset, the ENVI header's ``reflectance scale factor`` or
    ``z plot titles``; and GDAL's scale and offset. A file GDAL cannot open (a .mat, a product archive), or none,
    says nothing: ``PixelValues()``."""
    from rasterio.errors import RasterioIOError

    from .read import opened_quietly  # the readers build on this package's modules

    if not source:
        return PixelValues()
    try:
        with opened_quietly(source) as ds:
            if ds.count == 0:
                return PixelValues()
            scale, offset = float(ds.scales[0] or 1.0), float(ds.offsets[0] or 0.0)
            unit = (ds.units[0] or "").strip()
            tags = {metadata_key(k): v for k, v in ds.tags().items()}
            envi = {metadata_key(k): v for k, v in ds.tags(ns="ENVI").items()} \
                if "ENVI" in (ds.tag_namespaces() or []) else {}
    except RasterioIOError:
        return PixelValues()
    quantity = product_quantity(tags.get(metadata_key(PRODUCT_TAG), ""))
    if quantity is not None:
        return PixelValues(quantity, "", scale, offset)
    unit = unit or next((v.strip() for k, v in tags.items() if "unit" in k and "wavelength" not in k and v.strip()), "")
    factor = None
    if "reflectance_scale_factor" in envi and scale == 1.0 and offset == 0.0:  # GDAL (and QGIS) leave it unapplied
        try:
            factor = float(envi["reflectance_scale_factor"])
        except ValueError:
            factor = None
    titles = envi.get("z_plot_titles", "").strip("{} ").split(",")  # "{Wavelength [nm], Reflectance}"
    quantity = quantity_in(unit) or ("Reflectance" if factor else None) or (
        quantity_in(titles[1]) if len(titles) > 1 else None)
    units = "" if quantity_in(unit) == "Reflectance" else unit  # "reflectance" as a unit names the quantity only
    return PixelValues(quantity, units, scale, offset, factor)
