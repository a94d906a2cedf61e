"""draw-labels: N training labels per class drawn from reference labels as bench draws them, written as files a run
takes (points, their class file, the validation labels left over), all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from osgeo import ogr

from hypersynth.core.cli import main
from hypersynth.core.demo import make_demo_scene
from hypersynth.core.evaluation.protocol import few_label_split
from hypersynth.core.io.classes import read_classes, write_classes
from hypersynth.core.io.labels import read_labels
from hypersynth.core.io.read import read_scene
from hypersynth.core.io.write import write_label_raster, write_scene
from hypersynth.core.label_draw import (LabelDrawError, class_file_beside, draw_labels, draw_labels_from_files,
                                        write_draw)
from hypersynth.core.outputs import OutputExistsError
from hypersynth.core.scene import PIXEL_GRID, ClassInfo, Scene


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> dict:
    """A georeferenced 40 × 40 demo scene with a no-data corner, its whole reference map and class file."""
    folder = tmp_path_factory.mktemp("draw_inputs")
    data = make_demo_scene(size=40, bands=12, n_classes=3, seed=1)
    data.scene.valid[:5, :5] = False  # no-data: never drawn, never validated on
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    return {"scene": write_scene(data.scene, folder / "scene.tif"),
            "truth": write_label_raster(folder / "truth.tif", data.labels, data.classes, **kw),
            "classes": write_classes(folder / "classes.json", data.classes),
            "labels": data.labels, "classes_list": data.classes}


def _points(path: Path) -> list[tuple[int, str, float, float]]:
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    return [(f.GetField("class_id"), f.GetField("class"), f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY())
            for f in layer]


def test_the_draw_is_benchs_and_a_run_reads_it_back(labelled, tmp_path):
    out = tmp_path / "train.gpkg"
    draw = draw_labels_from_files(labelled["scene"], labelled["truth"], out, labels_per_class=4, seed=3,
                                  validation=tmp_path / "validation.tif")
    scene = read_scene(labelled["scene"])
    reference = np.where(scene.valid, labelled["labels"], 0)
    bench = few_label_split(reference, 4, 3, kind="random", patch_size=9, valid=scene.valid)  # as bench.run_one
    assert np.array_equal(draw.split.train_mask, bench.train_mask)
    assert not (draw.split.train_mask & ~scene.valid).any()
    read, classes = read_labels(out, scene)
    assert np.array_equal(read, bench.train_labels())  # points at the pixel centres burn exactly those pixels
    assert {c.id: int((read == c.id).sum()) for c in classes} == {1: 4, 2: 4, 3: 4}
    names = {c.id: c.name for c in labelled["classes_list"]}
    assert sorted((i, n) for i, n, _, _ in _points(out)) == sorted((int(i), names[int(i)])
                                                                   for i in bench.train_labels()[bench.train_mask])
    validation, _ = read_labels(tmp_path / "validation.tif", scene, min_classes=1)
    assert np.array_equal(validation > 0, reference.astype(bool) & ~bench.train_mask)
    assert draw.class_file == class_file_beside(out) == tmp_path / "train_classes.json"
    assert [c.id for c in read_classes(draw.class_file)] == [1, 2, 3]
    assert "12 training labels (4 per class, seed 3)" in draw.summary()


def test_a_class_file_names_the_classes_and_gives_their_prompts(labelled, tmp_path):
    classes = [ClassInfo(c.id, f"field {c.id}", c.color, f"prompt {c.id}") for c in labelled["classes_list"]]
    class_path = write_classes(tmp_path / "mine.json", classes)
    draw = draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.fgb", labels_per_class=2,
                                  seed=0, classes_path=class_path)
    written = read_classes(draw.class_file)
    assert [(c.name, c.prompt) for c in written] == [(f"field {i}", f"prompt {i}") for i in (1, 2, 3)]
    assert {name for _, name, _, _ in _points(draw.points)} == {"field 1", "field 2", "field 3"}


def test_the_disjoint_split_keeps_validation_out_of_training_patches(labelled, tmp_path):
    draw = draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=3,
                                  seed=1, split="disjoint", patch_side=7, validation=tmp_path / "v.tif")
    scene = read_scene(labelled["scene"])
    validation, _ = read_labels(tmp_path / "v.tif", scene, min_classes=1)
    rows, cols = np.nonzero(draw.split.train_mask)
    vr, vc = np.nonzero(validation)
    nearest = np.min(np.maximum(abs(vr[:, None] - rows[None]), abs(vc[:, None] - cols[None])), axis=1)
    assert nearest.min() == 4  # Chebyshev distance over 7 // 2: no validation pixel inside a 7 × 7 training patch
    assert "(none within 3 pixels of them, the half-side of a 7×7 patch: disjoint)" in draw.summary()


def test_a_pixel_grid_scene_takes_a_shapefile_and_no_geopackage(tmp_path):
    labels = np.zeros((12, 10), np.uint8)
    labels[:6], labels[6:] = 1, 2
    scene = Scene(np.ones((3, 12, 10), np.float32), np.ones((12, 10), bool), transform=PIXEL_GRID)
    classes = [ClassInfo(1, "a"), ClassInfo(2, "b")]
    draw = draw_labels(labels, scene.valid, classes, labels_per_class=2, seed=0)
    with pytest.raises(LabelDrawError, match=r"no georeference.*t\.shp or t\.fgb"):
        write_draw(draw, scene, tmp_path / "t.gpkg")
    assert not list(tmp_path.iterdir())
    write_draw(draw, scene, tmp_path / "t.shp")
    assert not (tmp_path / "t.prj").exists()
    read, _ = read_labels(tmp_path / "t.shp", scene)
    assert np.array_equal(read, draw.split.train_labels())
    xs = {x for _, _, x, _ in _points(tmp_path / "t.shp")}
    assert all(x % 1 == 0.5 for x in xs)  # pixel centres: column + ½


def test_a_replaced_shapefile_loses_the_crs_of_the_one_before(labelled, tmp_path):
    draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.shp", labels_per_class=1, seed=0)
    assert (tmp_path / "t.prj").exists()
    labels = np.ones((4, 4), np.uint8)
    labels[2:] = 2
    scene = Scene(np.ones((2, 4, 4), np.float32), np.ones((4, 4), bool), transform=PIXEL_GRID)
    draw = draw_labels(labels, scene.valid, [ClassInfo(1, "a"), ClassInfo(2, "b")], labels_per_class=1, seed=0)
    write_draw(draw, scene, tmp_path / "t.shp", overwrite=True)
    assert not (tmp_path / "t.prj").exists()  # else the pixel-grid points would be read in the old CRS
    assert len(_points(tmp_path / "t.shp")) == 2


@pytest.mark.parametrize("out, validation, message", [
    ("t.csv", None, r"GeoPackage \(\.gpkg\), a Shapefile"),
    ("t.gpkg", "v.png", r"GeoTIFF; give it the ending \.tif"),
    ("t.gpkg", "t_classes.json", r"GeoTIFF"),
    ("nowhere/t.gpkg", None, r"folder .*nowhere does not exist"),
])
def test_outputs_it_cannot_write_are_refused_before_reading(labelled, tmp_path, out, validation, message):
    with pytest.raises(LabelDrawError, match=message):
        draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / out, labels_per_class=2, seed=0,
                               validation=tmp_path / validation if validation else None)
    assert not list(tmp_path.iterdir())


def test_an_input_is_never_an_output(labelled, tmp_path):
    class_path = write_classes(tmp_path / "t_classes.json", labelled["classes_list"])
    with pytest.raises(LabelDrawError, match="is one of the inputs"):
        draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=2, seed=0,
                               classes_path=class_path, overwrite=True)
    with pytest.raises(LabelDrawError, match="is one of the inputs"):
        draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "x.gpkg", labels_per_class=2, seed=0,
                               validation=labelled["truth"], overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t_classes.json"]


def test_existing_files_stay_unless_overwriting(labelled, tmp_path):
    (tmp_path / "t_classes.json").write_text("mine")
    with pytest.raises(OutputExistsError, match="t_classes.json already exists"):
        draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=2, seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t_classes.json"]
    assert (tmp_path / "t_classes.json").read_text() == "mine"
    draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=2, seed=0,
                           overwrite=True)
    assert json.loads((tmp_path / "t_classes.json").read_text())["classes"][0]["id"] == 1


def test_a_failure_while_writing_leaves_nothing(labelled, tmp_path, monkeypatch):
    import hypersynth.core.io.write as write

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(write, "write_label_raster", fail)
    with pytest.raises(OSError, match="disk full"):
        draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=2, seed=0,
                               validation=tmp_path / "v.tif")
    assert not list(tmp_path.iterdir())


def test_a_reference_outside_the_valid_pixels_is_refused():
    labels = np.zeros((6, 6), np.uint8)
    labels[0, 0] = 1
    valid = np.ones((6, 6), bool)
    valid[0, 0] = False
    with pytest.raises(LabelDrawError, match="labels no valid pixel of the scene"):
        draw_labels(labels, valid, [ClassInfo(1, "a")], labels_per_class=1, seed=0)
    with pytest.raises(LabelDrawError, match="labels per class must be at least 1"):
        draw_labels(labels, np.ones((6, 6), bool), [ClassInfo(1, "a")], labels_per_class=0, seed=0)


def test_a_benchmark_ground_truth_mat_carries_the_benchmarks_names_and_prompts(tmp_path):
    rows, cols = 8, 9
    cube = np.random.default_rng(0).random((rows, cols, 12)).astype(np.float32)
    gt = np.zeros((rows, cols), np.uint8)
    gt[:4], gt[4:] = 1, 10
    scipy.io.savemat(tmp_path / "cube.mat", {"salinasA": cube})
    scipy.io.savemat(tmp_path / "gt.mat", {"salinasA_gt": gt})
    draw = draw_labels_from_files(tmp_path / "cube.mat", tmp_path / "gt.mat", tmp_path / "t.shp",
                                  labels_per_class=2, seed=0)
    assert [(c.id, c.name) for c in draw.classes] == [(1, "Brocoli_green_weeds_1"), (10, "Corn_senesced_green_weeds")]
    assert all(c.prompt for c in read_classes(draw.class_file))
    scipy.io.savemat(tmp_path / "other.mat", {"my_gt": gt})  # not a benchmark's array: plain names
    scene = read_scene(tmp_path / "cube.mat")
    assert [c.name for c in read_labels(tmp_path / "other.mat", scene)[1]] == ["class 1", "class 10"]


def test_the_command_line_writes_and_names_the_files(labelled, tmp_path, capsys):
    args = ["draw-labels", "--scene", str(labelled["scene"]), "--truth", str(labelled["truth"]),
            "--labels-per-class", "3", "--seed", "2", "--out", str(tmp_path / "t.gpkg"),
            "--validation-out", str(tmp_path / "v.tif"), "--quiet"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert f"training labels: {tmp_path / 't.gpkg'}" in captured.out
    assert f"classes:         {tmp_path / 't_classes.json'}" in captured.out
    assert f"validation:      {tmp_path / 'v.tif'}" in captured.out
    assert "9 training labels (3 per class, seed 2)" in captured.err
    assert main(args) == 2  # the files are there now
    assert "pass --overwrite to replace it" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert main(args[:-5] + ["--out", str(tmp_path / "t.txt")]) == 2
    assert "give the file one of those endings" in capsys.readouterr().err


def test_a_class_with_few_pixels_keeps_one_to_validate_on_and_says_so(capsys, tmp_path):
    labels = np.zeros((10, 10), np.uint8)
    labels[:5], labels[9, 9] = 1, 2
    labels[8, 9] = 2
    scene = Scene(np.ones((2, 10, 10), np.float32), np.ones((10, 10), bool), transform=PIXEL_GRID)
    draw = draw_labels(labels, scene.valid, [ClassInfo(1, "a"), ClassInfo(2, "b")], labels_per_class=5, seed=0)
    assert draw.split.counts() == {1: (5, 45), 2: (1, 1)}
    assert draw.warnings == ["'b' (id 2) has only 2 reference pixels: 1 drawn for training, 1 left to validate on"]
    labels[9, 9] = 0
    draw = draw_labels(labels, scene.valid, [ClassInfo(1, "a"), ClassInfo(2, "b")], labels_per_class=5, seed=0,
                       split="disjoint", patch_side=5)
    assert draw.warnings == ["'b' (id 2) has only 1 reference pixel: 1 drawn for training, 0 left to validate on"]
    labels[5:] = 2
    draw = draw_labels(labels, scene.valid, [ClassInfo(1, "a"), ClassInfo(2, "b")], labels_per_class=5, seed=0,
                       split="disjoint", patch_side=21)
    assert draw.warnings == ["'a' (id 1) has no pixel left to validate on outside the 21×21 patches around its "
                             "training labels", "'b' (id 2) has no pixel left to validate on outside the 21×21 "
                             "patches around its training labels"]


@pytest.mark.parametrize("split", ["random", "disjoint", "no-overlap"])
def test_a_benchmark_row_is_run_again_by_hand(labelled, tmp_path, split, monkeypatch):
    """bench's SVM row and a baseline run on draw-labels' files, same seed: bench's own training and test pixels,
    and the same figures to the last digit."""
    import hypersynth.core.evaluation.protocol as protocol

    splits = []

    def kept(*args, **kwargs):  # bench's own split, as run_one draws it
        splits.append(few_label_split(*args, **kwargs))
        return splits[-1]

    monkeypatch.setattr(protocol, "few_label_split", kept)
    assert main(["bench", "--scene", str(labelled["scene"]), "--truth", str(labelled["truth"]), "--name", "dev",
                 "--methods", "svm", "--labels-per-class", "3", "--seeds", "4", "--splits", split,
                 "--json", str(tmp_path / "bench.json"), "--quiet"]) == 0
    monkeypatch.undo()
    assert len(splits) == 1
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]
    bench_oa = next(r["oa_mean"] for r in rows if r["method"] == "svm")
    assert main(["draw-labels", "--scene", str(labelled["scene"]), "--truth", str(labelled["truth"]),
                 "--labels-per-class", "3", "--seed", "4", "--split", split, "--out", str(tmp_path / "t.gpkg"),
                 "--validation-out", str(tmp_path / "v.tif"), "--quiet"]) == 0
    scene = read_scene(labelled["scene"])
    assert np.array_equal(read_labels(tmp_path / "t.gpkg", scene)[0], splits[0].train_labels())
    validation = read_labels(tmp_path / "v.tif", scene, min_classes=1)[0]
    assert np.array_equal(validation > 0, splits[0].test_mask)
    assert main(["baseline", "--method", "svm", "--seed", "4", "--scene", str(labelled["scene"]), "--labels",
                 str(tmp_path / "t.gpkg"), "--prompts", str(tmp_path / "t_classes.json"), "--validation",
                 str(tmp_path / "v.tif"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["oa"] == pytest.approx(bench_oa, abs=1e-12)


def test_the_validation_raster_says_it_is_what_a_draw_left(labelled, tmp_path):
    from hypersynth.core.label_draw import is_validation_of_a_draw

    draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=2, seed=0,
                           validation=tmp_path / "v.tif")
    assert is_validation_of_a_draw(tmp_path / "v.tif")
    assert not is_validation_of_a_draw(labelled["truth"]) and not is_validation_of_a_draw(tmp_path / "t.gpkg")


def test_a_geopackage_holding_other_layers_is_never_replaced(labelled, tmp_path):
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "mywork.gpkg"))
    ds.CreateLayer("my_field_notes", None, ogr.wkbPoint)
    ds = None
    with pytest.raises(LabelDrawError, match=r"mywork.gpkg holds other layers \(my_field_notes\).*a new file"):
        draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "mywork.gpkg", labels_per_class=2,
                               seed=0, overwrite=True)
    assert ogr.Open(str(tmp_path / "mywork.gpkg")).GetLayer(0).GetName() == "my_field_notes"
    draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=2, seed=0)
    draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=3, seed=0,
                           overwrite=True)  # an earlier draw's file is replaced
    assert len(_points(tmp_path / "t.gpkg")) == 9


def test_an_image_band_is_no_reference():
    band = np.arange(1, 301, dtype=np.uint16).reshape(15, 20)
    with pytest.raises(LabelDrawError, match=r"300 different class ids \(from 1 to 300\).*image band"):
        draw_labels(band, np.ones(band.shape, bool), [], labels_per_class=1, seed=0)


def test_the_analysts_classes_number_a_reference_of_names(tmp_path):
    """A reference whose polygons carry class names is drawn in the ids the analyst's classes give those names."""
    from osgeo import osr

    rows = 32
    data = make_demo_scene(size=rows, bands=12, n_classes=2, seed=0)
    scene_path = write_scene(data.scene, tmp_path / "scene.tif")
    x0, dx, _, y0, _, dy = data.scene.transform
    srs = osr.SpatialReference()
    srs.ImportFromWkt(data.scene.crs_wkt)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "ref.gpkg"))
    layer = ds.CreateLayer("ref", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("landcover", ogr.OFTString))
    for name, (c0, c1) in (("water", (0, 16)), ("roof", (16, 32))):  # left half water, right half roof
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("landcover", name)
        xa, xb, ya, yb = x0 + c0 * dx, x0 + c1 * dx, y0, y0 + rows * dy
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON(({xa} {ya},{xb} {ya},{xb} {yb},{xa} {yb},{xa} {ya}))"))
        layer.CreateFeature(feature)
    ds = None
    mine = [ClassInfo(1, "water", (0, 0, 200), "a lake"), ClassInfo(2, "roof", (200, 0, 0), "red tiles"),
            ClassInfo(3, "tree", (0, 150, 0), "oaks")]
    draw = draw_labels_from_files(scene_path, tmp_path / "ref.gpkg", tmp_path / "t.gpkg", labels_per_class=2, seed=0,
                                  known_classes=mine, class_field="landcover")
    assert [(c.id, c.name, c.prompt) for c in draw.classes] == [(1, "water", "a lake"), (2, "roof", "red tiles")]
    _, cols, ids = draw.split.train_pixels()
    assert set(ids[cols >= 16]) == {2} and set(ids[cols < 16]) == {1}  # roof on the right, water on the left
    plain = draw_labels_from_files(scene_path, tmp_path / "ref.gpkg", tmp_path / "u.gpkg", labels_per_class=2,
                                   seed=0, class_field="landcover")
    assert [(c.id, c.name) for c in plain.classes] == [(1, "roof"), (2, "water")]  # alphabetical without them
    assert np.array_equal(draw.split.train_mask, plain.split.train_mask)  # bench's pixels, only the ids differ
    assert np.array_equal(draw.split.test_mask, plain.split.test_mask)
    assert draw.renumbered == {1: 2, 2: 1} and plain.renumbered == {}


