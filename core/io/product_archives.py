"""Sensor products delivered as a ZIP (EnMAP, PRISMA orders): found inside, unpacked beside it to be read, removed."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from ..outputs import write_problem
from .product_names import EMIT_GRANULE, EMIT_KINDS, ENMAP_L2A_IMAGE, PRISMA_L2_FILE, is_emit_mask_of
from .read import SceneReadError
UNPACK_PREFIX = ".hypersynth-unpacked-"  # the temporary folder a product is unpacked into, removed after reading


@dataclass(frozen=True)
class ArchivedProduct:
    """A product found inside a ZIP archive."""

    archive: Path  # the ZIP
    kind: str  # in words, as ProductFacts.kind: "EnMAP L2A", "PRISMA L2D", "EMIT L2A reflectance"
    name: str  # the product's name (EnMAP's stem without "-SPECTRAL_IMAGE", else the file's stem)
    member: str  # the archive member the scene is read from (EnMAP's image, PRISMA's .he5, EMIT's .nc)
    members: tuple[str, ...]  # the members to unpack: that one and those its reader looks for beside it


def is_archive(path: str | Path) -> bool:
    """Whether ``path`` is a ZIP file (named .zip), the only archive a product is opened from."""
    path = Path(path)
    return path.suffix.lower() == ".zip" and path.is_file() and zipfile.is_zipfile(path)


def archived_product(path: Path) -> ArchivedProduct:
    """The one EnMAP L2A, PRISMA L2 or EMIT product inside the ZIP ``path``.

    Raises:
        SceneReadError: the archive is damaged, holds no such product, or holds several.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError) as err:
        raise SceneReadError(f"cannot read the archive {path}: {err}; download it again") from err
    found = [_product_of(name, names) for name in names]
    products = [p for p in found if p is not None]
    if not products:
        raise SceneReadError(f"{path.name} holds no EnMAP L2A, PRISMA L2 or EMIT product; unpack it and open the "
                             f"scene inside")
    if len(products) > 1:
        listed = ", ".join(p[1] for p in products[:4]) + (" …" if len(products) > 4 else "")
        raise SceneReadError(f"{path.name} holds {len(products)} products ({listed}); unpack it and open one of them")
    kind, name, member, members = products[0]
    return ArchivedProduct(path, kind, name, member, members)


def _product_of(name: str, names: list[str]) -> Optional[tuple[str, str, str, tuple[str, ...]]]:
    """(kind, product name, member, members to unpack) when the archive member ``name`` is a product's main file."""
    folder, base = os.path.split(name)
    enmap = ENMAP_L2A_IMAGE.match(base)
    if enmap is not None:  # the image, its METADATA.XML and QL_QUALITY_* layers: every file of the product
        stem = enmap.group(1)
        return "EnMAP L2A", stem, name, tuple(n for n in names if os.path.dirname(n) == folder
                                              and os.path.basename(n).upper().startswith(stem.upper() + "-"))
    prisma = PRISMA_L2_FILE.match(base)
    if prisma is not None:
        return f"PRISMA L2{prisma.group(1).upper()}", Path(base).stem, name, (name,)
    emit = EMIT_GRANULE.match(base)
    if emit is not None:  # with the MASK granule of the same acquisition when the archive holds it
        masks = tuple(n for n in names if os.path.dirname(n) == folder
                      and is_emit_mask_of(os.path.basename(n), emit.group(2)))
        return EMIT_KINDS[emit.group(1).upper()], Path(base).stem, name, (name, *masks)
    return None


@contextmanager
def unpacked(product: ArchivedProduct) -> Iterator[Path]:
    """The product's main file unpacked, with the members its reader needs, into a temporary folder removed after.

    The folder is made beside the archive (a large product may not fit in the system's temporary space), or in the
    system's temporary folder when the archive's folder cannot be written.

    Raises:
        SceneReadError: there is not enough free disk space, or the archive is damaged.
    """
    with zipfile.ZipFile(product.archive) as archive:
        infos = [archive.getinfo(m) for m in product.members]
        needed = sum(i.file_size for i in infos)
        where = product.archive.parent if write_problem(product.archive.parent) is None else None
        free = shutil.disk_usage(where or tempfile.gettempdir()).free
        if needed > free:
            folder = where or tempfile.gettempdir()
            raise SceneReadError(f"reading {product.archive.name} needs {needed / 2**30:.1f} GiB free to unpack "
                                 f"{product.name}, and {free / 2**30:.1f} GiB are free in {folder}; free some "
                                 f"space, or unpack the archive elsewhere and open the product from there")
        with tempfile.TemporaryDirectory(prefix=UNPACK_PREFIX, dir=where) as folder:
            for info in infos:  # by base name only: a member's path cannot lead outside the folder
                try:
                    with archive.open(info) as source, open(Path(folder) / os.path.basename(info.filename),
                                                            "wb") as target:
                        shutil.copyfileobj(source, target, 16 * 2**20)
                except (zipfile.BadZipFile, OSError, EOFError) as err:
                    raise SceneReadError(f"cannot unpack {info.filename} from {product.archive.name}: {err}; the "
                                         f"archive looks truncated or damaged, download it again") from err
            yield Path(folder) / os.path.basename(product.member)
