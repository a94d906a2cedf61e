"""Sensor products as ordered (a ZIP, EnMAP's order .tar.gz): found inside, unpacked beside it to be read, removed."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import threading
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

from ..outputs import write_problem
from ..progress import NULL_REPORTER, Reporter
from .product_names import (EMIT_GRANULE, EMIT_KINDS, ENMAP_L2A_IMAGE, ENMAP_L2A_ZIP, PRISMA_L2_FILE, PRISMA_L2_ZIP,
                            is_emit_mask_of)
from .read import SceneReadError

UNPACK_PREFIX = ".hypersynth-unpacked-"  # the temporary folder a product is unpacked into, removed after reading
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")  # an order as DLR delivers EnMAP's: a tar of product ZIPs, gzipped
ARCHIVE_SUFFIXES = (".zip", *TAR_SUFFIXES)  # every archive a product is opened from, for file filters and help

UNPACK_CHUNK = 16 * 2**20  # bytes copied at a time from an archive member to its file
KEPT_LISTINGS = 8  # tar listings kept (a .tar.gz is read whole to list it), the oldest forgotten first
_LISTINGS: dict[tuple[str, int, int], tuple[tuple[str, int], ...]] = {}  # (path, size, mtime) -> (member, bytes)…
_LISTINGS_LOCK = threading.Lock()  # the dock lists an order in a task's thread and reads the listing on the main one

# What reading a tar raises when it is damaged or cut short: a bad header, a gzip stream that ends early or is corrupt
_TAR_DAMAGE = (tarfile.TarError, OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class ArchivedProduct:
    """A product found inside a ZIP or tar archive."""

    archive: Path  # the ZIP or tar as delivered
    kind: str  # in words, as ProductFacts.kind: "EnMAP L2A", "PRISMA L2D", "EMIT L2A reflectance"
    name: str  # the product's name (EnMAP's stem without "-SPECTRAL_IMAGE", a product ZIP's stem, else the file's stem)
    member: str  # the archive member the scene is read from (EnMAP's image, PRISMA's .he5, EMIT's .nc, a product ZIP)
    members: tuple[str, ...]  # the members to unpack: that one and those its reader looks for beside it
    size: int  # bytes the members take unpacked: the free space unpacking needs

    @property
    def tar(self) -> bool:
        """The archive is a tar: read forward only, in one pass (a .tar.gz cannot seek back)."""
        return _is_tar_named(self.archive)

    @property
    def nested_zip(self) -> bool:
        """``member`` is the product's own ZIP inside this archive, itself unpacked to be read."""
        return self.member.lower().endswith(".zip")