def test_a_disjoint_warning_counts_the_reference_pixels_before_the_guard_band():
    labels = np.zeros((10, 10), np.uint8)
    labels[:4] = 1
    labels[8, 2:5] = 2  # three pixels side by side: one guard band swallows the others
    scene_valid = np.ones((10, 10), bool)
    draw = draw_labels(labels, scene_valid, [ClassInfo(1, "a"), ClassInfo(2, "b")], labels_per_class=5, seed=0,
                       split="disjoint", patch_side=9)
    assert "'b' (id 2) has only 3 reference pixels: 2 drawn for training, 0 left to validate on" in draw.warnings


def test_a_stray_shapefile_part_counts_as_an_existing_file(labelled, tmp_path):
    (tmp_path / "t.prj").write_text("a CRS of an earlier file")  # would give the new points that CRS
    with pytest.raises(OutputExistsError, match=r"t\.prj already exists"):
        draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.shp", labels_per_class=1, seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.prj"]


def test_the_default_patch_side_is_the_fast_presets():
    from hypersynth.core.label_draw import DEFAULT_PATCH_SIDE
    from hypersynth.core.ldm.config import preset

    assert DEFAULT_PATCH_SIDE == preset("fast").vae.patch_size == preset("full").vae.patch_size


def test_the_draws_valid_pixels_are_benchs_with_bands_flagged_and_no_data_in_some(tmp_path):
    """The draw reads a plain raster's layout (one pass, no pixel kept); bench reads the scene whole: both find the
    same valid pixels where a flagged band alone has no data (ignored) and good bands have some (left out)."""
    from osgeo import gdal

    from hypersynth.core.io.read import read_scene_layout

    scene = make_demo_scene(size=32, bands=12, n_classes=3, seed=0).scene
    scene.good_bands = np.ones(12, bool)
    scene.good_bands[3] = False
    path = write_scene(scene, tmp_path / "scene.tif")
    ds = gdal.Open(str(path), gdal.GA_Update)
    for band, rows, cols, value in ((4, slice(0, 5), slice(0, 5), -9999.0), (6, slice(10, 12), slice(10, 12), -9999.0),
                                    (7, 20, 20, np.nan)):
        values = ds.GetRasterBand(band).ReadAsArray()
        values[rows, cols] = value
        ds.GetRasterBand(band).WriteArray(values)
    ds = None
    whole, layout = read_scene(path), read_scene_layout(path)
    assert np.array_equal(np.asarray(layout.valid), np.asarray(whole.valid)) and (~np.asarray(whole.valid)).sum() == 5


