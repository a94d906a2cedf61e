"""The class file: a small, human-editable JSON list of classes with their colours and text prompts."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any

from ..scene import CLASS_ID_RANGE, MAX_CLASS_ID, MIN_CLASS_ID, ClassInfo, default_color
from .write import atomic_output

# {"classes": [{"id": 1, "name": "roof", "color": "#1f77b4", "prompt": "red tiled roofs"}, ...]}
_HEX_COLOR = re.compile(r"^#([0-9a-fA-F]{6})$")
# Either spelling is read (British "colour" as the help says, or "color" as written); files are written with "color"
COLOUR_KEYS = ("colour", "color")
ALLOWED_KEYS = "id, name, colour (or color), prompt"  # what an entry may hold, for messages and help


CLASS_FILE_END = "_classes.json"  # beside labels written here (an import, a draw): their classes, names and prompts


def class_file_beside(path: str | Path) -> Path:
    """The class file kept beside labels written here (``labels.tif``, ``train.gpkg``): ``<stem>_classes.json``."""
    return Path(path).with_name(Path(path).stem + CLASS_FILE_END)


class ClassFileError(ValueError):
    """The class file is not valid; the message names the entry to fix."""


# the byte-order marks of text in UTF-32 and UTF-16 (UTF-32 LE's begins as UTF-16 LE's, so it is looked for first)
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
              (codecs.BOM_UTF16_BE, "UTF-16"))


def read_classes(path: str | Path) -> list[ClassInfo]:
    """Read a class file; entries may leave out the colour (``colour`` or ``color``; a palette colour is used) and
    ``prompt``.

    Raises:
        ClassFileError: unreadable JSON, or an entry with a missing/duplicate/0 id, no name, a duplicate
            name, a colour that is not ``#RRGGBB`` or ``colour`` and ``color`` that differ.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ClassFileError(f"cannot read the class file {path}: the file does not exist") from None
    except OSError as err:
        raise ClassFileError(f"cannot read the class file {path}: {err.strerror or err}") from None
    wide = next((name for bom, name in _WIDE_BOMS if data.startswith(bom)), None)
    if wide is not None:  # Notepad's "Unicode" save: text, but not UTF-8
        raise ClassFileError(f"the class file {path.name} is {wide} text, not UTF-8 (Notepad's \"Unicode\"); save it "
                             "as UTF-8 and try again")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows Notepad writes one) is not JSON: dropped
    except UnicodeDecodeError as err:
        if b"\x00" in data[:4096]:  # NUL bytes: no text file at all
            raise ClassFileError(f"{path.name} is not a class file: a class file is JSON text (UTF-8) listing each "
                                 "class's id, name, colour and prompt; this one is binary (a raster or a label "
                                 "layer?); give the .json the dock's Save… or a run writes") from None
        line = data[:err.start].count(b"\n") + 1
        raise ClassFileError(f"the class file {path.name} is text but not UTF-8 (line {line} holds a byte UTF-8 "
                             "never has: an older editor's encoding, e.g. Latin-1); save it as UTF-8 and try "
                             "again") from None
    return classes_from_text(text, f"the class file {path.name}")


