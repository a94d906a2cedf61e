"""How spaceborne products name their files and ZIPs: EnMAP's image and its siblings, PRISMA L2, EMIT and its MASK."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

# EnMAP (DLR): "ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z-SPECTRAL_IMAGE.TIF" and
# "...-METADATA.XML", "...-QL_QUALITY_CLOUD.TIF"… in one product folder; EOLab's ARD copies name the image
# "-SPECTRAL_IMAGE_COG.TIF". Group 1 is the product's stem.
ENMAP_L2A_IMAGE = re.compile(r"^(ENMAP\d\d-.*L2A.*)-SPECTRAL_IMAGE(?:_COG)?\.(?:tiff?|bsq|bil|bip)$", re.IGNORECASE)
ENMAP_L2A_METADATA = re.compile(r"^(ENMAP\d\d-.*L2A.*)-METADATA\.xml$", re.IGNORECASE)
# PRISMA (ASI): "PRS_L2D_STD_20200524103704_20200524103708_0001.he5"; group 1 is the level's letter.
PRISMA_L2_FILE = re.compile(r"^PRS_L2([BCD])_.*\.he5$", re.IGNORECASE)
# EMIT (NASA): "EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc"; group 1 the product, group 2 the acquisition
# ("20230801T180000_2321312_004"), which the L2A MASK granule of the same acquisition shares.
EMIT_GRANULE = re.compile(r"^EMIT_(L2A_RFL|L1B_RAD)_\d+_(\d{8}T\d{6}_\d+_\d+).*\.nc$", re.IGNORECASE)
EMIT_KINDS = {"L2A_RFL": "EMIT L2A reflectance", "L1B_RAD": "EMIT L1B radiance"}  # the product in words
# The ZIP a product is delivered in, inside an order's .tar.gz: DLR's "ENMAP01-____L2A-DT0000001867_20220724T104526Z
# _008_V010302_20230628T165614Z.ZIP" holds the product folder; ASI's "PRS_L2D_STD_…_0001.zip" holds the .he5. Group 1
# is the product's name; PRISMA's group 2 the level's letter.
ENMAP_L2A_ZIP = re.compile(r"^(ENMAP\d\d-.*L2A.*)\.zip$", re.IGNORECASE)
PRISMA_L2_ZIP = re.compile(r"^(PRS_L2([BCD])_.*)\.zip$", re.IGNORECASE)


def enmap_file(image: Path, stem: str, part: str) -> Optional[Path]:
    """The file ``<stem>-<part>`` beside an EnMAP image (``part`` as DLR names it, "METADATA.XML",
    "QL_QUALITY_CLOUD.TIF"), in DLR's upper-case or in lower-case extension; None when neither is there."""
    base, _, extension = part.rpartition(".")
    return next((p for p in (image.with_name(f"{stem}-{part}"), image.with_name(f"{stem}-{base}.{extension.lower()}"))
                 if p.is_file()), None)


def emit_acquisition(name: str) -> Optional[str]:
    """The acquisition an EMIT L2A RFL or L1B RAD granule's file ``name`` is of, or None for another name."""
    named = EMIT_GRANULE.match(name)
    return named.group(2) if named is not None else None


def is_emit_mask_of(name: str, acquisition: str) -> bool:
    """Whether the file ``name`` is an EMIT L2A MASK granule (any version) of ``acquisition``."""
    return re.match(rf"^EMIT_L2A_MASK_\d+_{re.escape(acquisition)}.*\.nc$", name, re.IGNORECASE) is not None



def product_images_in(folder: Path) -> list[Path]:
    """The product images a folder (or a folder in it: an unpacked EnMAP delivery) holds: EnMAP L2A spectral images,
    PRISMA L2 .he5 files and EMIT L2A/L1B granules, sorted; an analyst gives the product's folder as the scene."""
    found = []
    for level in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())):
        found += [p for p in level.iterdir() if p.is_file() and (ENMAP_L2A_IMAGE.match(p.name) or
                                                                 PRISMA_L2_FILE.match(p.name) or
                                                                 EMIT_GRANULE.match(p.name))]
    return sorted(found)