def test_a_share_of_each_class_as_the_papers_draw(labelled, tmp_path, capsys):
    """--share 10%: each class gives a tenth of its reference pixels (rounded, at least one) to training."""
    scene = read_scene(labelled["scene"])
    reference = np.where(scene.valid, labelled["labels"], 0)
    draw = draw_labels_from_files(labelled["scene"], labelled["truth"], tmp_path / "t.gpkg", labels_per_class=5,
                                  seed=2, share=0.1, validation=tmp_path / "v.tif")
    counts = draw.split.counts()
    for class_id in (1, 2, 3):
        held = int((reference == class_id).sum())
        assert counts[class_id] == (max(1, round(held / 10)), held - max(1, round(held / 10)))
    assert "(10 % of each class, seed 2)" in draw.summary() and draw.warnings == []
    labels = np.zeros((6, 6), np.uint8)
    labels[0, :4], labels[5, 5] = 1, 2  # class 2: one pixel, which trains and leaves none to validate
    small = draw_labels(labels, np.ones((6, 6), bool), [ClassInfo(1, "a"), ClassInfo(2, "b")], seed=0, share=0.25)
    assert small.split.counts() == {1: (1, 3), 2: (1, 0)}
    assert small.warnings == ["'b' (id 2) has no pixel left to validate on"]
    with pytest.raises(LabelDrawError, match="share of each class must lie between 0 and 1"):
        draw_labels(labels, np.ones((6, 6), bool), [], seed=0, share=1.5)
    args = ["draw-labels", "--scene", str(labelled["scene"]), "--truth", str(labelled["truth"]), "--quiet",
            "--out", str(tmp_path / "u.gpkg")]
    assert main(args + ["--share", "10%", "--seed", "2"]) == 0
    assert np.array_equal(read_labels(tmp_path / "u.gpkg", scene)[0], draw.split.train_labels())
    assert main(args + ["--share", "0.1", "--labels-per-class", "3", "--overwrite"]) == 2
    assert "give --labels-per-class or --share, not both" in capsys.readouterr().err
    assert main(args + ["--share", "100%", "--overwrite"]) == 2