def is_archive(path: str | Path) -> bool:
    """Whether ``path`` is an archive a product is opened from: a ZIP (named .zip), or a tar named .tar, .tar.gz or
    .tgz (an EnMAP order); a tar cut short so early that it cannot be told is one too, so that reading it says so."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.name.lower().endswith(".zip"):
        return zipfile.is_zipfile(path)
    if not _is_tar_named(path):
        return False
    try:
        return tarfile.is_tarfile(path)
    except _TAR_DAMAGE:  # Python's check lets a gzip stream's early end through: a damaged download
        return True


def product_in_archive(source: str | Path) -> Optional[tuple[Path, str]]:
    """(archive, product name) when ``source`` names one product inside an archive as ``<archive>/<product name>``
    (``order.tar.gz/ENMAP01-____L2A-DT…``: how one product of an order holding several is opened), else None: the
    path does not exist and its folder is an archive :func:`is_archive` takes."""
    path = Path(source)
    if not path.name or path.exists() or not is_archive(path.parent):
        return None
    return path.parent, path.name


def archived_products(path: Path, reporter: Reporter = NULL_REPORTER) -> list[ArchivedProduct]:
    """Every EnMAP L2A, PRISMA L2 or EMIT product inside the ZIP or tar ``path``, in the archive's order; empty when
    it holds none.

    A product is either its files, or a ZIP named as one (``ENMAP01-…L2A….ZIP``, ``PRS_L2D_….zip``), whose content
    is checked when it is unpacked: an EnMAP order's .tar.gz holds such ZIPs, and so may an order zipped again.
    ``reporter`` hears how much of a tar is read (it is read whole to be listed) and may stop that reading.

    Raises:
        SceneReadError: the archive is damaged.
        Cancelled: the reporter asked to stop while a tar was read.
    """
    return _products_among(path, _file_sizes(path, reporter))


def archived_product(path: Path, name: Optional[str] = None, reporter: Reporter = NULL_REPORTER) -> ArchivedProduct:
    """The product named ``name`` inside the ZIP or tar ``path`` (:func:`archived_products`), or its one product when
    no name is given; ``reporter`` as for :func:`archived_products`.

    Raises:
        SceneReadError: the archive is damaged, holds no such product, holds none named ``name``, or holds several
            and no name says which.
        Cancelled: the reporter asked to stop while a tar was read.
    """
    sizes = _file_sizes(path, reporter)
    products = _products_among(path, sizes)
    if not products:
        zips = [os.path.basename(n) for n in sizes if n.lower().endswith(".zip")]
        held = f" (it holds {_listed(zips)}, named as no product)" if zips else ""
        raise SceneReadError(f"{path.name} holds no EnMAP L2A, PRISMA L2 or EMIT product{held}; unpack it and open "
                             f"the scene inside")
    names = [p.name for p in products]
    if name is not None:
        if name not in names:
            raise SceneReadError(f"{path.name} holds no product named {name}; it holds {_held(names)}")
        return products[names.index(name)]  # the first, should two folders hold a product of the same name
    if len(products) > 1:
        raise SceneReadError(f"{path.name} holds {_held(names)}; open one of them as "
                             f"{path.name}/<product name>, e.g. {path.name}/{names[0]}, or unpack it")
    return products[0]


def _file_sizes(path: Path, reporter: Reporter = NULL_REPORTER) -> dict[str, int]:
    """Each file member of the ZIP or tar ``path`` with its unpacked bytes."""
    if _is_tar_named(path):
        return dict(_tar_sizes(path, reporter))
    try:
        with zipfile.ZipFile(path) as archive:
            return {i.filename: i.file_size for i in archive.infolist() if not i.is_dir()}
    except (zipfile.BadZipFile, OSError) as err:
        raise SceneReadError(f"cannot read the archive {path}: {err}; download it again") from err


def _tar_sizes(path: Path, reporter: Reporter = NULL_REPORTER) -> tuple[tuple[str, int], ...]:
    """Each file member of the tar ``path`` with its unpacked bytes, from one pass over its member list (no inner ZIP
    opened), kept for the same file: listing a .tar.gz reads all of it, and opening an order asks for its products
    more than once (the dock lists it in a task, then opens the product the analyst chose). ``reporter`` hears the
    share of the file read and may stop the reading at any block (a member of an order is a ZIP of a gigabyte)."""
    key = _listing_key(path)
    with _LISTINGS_LOCK:
        kept = _LISTINGS.get(key)
    if kept is not None:
        return kept
    try:
        with _watched_tar(path, reporter, "reading") as archive:
            listing = tuple((info.name, info.size) for info in archive if info.isfile())
    except _TAR_DAMAGE as err:
        raise SceneReadError(f"cannot read the archive {path}: {err}; it looks truncated or damaged, download it "
                             f"again") from err
    with _LISTINGS_LOCK:
        _LISTINGS[key] = listing
        while len(_LISTINGS) > KEPT_LISTINGS:
            _LISTINGS.pop(next(iter(_LISTINGS)))  # the oldest
    return listing


@contextmanager
def _watched_tar(path: Path, reporter: Reporter, stage: str) -> Iterator[tarfile.TarFile]:
    """The tar ``path`` opened as a stream (forward only, as a .tar.gz cannot seek), read through a
    :class:`_WatchedFile`: ``reporter`` hears the share read (as ``stage``) and may stop it at any block."""
    with open(path, "rb") as raw, tarfile.open(path, "r|*", fileobj=_WatchedFile(raw, os.fstat(raw.fileno()).st_size,
                                                                                 reporter, stage)) as archive:
        yield archive


class _WatchedFile:
    """A binary file read forward that tells a reporter how far it got and stops when asked: tarfile's stream reads
    a .tar.gz through it in small blocks, so a listing is stopped within one block, not after a whole member."""

    def __init__(self, raw: BinaryIO, size: int, reporter: Reporter, stage: str) -> None:
        self._raw, self._size, self._reporter, self._stage = raw, max(size, 1), reporter, stage
        self._percent = -1  # the last whole percent reported: one report per percent, not per block

    def read(self, size: int = -1) -> bytes:
        self._reporter.check()
        data = self._raw.read(size)
        percent = 100 * self._raw.tell() // self._size
        if percent != self._percent:
            self._percent = percent
            self._reporter.progress(percent / 100, self._stage)
        return data


def needs_listing(path: str | Path) -> bool:
    """Whether finding the products of the archive ``path`` reads all of it: a tar not listed yet as it is now (a ZIP
    lists its members from its end). The dock then lists it in a task, not on QGIS's main thread."""
    path = Path(path)
    if not (_is_tar_named(path) and path.is_file()):
        return False
    with _LISTINGS_LOCK:
        return _listing_key(path) not in _LISTINGS


def _listing_key(path: Path) -> tuple[str, int, int]:
    """The tar ``path`` as it is now: a listing kept under this key is of this very file."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _products_among(path: Path, sizes: dict[str, int]) -> list[ArchivedProduct]:
    """The products among the archive's files (``sizes``: each file member's unpacked bytes)."""
    names = list(sizes)
    found = [_product_zip_of(name) or _product_of(name, names) for name in names]
    return [ArchivedProduct(path, kind, name, member, members, sum(sizes[m] for m in members))
            for kind, name, member, members in (p for p in found if p is not None)]


def _held(names: list[str]) -> str:
    """"1 product (a)", "3 products (a, b, c)": the products an archive holds, as its refusals list them (every one:
    a product is opened by its name)."""
    return f"{len(names)} product{'s' if len(names) != 1 else ''} ({', '.join(names)})"


def _listed(names: list[str]) -> str:
    """The first four ``names``, and "…" when there are more."""
    return ", ".join(names[:4]) + (" …" if len(names) > 4 else "")


def _product_zip_of(name: str) -> Optional[tuple[str, str, str, tuple[str, ...]]]:
    """(kind, product name, member, members to unpack) when the archive member ``name`` is a ZIP named as a
    product's."""
    base = os.path.basename(name)
    enmap = ENMAP_L2A_ZIP.match(base)
    if enmap is not None:
        return "EnMAP L2A", enmap.group(1), name, (name,)
    prisma = PRISMA_L2_ZIP.match(base)
    if prisma is not None:
        return f"PRISMA L2{prisma.group(2).upper()}", prisma.group(1), name, (name,)
    return None


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


