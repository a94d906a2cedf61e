"""The analyst's classes under the engine's rules: unique ids in range, names distinct ignoring case, a colour each."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from ..core.io.classes import name_key
from ..core.scene import ClassInfo, default_color
from ..plugin.label_layer import CLASS_ID_RANGE, MAX_CLASS_ID, check_class_id


class ClassList:
    """The classes, sorted by id, and the classes removed from them (Add brings a removed class back as it was).

    Only the list and its rules: the class panel shows it, and keeps the label layer and the label tools in step.
    The classes are the panel's own objects (a rename changes the one the table shows), not copies.
    """

    def __init__(self) -> None:
        self.items: list[ClassInfo] = []  # sorted by id, as the table shows them
        self.removed: dict[int, ClassInfo] = {}  # classes deleted or merged away, as they were

    def replace(self, classes: Sequence[ClassInfo]) -> None:
        """Replace every class with copies of ``classes`` (and forget the removed ones: they say nothing about these).

        Raises:
            ValueError: an id twice or out of the engine's range (:data:`CLASS_ID_RANGE`), or a name twice.
        """
        ids = [c.id for c in classes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"class ids must be unique; got {sorted(ids)}")
        for class_id in ids:
            check_class_id(class_id)
        clash = duplicate_names(classes)
        if clash:
            raise ValueError(clash)
        self.items = sorted((dataclasses.replace(c) for c in classes), key=lambda c: c.id)
        self.removed = {}

    def by_id(self, class_id: int) -> ClassInfo:
        for c in self.items:
            if c.id == class_id:
                return c
        raise KeyError(f"no class with id {class_id}")

    def has(self, class_id: int) -> bool:
        return any(c.id == class_id for c in self.items)

    def name_taken(self, name: str, by_other_than: Optional[int] = None) -> bool:
        """Whether a class (other than class ``by_other_than``) has ``name``, as the engine compares names."""
        return any(same_name(c.name, name) and c.id != by_other_than for c in self.items)

    def add(self, class_id: int, name: Optional[str], color: Optional[tuple[int, int, int]], prompt: str) -> ClassInfo:
        """Add a class under ``class_id``, named "class N" and in a free palette colour unless given.

        Raises:
            ValueError: the id is out of range or has a class, or the name is taken.
        """
        check_class_id(class_id)
        if self.has(class_id):
            raise ValueError(f"class id {class_id} is already used by {self.by_id(class_id).name!r}")
        name = (name or f"class {class_id}").strip()
        if self.name_taken(name):
            raise ValueError(f"a class named {name!r} already exists; choose another name")
        info = ClassInfo(class_id, name, color or self.free_color(), prompt)
        self.items = sorted(self.items + [info], key=lambda c: c.id)
        return info

    def remove(self, class_id: int) -> bool:
        """Take class ``class_id`` out of the list; whether it was there."""
        if not self.has(class_id):
            return False
        self.items = [c for c in self.items if c.id != class_id]
        return True

    def restore(self, info: ClassInfo) -> bool:
        """Put a removed class back (an undone delete or merge); an id that has a class again keeps it. A name
        taken meanwhile gets the id after it (the engine needs distinct names). Whether it was put back."""
        if self.has(info.id):
            return False
        name = info.name
        if self.name_taken(name):
            name = f"{name} ({info.id})"
        self.items = sorted(self.items + [dataclasses.replace(info, name=name)], key=lambda c: c.id)
        return True

    def adopt(self, unknown: dict[int, str]) -> list[ClassInfo]:
        """Add a class for each id of ``unknown`` (class id -> the name its labels carry).

        A class removed here comes back with its name, colour and prompt, unless its labels carry another name
        (another class under a reused id); others are named after their labels, or "class N".
        """
        added = []
        for class_id, name in sorted(unknown.items()):
            old = self.removed.get(class_id)
            if old is not None and name.strip() and not same_name(name, old.name):
                old = None  # another class under a reused id (e.g. in another label layer): the labels' name counts
            name = (old.name if old is not None else name).strip() or f"class {class_id}"
            if self.name_taken(name):  # the engine needs distinct names
                name = f"{name} ({class_id})"
            info = ClassInfo(class_id, name, tuple(old.color) if old is not None else self.free_color(),
                             old.prompt if old is not None else "")
            self.items.append(info)
            added.append(info)
        self.items.sort(key=lambda c: c.id)
        return added

    def free_id(self, taken_elsewhere: set[int]) -> int:
        """The next id after every id in use (the classes' and ``taken_elsewhere``: labels, undoable edits); past the
        engine's last id, the lowest free one.

        Raises:
            ValueError: every id is taken.
        """
        taken = {c.id for c in self.items} | taken_elsewhere
        after = max(taken, default=0) + 1
        if after <= MAX_CLASS_ID:
            return after
        free = next((i for i in range(1, MAX_CLASS_ID + 1) if i not in taken), None)
        if free is None:
            raise ValueError(f"every class id {CLASS_ID_RANGE} is taken (by classes or labels)")
        return free

    def free_color(self) -> tuple[int, int, int]:
        """The first palette colour no class has (after a deletion the next index may be taken)."""
        used = {tuple(c.color) for c in self.items}
        for index in range(len(self.items), len(self.items) + 64):
            if default_color(index) not in used:
                return default_color(index)
        return default_color(len(self.items))

    def same_color_as(self, info: ClassInfo) -> Optional[ClassInfo]:
        """Another class in the colour of ``info``, if any."""
        return next((c for c in self.items if c.id != info.id and tuple(c.color) == tuple(info.color)), None)


def same_name(a: str, b: str) -> bool:
    """Whether two class names are the same to the engine (which ignores case and surrounding spaces)."""
    return name_key(a) == name_key(b)


def duplicate_names(classes: Sequence[ClassInfo]) -> Optional[str]:
    """What to fix when two classes share a name (the engine refuses it, ignoring case), else None."""
    seen: dict[str, ClassInfo] = {}
    for c in sorted(classes, key=lambda c: c.id):
        key = name_key(c.name)
        if key in seen:
            return (f"classes {seen[key].id} and {c.id} are both named '{seen[key].name.strip()}'; "
                    "give each class its own name")
        seen[key] = c
    return None