def classes_from_text(text: str, source: str) -> list[ClassInfo]:
    """Classes from a class file's JSON text (checked as :func:`read_classes` checks a file); ``source`` names where
    the text comes from in messages ("the class file classes.json", "the project").

    Raises:
        ClassFileError: as :func:`read_classes`.
    """
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise ClassFileError(f"{source} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    return classes_from_entries(content.get("classes") if isinstance(content, dict) else None, source)


def write_classes(path: str | Path, classes: list[ClassInfo], overwrite: bool = True) -> Path:
    """Write classes (sorted by id) as an indented JSON class file; atomic."""
    _check_unique(Path(path).name, classes)
    text = classes_to_text(classes)
    path = Path(path)
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def classes_to_text(classes: list[ClassInfo]) -> str:
    """The class file's JSON text for ``classes`` (sorted by id)."""
    return json.dumps({"classes": classes_to_entries(classes)}, indent=2, ensure_ascii=False) + "\n"


def classes_to_entries(classes: list[ClassInfo]) -> list[dict[str, Any]]:
    """The class file's entries for ``classes`` (sorted by id): id, name, colour as #RRGGBB, prompt."""
    return [{"id": int(c.id), "name": c.name, "color": _hex(c.color), "prompt": c.prompt}
            for c in sorted(classes, key=lambda c: c.id)]


def classes_from_entries(entries: Any, source: str) -> list[ClassInfo]:
    """Classes from class-file entries (checked as :func:`read_classes` checks a file); ``source`` names where
    they come from in messages.

    Raises:
        ClassFileError: as :func:`read_classes`.
    """
    if not isinstance(entries, list):
        raise ClassFileError(f'{source} must hold {{"classes": [{{"id": 1, "name": ...}}, ...]}}')
    classes = [_parse_entry(source, n, entry) for n, entry in enumerate(entries, start=1)]
    _check_unique(source, classes)
    return sorted(classes, key=lambda c: c.id)


def _parse_entry(file: str, n: int, entry: Any) -> ClassInfo:
    if not isinstance(entry, dict):
        raise ClassFileError(f"{file}: entry {n} must be an object like {{\"id\": 1, \"name\": \"water\"}}")
    what = f"{file}: entry {n}" + (f" ({entry['name']!r})" if isinstance(entry.get("name"), str) else "")
    unknown = sorted(set(entry) - {"id", "name", *COLOUR_KEYS, "prompt"})
    if unknown:  # first: a class_id key for the id said so, not "'id' must be a whole number; got None" (review)
        instead = next((f"; is {key!r} meant as 'id'?" for key in unknown if "id" not in entry and
                        re.fullmatch(r"(class|label)[ _-]?id|classid|labelid|value|code", key.lower())), "")
        raise ClassFileError(f"{what}: unknown key(s) {', '.join(unknown)}; allowed are {ALLOWED_KEYS}{instead}")
    raw_id = entry.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int):
        raise ClassFileError(f"{what}: 'id' must be a whole number (1, 2, ...); got {raw_id!r}")
    if not MIN_CLASS_ID <= raw_id <= MAX_CLASS_ID:
        raise ClassFileError(f"{what}: id {raw_id} is not allowed; class ids run {CLASS_ID_RANGE} (0 means "
                             "unlabelled)")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ClassFileError(f"{what}: 'name' must be a non-empty text")
    given = {key: _rgb(what, entry[key]) for key in COLOUR_KEYS if entry.get(key) is not None}
    if len(set(given.values())) > 1:
        raise ClassFileError(f"{what}: 'colour' {entry['colour']!r} and 'color' {entry['color']!r} differ; give "
                             "the colour once, under either spelling")
    rgb = next(iter(given.values()), default_color(raw_id - 1))
    prompt = entry.get("prompt", "")
    if not isinstance(prompt, str):
        raise ClassFileError(f"{what}: 'prompt' must be a text; got {prompt!r}")
    return ClassInfo(id=raw_id, name=name.strip(), color=rgb, prompt=prompt.strip())


def _rgb(what: str, color: Any) -> tuple[int, int, int]:
    """A class's ``#RRGGBB`` colour as (r, g, b); ``what`` names the entry in the error."""
    match = _HEX_COLOR.match(color) if isinstance(color, str) else None
    if match is None:
        raise ClassFileError(f"{what}: colour {color!r} is not of the form #RRGGBB (e.g. #1f77b4)")
    value = int(match.group(1), 16)
    return (value >> 16 & 255, value >> 8 & 255, value & 255)


def name_key(name: str) -> str:
    """What makes two class names the same: case and surrounding spaces do not count."""
    return name.strip().lower()


def _check_unique(file: str, classes: list[ClassInfo]) -> None:
    seen_ids: dict[int, str] = {}
    seen_names: dict[str, int] = {}
    for c in classes:
        if c.id in seen_ids:
            raise ClassFileError(f"{file}: id {c.id} is used twice ({seen_ids[c.id]!r} and {c.name!r})")
        key = name_key(c.name)
        if key in seen_names:
            raise ClassFileError(f"{file}: the name {c.name!r} is used twice (ids {seen_names[key]} and {c.id})")
        seen_ids[c.id], seen_names[key] = c.name, c.id


def _hex(color: tuple[int, int, int]) -> str:
    r, g, b = (int(v) for v in color[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