def _is_tar_named(path: Path) -> bool:
    """Whether ``path`` is named as a tar (.tar, .tar.gz, .tgz), in any case."""
    return path.name.lower().endswith(TAR_SUFFIXES)


@contextmanager
def unpacked(product: ArchivedProduct, reporter: Reporter = NULL_REPORTER) -> Iterator[Path]:
    """The product's main file unpacked, with the members its reader needs, into a temporary folder removed after.

    The folder is made beside the archive (a large product may not fit in the system's temporary space), or in the
    system's temporary folder when the archive's folder cannot be written. A product ZIP inside the archive (an
    order's tar or ZIP of product ZIPs) is unpacked from it, then the product from that ZIP as from any (which checks
    that it holds the product it is named for). ``reporter`` hears the share of the archive read (stage
    "unpacking") and may stop the unpacking at any block; the folder is removed then too.

    Raises:
        SceneReadError: there is not enough free disk space, the archive is damaged, or a product ZIP inside it
            holds no product.
        Cancelled: the reporter asked to stop.
    """
    where = product.archive.parent if write_problem(product.archive.parent) is None else None
    free = shutil.disk_usage(where or tempfile.gettempdir()).free
    if product.size > free:
        folder = where or tempfile.gettempdir()
        raise SceneReadError(f"reading {product.archive.name} needs {product.size / 2**30:.1f} GiB free to unpack "
                             f"{product.name}, and {free / 2**30:.1f} GiB are free in {folder}; free some space, or "
                             f"unpack the archive elsewhere and open the product from there")
    with tempfile.TemporaryDirectory(prefix=UNPACK_PREFIX, dir=where) as folder:
        main = Path(folder) / os.path.basename(product.member)
        # a product ZIP inside the archive is unpacked in its turn: each pass is half of the progress
        halves = (reporter.sub(0.0, 0.5), reporter.sub(0.5, 1.0)) if product.nested_zip else (reporter, reporter)
        (_unpack_from_tar if product.tar else _unpack_from_zip)(product, Path(folder), halves[0])
        if not product.nested_zip:
            yield main
            return
        try:  # the product ZIP, unpacked in its turn into a folder inside this one
            inner = archived_product(main)
        except SceneReadError as err:
            raise SceneReadError(f"{product.archive.name}: {err}") from err
        with unpacked(inner, halves[1]) as inner_main:
            yield inner_main


def _unpack_from_zip(product: ArchivedProduct, folder: Path, reporter: Reporter = NULL_REPORTER) -> None:
    """Write the product's ZIP members into ``folder`` by base name only: a member's path cannot lead outside it."""
    done = 0  # bytes written of product.size
    with zipfile.ZipFile(product.archive) as archive:
        for member in product.members:
            try:
                with archive.open(member) as source, open(folder / os.path.basename(member), "wb") as target:
                    while chunk := source.read(UNPACK_CHUNK):  # shutil.copyfileobj's loop, with cancel and progress
                        reporter.check()
                        target.write(chunk)
                        done += len(chunk)
                        reporter.progress(done / max(product.size, 1), "unpacking")
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise SceneReadError(f"cannot unpack {member} from {product.archive.name}: {err}; the archive looks "
                                     f"truncated or damaged, download it again") from err


def _unpack_from_tar(product: ArchivedProduct, folder: Path, reporter: Reporter = NULL_REPORTER) -> None:
    """Write the product's tar members into ``folder`` in one forward pass, by base name only (never ``extractall``:
    a member's path or link cannot lead outside the folder); ``reporter`` hears the share of the tar read."""
    wanted = set(product.members)
    try:
        with _watched_tar(product.archive, reporter, "unpacking") as archive:
            for info in archive:
                if info.name not in wanted or not info.isfile():
                    continue
                source = archive.extractfile(info)
                assert source is not None  # a regular file's content
                with source, open(folder / os.path.basename(info.name), "wb") as target:
                    shutil.copyfileobj(source, target, UNPACK_CHUNK)
                wanted.discard(info.name)
                if not wanted:  # the rest of the stream is not read
                    return
    except _TAR_DAMAGE as err:
        raise SceneReadError(f"cannot unpack {product.name} from {product.archive.name}: {err}; the archive looks "
                             f"truncated or damaged, download it again") from err
    raise SceneReadError(f"{product.archive.name} no longer holds {', '.join(sorted(wanted))}; it changed while it "
                         f"was read, open it again")
