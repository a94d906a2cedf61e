"""The JSON class file: round trip, defaults, and errors that name the entry to fix."""

import json

import pytest

from hypersynth.core.io.classes import ClassFileError, read_classes, write_classes
from hypersynth.core.io.write import OutputExistsError
from hypersynth.core.scene import ClassInfo, default_color


def _file(tmp_path, entries, name="classes.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"classes": entries}), encoding="utf-8")
    return path


def test_round_trip_sorted_by_id(tmp_path):
    classes = [ClassInfo(3, "Lettuce_romaine_4wk", (255, 127, 14), "lettuce field, four weeks"),
               ClassInfo(1, "Wasser", (31, 119, 180), "Wasserfläche")]
    path = write_classes(tmp_path / "c.json", classes)
    assert read_classes(path) == sorted(classes, key=lambda c: c.id)
    text = path.read_text(encoding="utf-8")
    assert '"color": "#1f77b4"' in text and "Wasserfläche" in text  # human-editable, UTF-8 as written
    with pytest.raises(OutputExistsError):
        write_classes(path, classes, overwrite=False)


def test_colour_and_prompt_are_optional(tmp_path):
    classes = read_classes(_file(tmp_path, [{"id": 2, "name": " roof "}, {"id": 1, "name": "tree",
                                                                         "color": "#00FF00"}]))
    assert [(c.id, c.name, c.color, c.prompt) for c in classes] == [(1, "tree", (0, 255, 0), ""),
                                                                     (2, "roof", default_color(1), "")]
    assert classes[1].text == "roof"


def test_colour_is_read_under_either_spelling(tmp_path):
    """The help says "colour"; files the engine writes say "color": both are one key, given once or twice alike."""
    classes = read_classes(_file(tmp_path, [{"id": 1, "name": "water", "colour": "#1f77b4"},
                                            {"id": 2, "name": "roof", "color": "#FF7F0E"},
                                            {"id": 3, "name": "tree", "colour": "#00ff00", "color": "#00FF00"}]))
    assert [c.color for c in classes] == [(31, 119, 180), (255, 127, 14), (0, 255, 0)]
    assert '"color": "#1f77b4"' in write_classes(tmp_path / "again.json", classes).read_text(encoding="utf-8")


@pytest.mark.parametrize("entries, message", [
    ([{"id": 1, "name": "a"}, {"id": 1, "name": "b"}], r"id 1 is used twice \('a' and 'b'\)"),
    ([{"id": 1, "name": "a"}, {"id": 2, "name": "A"}], r"name 'A' is used twice \(ids 1 and 2\)"),
    ([{"id": 1, "name": "a"}, {"id": 2, "name": "water", "color": "blue"}],
     r"entry 2 \('water'\): colour 'blue' is not of the form #RRGGBB"),
    ([{"id": 0, "name": "background"}], r"entry 1 \('background'\): id 0 is not allowed.*0 means unlabelled"),
    ([{"id": 70000, "name": "a"}], r"id 70000 is not allowed; class ids run from 1 to 65535"),
    ([{"id": "1", "name": "a"}], r"entry 1 \('a'\): 'id' must be a whole number"),
    ([{"id": 1}], r"entry 1: 'name' must be a non-empty text"),
    ([{"id": 1, "name": "a", "hue": "#000000"}],
     r"unknown key\(s\) hue; allowed are id, name, colour \(or color\), prompt"),
    ([{"class_id": 1, "name": "a"}],  # said as 'id' must be a whole number; got None (review)
     r"entry 1 \('a'\): unknown key\(s\) class_id; allowed are id, .*; is 'class_id' meant as 'id'\?$"),
    ([{"name": "a", "hidden": True}], r"entry 1 \('a'\): unknown key\(s\) hidden; allowed are id, name, colour "
                                        r"\(or color\), prompt$"),  # no 'id' in 'hidden' asked about
    ([{"id": 1, "name": "a", "colour": "#000000", "color": "#ffffff"}],
     r"entry 1 \('a'\): 'colour' '#000000' and 'color' '#ffffff' differ; give the colour once"),
    ([{"id": 1, "name": "a", "colour": "red"}], r"entry 1 \('a'\): colour 'red' is not of the form #RRGGBB"),
    (["water"], r"entry 1 must be an object"),
])
def test_errors_name_the_entry(tmp_path, entries, message):
    with pytest.raises(ClassFileError, match=message):
        read_classes(_file(tmp_path, entries))


def test_unreadable_files(tmp_path):
    (tmp_path / "broken.json").write_text('{"classes": [{"id": 1,}]}')
    with pytest.raises(ClassFileError, match=r"not valid JSON \(line 1, column"):
        read_classes(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ClassFileError, match='must hold {"classes"'):
        read_classes(tmp_path / "list.json")
    with pytest.raises(ClassFileError, match="does not exist"):
        read_classes(tmp_path / "missing.json")


def test_a_binary_file_given_as_the_class_file_says_what_a_class_file_is(tmp_path):
    raster = tmp_path / "scene.tif"
    raster.write_bytes(b"II*\x00\xfe\xff" * 10)
    with pytest.raises(ClassFileError, match=r"^scene.tif is not a class file: a class file is JSON text"):
        read_classes(raster)


def test_a_class_file_saved_by_notepad_or_an_older_editor_reads_or_says_how_to_fix_it(tmp_path):
    """Windows Notepad writes UTF-8 with a byte-order mark (refused as invalid JSON); an older editor writes Latin-1
    (called binary)."""
    text = '{"classes": [{"id": 1, "name": "Wiese", "prompt": "grüne Wiese"}, {"id": 2, "name": "Dach"}]}'
    notepad = tmp_path / "notepad.json"
    notepad.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert [c.text for c in read_classes(notepad)] == ["grüne Wiese", "Dach"]
    latin = tmp_path / "latin.json"
    latin.write_bytes(text.replace('"Dach"}', '"Dach"}\n').encode("latin-1"))
    with pytest.raises(ClassFileError, match=r"^the class file latin.json is text but not UTF-8 \(line 1 holds a byte "
                                             r"UTF-8 never has: an older editor's encoding, e.g. Latin-1\); save it "
                                             r"as UTF-8 and try again$"):
        read_classes(latin)


def test_a_class_file_in_utf16_says_so_rather_than_binary(tmp_path):
    """Notepad's "Unicode" save is UTF-16 with a byte-order mark: its NUL bytes made it "binary"."""
    for encoding, said in (("utf-16", "UTF-16"), ("utf-32", "UTF-32")):
        path = tmp_path / f"{encoding}.json"
        path.write_bytes('{"classes": [{"id": 1, "name": "Wiese"}]}'.encode(encoding))
        with pytest.raises(ClassFileError, match=rf"^the class file {encoding}.json is {said} text, not UTF-8"):
            read_classes(path)
