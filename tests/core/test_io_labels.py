"""read_labels: polygons and points from GeoPackage/Shapefile/GeoJSON, reprojection, label rasters, errors."""

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from rasterio.crs import CRS

from hypersynth.core.io.labels import LabelReadError, read_labels
from hypersynth.core.io.read import read_scene
from hypersynth.core.io.write import write_label_raster
from hypersynth.core.scene import PIXEL_GRID, ClassInfo, Scene, default_color

DATA = Path(os.environ.get("HYPERSYNTH_DATA_DIR", "/nonexistent"))
X0, Y0, PX = 366000.0, 5810000.0, 10.0  # UTM 33N origin (Potsdam) and pixel size
ROWS, COLS = 10, 12


def _scene(georeferenced=True):
    return Scene(cube=np.zeros((10, ROWS, COLS), np.float32), valid=np.ones((ROWS, COLS), bool),
                 transform=(X0, PX, 0.0, Y0, 0.0, -PX) if georeferenced else PIXEL_GRID,
                 crs_wkt=CRS.from_epsg(32633).to_wkt() if georeferenced else None)


def _box(r0, c0, r1, c1):
    """A UTM polygon covering pixel rows r0..r1-1, cols c0..c1-1 (edges pulled in by a fifth of a pixel)."""
    x0, x1 = X0 + (c0 + 0.2) * PX, X0 + (c1 - 0.2) * PX
    y0, y1 = Y0 - (r0 + 0.2) * PX, Y0 - (r1 - 0.2) * PX
    return ogr.CreateGeometryFromWkt(f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))")


def _point(r, c):
    return ogr.CreateGeometryFromWkt(f"POINT({X0 + (c + 0.5) * PX} {Y0 - (r + 0.5) * PX})")


def _write_vector(path, features, *, driver="GPKG", epsg=32633, field="Class", kind=ogr.OFTString,
                  layer="labels", extra_field=None):
    """features: [(geometry in UTM 33N, value)]; written in EPSG ``epsg`` (None: no CRS)."""
    drv = ogr.GetDriverByName(driver)
    ds = drv.Open(str(path), 1) if path.exists() else drv.CreateDataSource(str(path))
    srs = None
    transform = None
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        if epsg != 32633:
            utm = osr.SpatialReference()
            utm.ImportFromEPSG(32633)
            utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            transform = osr.CoordinateTransformation(utm, srs)
    lyr = ds.CreateLayer(layer, srs=srs, geom_type=ogr.wkbUnknown)
    lyr.CreateField(ogr.FieldDefn(field, kind))
    if extra_field:
        lyr.CreateField(ogr.FieldDefn(extra_field, ogr.OFTString))
    for geom, value in features:
        geom = geom.Clone()
        if transform is not None:
            geom.Transform(transform)
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetGeometry(geom)
        f.SetField(field, value)
        lyr.CreateFeature(f)
    ds = None
    return path


POLYGONS = [(_box(1, 1, 4, 5), "water"), (_box(6, 6, 9, 11), "low vegetation"), (_box(5, 0, 8, 3), "roof")]


def _expected_polygon_labels(ids):
    expected = np.zeros((ROWS, COLS), np.int32)
    expected[1:4, 1:5], expected[6:9, 6:11], expected[5:8, 0:3] = ids
    return expected


def test_geopackage_polygons_with_class_names(tmp_path):
    labels, classes = read_labels(_write_vector(tmp_path / "l.gpkg", POLYGONS), _scene())
    assert [(c.id, c.name) for c in classes] == [(1, "low vegetation"), (2, "roof"), (3, "water")]  # sorted names
    assert classes[0].color == default_color(0)
    assert labels.dtype == np.uint8  # a byte a pixel for up to 255 classes
    assert np.array_equal(labels, _expected_polygon_labels((3, 1, 2)))


def test_shapefile_points_with_integer_ids(tmp_path):
    points = [(_point(0, 0), 2), (_point(9, 11), 5), (_point(4, 7), 2)]
    path = _write_vector(tmp_path / "pts.shp", points, driver="ESRI Shapefile", field="class_id",
                         kind=ogr.OFTInteger, extra_field="note")
    labels, classes = read_labels(path, _scene())
    assert [(c.id, c.name) for c in classes] == [(2, "class 2"), (5, "class 5")]
    assert labels[0, 0] == 2 and labels[9, 11] == 5 and labels[4, 7] == 2 and np.count_nonzero(labels) == 3
    wide = _write_vector(tmp_path / "wide.shp", [(_point(0, 0), 65535), (_point(1, 1), 300)], driver="ESRI Shapefile",
                         field="class_id", kind=ogr.OFTInteger)
    wide_map, wide_classes = read_labels(wide, _scene())
    assert sorted(c.id for c in wide_classes) == [300, 65535]  # a 16-bit class map holds them
    assert wide_map.dtype == np.uint16 and wide_map[0, 0] == 65535 and wide_map[1, 1] == 300
    too_wide = _write_vector(tmp_path / "too_wide.shp", [(_point(0, 0), 70000), (_point(1, 1), 2)],
                             driver="ESRI Shapefile", field="class_id", kind=ogr.OFTInteger)
    with pytest.raises(LabelReadError, match="class id 70000; class ids run from 1 to 65535"):
        read_labels(too_wide, _scene())


def test_wgs84_geojson_is_reprojected_to_the_utm_scene(tmp_path):
    path = _write_vector(tmp_path / "l.geojson", POLYGONS + [(_point(0, 11), "roof")], driver="GeoJSON",
                         epsg=4326)
    labels, classes = read_labels(path, _scene())
    expected = _expected_polygon_labels((3, 1, 2))
    expected[0, 11] = 2
    assert np.array_equal(labels, expected)


def test_a_shapefile_without_its_prj_is_read_in_the_scenes_crs_and_said(tmp_path, caplog):
    path = _write_vector(tmp_path / "l.shp", POLYGONS, driver="ESRI Shapefile", epsg=None)
    labels, _ = read_labels(path, _scene())
    assert np.array_equal(labels, _expected_polygon_labels((3, 1, 2)))  # in UTM 33N, as the scene
    assert "l.shp has no CRS (a Shapefile without its .prj?): its coordinates are read as the scene's EPSG:32633" in \
        caplog.text


def test_known_classes_give_ids_and_new_names_follow(tmp_path):
    known = [ClassInfo(4, "Water", (0, 0, 255), prompt="a lake"), ClassInfo(7, "Roof", (200, 0, 0))]
    labels, classes = read_labels(_write_vector(tmp_path / "l.gpkg", POLYGONS), _scene(), classes=known)
    assert [(c.id, c.name) for c in classes] == [(4, "Water"), (7, "Roof"), (8, "low vegetation")]
    assert classes[0].prompt == "a lake"
    assert np.array_equal(labels, _expected_polygon_labels((4, 8, 7)))


def _two_field_layer(path, fields, rows):
    """A GeoPackage of ``rows`` ``(geometry, {field: value})`` with ``fields`` ``{name: OGR type}``."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer("labels", srs=srs, geom_type=ogr.wkbPolygon)
    for name, kind in fields.items():
        lyr.CreateField(ogr.FieldDefn(name, kind))
    for geom, values in rows:
        feature = ogr.Feature(lyr.GetLayerDefn())
        feature.SetGeometry(geom)
        for name, value in values.items():
            feature.SetField(name, value)
        lyr.CreateFeature(feature)
    ds = None
    return path


def test_names_in_the_layer_unlike_the_class_files_and_a_guessed_field_are_said(tmp_path, caplog):
    """Review: a layer whose class field says id 1 is 'urban' took the class file's 'water' (and its prompt) without
    a word, and a digitiser's 'classified_by' field was taken for the classes, unsaid."""
    both = _two_field_layer(tmp_path / "both.gpkg", {"class_id": ogr.OFTInteger, "class": ogr.OFTString},
                            [(_box(1, 1, 4, 5), {"class_id": 1, "class": "urban"}),
                             (_box(6, 6, 9, 11), {"class_id": 2, "class": "Low_vegetation"})])
    known = [ClassInfo(1, "water", prompt="deep clear water"), ClassInfo(2, "low vegetation")]
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        _, classes = read_labels(both, _scene(), classes=known)
    assert [c.name for c in classes] == ["water", "low vegetation"]  # the class file's, as before
    assert ("both.gpkg: its field 'class' names 1 class id otherwise than the classes given (1: 'urban' there, "
            "'water' in the classes)") in caplog.text  # 'Low_vegetation' is the same name
    caplog.clear()
    guessed = _two_field_layer(tmp_path / "guess.gpkg", {"landuse": ogr.OFTInteger, "classified_by": ogr.OFTString},
                               [(_box(1, 1, 4, 5), {"landuse": 1, "classified_by": "anna"}),
                                (_box(6, 6, 9, 11), {"landuse": 2, "classified_by": "ben"})])
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_labels(guessed, _scene())
    assert ("guess.gpkg: no field is named class_id, class or label, so the classes are read from 'classified_by', "
            "whose name starts like one (the others: landuse); if another field holds them, name it "
            "(--class-field)") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_labels(guessed, _scene(), class_field="landuse")  # named: nothing to say
    assert not caplog.text


def test_a_csv_of_field_points_gives_its_points(tmp_path, caplog):
    """Review: a table of x, y and class_id columns had no geometry for GDAL, and every row was left out."""
    rows = [(0, 0, 2), (9, 11, 5), (4, 7, 2)]
    table = "easting,northing,class_id\n" + "".join(f"{X0 + (c + 0.5) * PX},{Y0 - (r + 0.5) * PX},{k}\n"
                                                     for r, c, k in rows)
    (tmp_path / "plots.csv").write_text(table)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        labels, classes = read_labels(tmp_path / "plots.csv", _scene())
    assert [c.id for c in classes] == [2, 5] and labels[0, 0] == 2 and labels[9, 11] == 5 and labels[4, 7] == 2
    assert np.count_nonzero(labels) == 3
    assert "plots.csv has no CRS: its coordinates are read as the scene's EPSG:32633" in caplog.text
    from osgeo import osr  # the same points as lon/lat degrees: WGS 84, as a CSV cannot say (review)

    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32633), wgs84.ImportFromEPSG(4326)
    for srs in (utm, wgs84):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_degrees = osr.CoordinateTransformation(utm, wgs84)
    lines = ["longitude,latitude,class_id"]
    for r, c, k in rows:
        lon, lat, _ = to_degrees.TransformPoint(X0 + (c + 0.5) * PX, Y0 - (r + 0.5) * PX)
        lines.append(f"{lon:.9f},{lat:.9f},{k}")
    (tmp_path / "degrees.csv").write_text("\n".join(lines) + "\n")
    degrees, _ = read_labels(tmp_path / "degrees.csv", _scene())
    assert np.array_equal(degrees, labels)


def test_layer_and_field_choice(tmp_path):
    path = _write_vector(tmp_path / "two.gpkg", POLYGONS, layer="first")
    _write_vector(path, POLYGONS[:2], layer="second", field="kind")
    with pytest.raises(LabelReadError, match=r"several layers \(first, second\); name the one with the labels as "
                                             r"QGIS does, e\.g\. .*two\.gpkg\|layername=first$"):
        read_labels(path, _scene())
    labels, classes = read_labels(path, _scene(), layer="second", class_field="KIND")  # case-insensitive
    assert len(classes) == 2 and np.count_nonzero(labels) == 12 + 15
    named, _ = read_labels(f"{path}|layername=second", _scene(), class_field="kind")  # as QGIS names a layer
    assert np.array_equal(named, labels)
    with pytest.raises(LabelReadError, match="no layer 'third'; its layers are first, second"):
        read_labels(path, _scene(), layer="third")
    with pytest.raises(LabelReadError, match="no field 'cls'; its fields are kind"):
        read_labels(path, _scene(), layer="second", class_field="cls")


def test_no_class_field_lists_the_fields(tmp_path):
    path = _write_vector(tmp_path / "l.gpkg", POLYGONS, field="species", extra_field="comment")
    with pytest.raises(LabelReadError, match=r"no class field found.*fields are species, comment"):
        read_labels(path, _scene())


def test_features_outside_the_scene(tmp_path):
    far = [(_box(100, 100, 103, 103), "a"), (_box(105, 100, 108, 103), "b")]
    with pytest.raises(LabelReadError, match=r"all 2 features .* lie outside the scene: the labels cover x "
                                             r"367002..367028, y 5808922..5808998, the scene covers x 366000..366120, y 5809900..5810000"):
        read_labels(_write_vector(tmp_path / "far.gpkg", far), _scene())


def test_classes_whose_features_all_lie_outside_the_scene_are_named(tmp_path, caplog):
    """Before "labels one class only" the reason is said: the other classes' features lie outside the scene."""
    import logging

    inside = [(_box(1, 1, 3, 3), "a")]
    far = [(_box(100, 100, 103, 103), "b"), (_box(105, 100, 108, 103), "b")]
    with caplog.at_level(logging.WARNING, logger="hypersynth"), pytest.raises(LabelReadError, match="one class only"):
        read_labels(_write_vector(tmp_path / "half.gpkg", inside + far), _scene())
    assert ("half.gpkg: no pixel of the scene is labelled b (2): 2 of the 3 features lie outside the scene; check "
            "that the labels belong to this scene") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):  # validation labels may hold one class
        labels, found = read_labels(_write_vector(tmp_path / "half2.gpkg", inside + far), _scene(), min_classes=1)
    assert [c.name for c in found] == ["a"] and "no pixel of the scene is labelled b" in caplog.text


def test_a_few_features_outside_the_scene_are_said_though_their_classes_keep_pixels(tmp_path, caplog):
    """A drifted point of a class labelled elsewhere too: it labels nothing, and nothing else would say so."""
    import logging

    inside = [(_box(1, 1, 3, 3), "a"), (_box(5, 5, 7, 7), "b")]
    far = [(_box(100, 100, 103, 103), "b")]
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        labels, found = read_labels(_write_vector(tmp_path / "drift.gpkg", inside + far), _scene())
    assert [c.name for c in found] == ["a", "b"]
    assert ("drift.gpkg: 1 of the 3 label features lies outside the scene and label nothing; check them (digitised "
            "on another image, or in another CRS?)") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_labels(_write_vector(tmp_path / "fine.gpkg", inside), _scene())
        read_labels(tmp_path / "drift.gpkg", _scene(), min_classes=1)  # validation labels may cover a region
    assert "outside" not in caplog.text


def test_polygons_smaller_than_a_pixel(tmp_path):
    x, y = X0 + 0.1 * PX, Y0 - 0.1 * PX  # a sliver in the corner of pixel (0, 0), away from its centre
    sliver = ogr.CreateGeometryFromWkt(f"POLYGON(({x} {y},{x + 2} {y},{x + 2} {y - 2},{x} {y - 2},{x} {y}))")
    with pytest.raises(LabelReadError, match="overlap the scene but contain no pixel centre"):
        read_labels(_write_vector(tmp_path / "tiny.gpkg", [(sliver, "a"), (sliver, "b")]), _scene())


def test_overlapping_labels_of_two_classes_and_polygons_that_label_nothing_are_said(tmp_path, caplog):
    """Review: two classes' polygons overlapping were settled by the file's order, a point of another class on a
    polygon silently won, and plots smaller than a pixel labelled nothing, all without a word."""
    x, y = X0 + 0.1 * PX, Y0 - 0.1 * PX  # a sliver in the corner of pixel (0, 0), away from its centre
    sliver = ogr.CreateGeometryFromWkt(f"POLYGON(({x} {y},{x + 2} {y},{x + 2} {y - 2},{x} {y - 2},{x} {y}))")
    features = [(_box(1, 1, 4, 5), 1), (_box(3, 3, 6, 8), 2), (_point(8, 1), 2), (_box(7, 0, 9, 3), 1),
                (sliver, 1), (_box(0, 9, 2, 11), 2)]
    path = _write_vector(tmp_path / "o.gpkg", features, field="class_id", kind=ogr.OFTInteger)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        labels, _ = read_labels(path, _scene())
    # rows 3, columns 3-4 under both boxes (the later one kept), and the point on class 1's pixel (8, 1)
    assert labels[3, 3] == 2 and labels[8, 1] == 2
    assert ("o.gpkg: 3 pixels lie under labels of two classes (e.g. row 3, column 3: class 1's feature, and class 2 "
            "kept there)") in caplog.text
    assert "o.gpkg: 1 of its 5 label polygons contains no pixel centre" in caplog.text
    caplog.clear()
    field = _box(1, 1, 4, 5)  # three copies of a field, a plot inside it, another field over them all (review)
    apart = _write_vector(tmp_path / "apart.gpkg", [(field, 1), (field, 1), (_box(2, 2, 3, 3), 1), (field, 1),
                                                     (_box(0, 0, 5, 6), 1), (_box(6, 6, 9, 11), 2), (_point(2, 2), 1)],
                          field="class_id", kind=ogr.OFTInteger)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_labels(apart, _scene())  # one class's features overlapping, a point on its own class: nothing to say
    assert "two classes" not in caplog.text and "no pixel centre" not in caplog.text


def test_one_class_only(tmp_path):
    path = _write_vector(tmp_path / "one.gpkg", [(_box(1, 1, 3, 3), "water"), (_box(5, 5, 7, 7), "water")])
    with pytest.raises(LabelReadError, match="one class only .water.: label at least two classes"):
        read_labels(path, _scene())


def test_unreadable_file(tmp_path):
    (tmp_path / "junk.gpkg").write_bytes(b"not a geopackage" * 20)
    with pytest.raises(LabelReadError, match="cannot read the labels .*junk.gpkg"):
        read_labels(tmp_path / "junk.gpkg", _scene())
    with pytest.raises(LabelReadError, match="does not exist"):
        read_labels(tmp_path / "missing.gpkg", _scene())


def test_georeferenced_vector_on_a_pixel_grid_scene(tmp_path):
    with pytest.raises(LabelReadError, match=r"georeferenced \(EPSG:32633.*no georeference.*label raster of the "
                                             r"scene's size \(10 rows × 12 cols\)"):
        read_labels(_write_vector(tmp_path / "l.gpkg", POLYGONS), _scene(georeferenced=False))


def test_pixel_coordinates_vector_on_a_pixel_grid_scene(tmp_path):
    # QGIS shows an ungeoreferenced raster with x = column, y = -row; points drawn there have no CRS.
    pts = [(ogr.CreateGeometryFromWkt("POINT(2.5 -3.5)"), 1), (ogr.CreateGeometryFromWkt("POINT(11.2 -0.1)"), 2)]
    path = _write_vector(tmp_path / "px.shp", pts, driver="ESRI Shapefile", epsg=None, field="label",
                         kind=ogr.OFTInteger)
    labels, _ = read_labels(path, _scene(georeferenced=False))
    assert labels[3, 2] == 1 and labels[0, 11] == 2 and np.count_nonzero(labels) == 2


def test_label_raster_round_trip_keeps_names_and_colours(tmp_path):
    scene = _scene()
    truth = _expected_polygon_labels((3, 1, 2))
    classes = [ClassInfo(1, "low vegetation", (10, 200, 10)), ClassInfo(2, "roof", (200, 10, 10)),
               ClassInfo(3, "water", (10, 10, 200))]
    path = write_label_raster(tmp_path / "labels.tif", truth, classes, transform=scene.transform,
                              crs_wkt=scene.crs_wkt)
    labels, found = read_labels(path, scene)
    assert np.array_equal(labels, truth)
    assert [(c.id, c.name, c.color) for c in found] == [(c.id, c.name, c.color) for c in classes]


def _label_tif(path, values, transform, epsg=32633, bands=1):
    """A label GeoTIFF on ``transform`` in EPSG ``epsg`` (None: no CRS)."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), values.shape[1], values.shape[0], bands, gdal.GDT_Float32)
    ds.SetGeoTransform(transform)
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for b in range(bands):
        ds.GetRasterBand(b + 1).WriteArray(values)
    ds = None
    return path


def test_label_raster_grid_and_value_errors(tmp_path):
    truth = _expected_polygon_labels((3, 1, 2)).astype(np.float32)
    grid = (X0, PX, 0.0, Y0, 0.0, -PX)
    labels, found = read_labels(_label_tif(tmp_path / "ok.tif", truth, grid), _scene())
    assert np.array_equal(labels, truth) and [c.name for c in found] == ["class 1", "class 2", "class 3"]
    shifted = _label_tif(tmp_path / "shift.tif", truth, (X0 + 5, PX, 0.0, Y0, 0.0, -PX))
    with pytest.raises(LabelReadError, match="different grid.*resample the labels.*gdalwarp -te 366000 5809900 "
                                             "366120 5810000 -ts 12 10"):
        read_labels(shifted, _scene())
    with pytest.raises(LabelReadError, match="is in EPSG:32632.*reproject.*gdalwarp -t_srs EPSG:32633 -te"):
        read_labels(_label_tif(tmp_path / "crs.tif", truth, grid, epsg=32632), _scene())
    with pytest.raises(LabelReadError, match="has 2 bands; a label raster has one band"):
        read_labels(_label_tif(tmp_path / "two.tif", truth, grid, bands=2), _scene())
    with pytest.raises(LabelReadError, match="fractional values"):
        read_labels(_label_tif(tmp_path / "frac.tif", truth + 0.5, grid), _scene())
    with pytest.raises(LabelReadError, match="negative values"):
        read_labels(_label_tif(tmp_path / "neg.tif", truth - 2, grid), _scene())
    with pytest.raises(LabelReadError, match="holds the value 70000; class ids run from 1 to 65535.*no-data"):
        read_labels(_label_tif(tmp_path / "wide.tif", np.where(truth == 3, 70000, truth), grid), _scene())
    with pytest.raises(LabelReadError, match=r"zero.tif labels no pixel of the scene: every value is 0 \(unlabelled\) "
                                             r"or NaN; give the raster with your labels \(class ids 1, 2, ...\)"):
        read_labels(_label_tif(tmp_path / "zero.tif", truth * 0, grid), _scene())
    with pytest.raises(LabelReadError, match="is 9×12 px but the scene is 10×12"):
        read_labels(_label_tif(tmp_path / "short.tif", truth[:9], grid), _scene(georeferenced=False))


def _big_scene(rows, cols):
    """A scene grid of ``rows × cols`` pixels at the tests' origin (the cube a broadcast view: no memory)."""
    return Scene(cube=np.broadcast_to(np.float32(0), (10, rows, cols)), valid=np.ones((rows, cols), bool),
                 transform=(X0, PX, 0.0, Y0, 0.0, -PX), crs_wkt=CRS.from_epsg(32633).to_wkt())


def _tiled_label_tif(path, values, nodata=None):
    """A float32 label raster in 16 × 16 deflate tiles on the tests' grid."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), values.shape[1], values.shape[0], 1, gdal.GDT_Float32,
                                              options=["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16",
                                                       "COMPRESS=DEFLATE"])
    ds.SetGeoTransform((X0, PX, 0.0, Y0, 0.0, -PX))
    ds.SetProjection(CRS.from_epsg(32633).to_wkt())
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(values)
    ds = None
    return path


def test_a_label_raster_is_read_a_chunk_of_rows_at_a_time(tmp_path, monkeypatch):
    """Chunks of whole block rows give the map the whole raster gives: no-data, NaN and ids at every chunk's edge;
    a bad value in a later chunk is still refused."""
    import hypersynth.core.io.labels as labels_module

    rng = np.random.default_rng(3)
    values = rng.choice([0, 1, 2, 7, 255], size=(90, 50)).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    values[rng.random(values.shape) < 0.05] = -9999  # the no-data value
    values[80:, :] = np.where(values[80:, :] == 7, 0, values[80:, :])  # class 7 ends before the last chunk
    values[85, 3] = 9  # class 9 only in the last chunk
    expected = np.where(np.isnan(values) | (values == -9999), 0, values).astype(np.int64)
    path = _tiled_label_tif(tmp_path / "labels.tif", values, nodata=-9999)
    whole, whole_classes = read_labels(path, _big_scene(90, 50))  # one chunk: 4500 pixels
    monkeypatch.setattr(labels_module, "LABEL_CHUNK_PIXELS", 16 * 50)  # one row of tiles (16 rows) a chunk
    chunked, chunked_classes = read_labels(path, _big_scene(90, 50))
    assert chunked.dtype == whole.dtype == np.uint8  # float values, ids up to 255: a byte a pixel
    assert np.array_equal(chunked, expected) and np.array_equal(whole, expected)
    assert [c.id for c in chunked_classes] == [c.id for c in whole_classes] == [1, 2, 7, 9, 255]
    bad = values.copy()
    bad[70, 40] = 2.5  # in the fifth chunk
    with pytest.raises(LabelReadError, match="fractional values"):
        read_labels(_tiled_label_tif(tmp_path / "bad.tif", bad, nodata=-9999), _big_scene(90, 50))


def test_label_map_type_holds_the_ids_and_no_more(tmp_path):
    """A map of ids up to 255 is a byte a pixel; ids over 255 keep two bytes, exact (a float32 raster's too, and one
    id over 255 in the last chunk only)."""
    values = np.zeros((40, 30), np.float32)
    values[0, 0], values[39, 29] = 1, 300
    labels, classes = read_labels(_tiled_label_tif(tmp_path / "wide.tif", values), _big_scene(40, 30))
    assert labels.dtype == np.uint16 and labels[0, 0] == 1 and labels[39, 29] == 300
    assert [c.id for c in classes] == [1, 300]
    values[39, 29] = 255
    labels, _ = read_labels(_tiled_label_tif(tmp_path / "byte.tif", values), _big_scene(40, 30))
    assert labels.dtype == np.uint8 and labels[39, 29] == 255


@pytest.mark.parametrize("kind", ["raster", "vector"])
def test_reading_labels_takes_the_map_and_little_more(tmp_path, monkeypatch, kind):
    """Allocation peak of read_labels on a 1024 × 1024 grid read in chunks of 64 rows: the map and one chunk's
    temporaries. A float32 raster's ids are read into 2 bytes a pixel, then made the 1-byte map (3 at the peak); a
    vector's burn into the 1-byte map. A float32 raster read whole took 27 bytes a pixel, a vector's points 10
    (session 30); the int32 map of sessions 30-31 took 4 and more."""
    import tracemalloc

    import hypersynth.core.io.labels as labels_module

    rows = cols = 1024
    rng = np.random.default_rng(0)
    r, c = rng.integers(0, rows, 2000), rng.integers(0, cols, 2000)
    ids = 1 + np.arange(2000) % 6
    if kind == "raster":
        values = np.zeros((rows, cols), np.float32)
        values[r, c] = ids
        path = _tiled_label_tif(tmp_path / "labels.tif", values)
        del values
    else:
        path = _write_vector(tmp_path / "labels.gpkg", [(_point(int(i), int(j)), int(k)) for i, j, k in zip(r, c, ids)],
                             kind=ogr.OFTInteger)
    scene = _big_scene(rows, cols)
    chunk = 64 * cols
    monkeypatch.setattr(labels_module, "LABEL_CHUNK_PIXELS", chunk)
    tracemalloc.start()
    try:
        labels, classes = read_labels(path, scene)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [cl.id for cl in classes] == [1, 2, 3, 4, 5, 6] and labels.dtype == np.uint8
    assert np.count_nonzero(labels) == len(set(zip(r.tolist(), c.tolist())))
    per_pixel = 3 if kind == "raster" else 1
    assert peak < per_pixel * rows * cols + 40 * chunk, f"read_labels peaked at {peak / rows / cols:.1f} bytes a pixel"


@pytest.mark.skipif(not (DATA / "enmap_potsdam").is_dir(), reason="EnMAP Potsdam tiles not available")
def test_matlab_ground_truth_map_on_a_pixel_grid_scene(tmp_path):
    import scipy.io

    gt = np.zeros((ROWS, COLS), np.uint8)
    gt[:4, :5], gt[6:, 7:] = 2, 5
    scipy.io.savemat(tmp_path / "scene_gt.mat", {"scene_gt": gt, "weights": np.ones((ROWS, COLS))})
    labels, classes = read_labels(tmp_path / "scene_gt.mat", _scene(georeferenced=False),
                                  classes=[ClassInfo(5, "meadow", (0, 160, 0))])
    assert labels.dtype == np.uint8 and np.array_equal(labels, gt)  # the hinted name wins over 'weights'
    assert [(c.id, c.name) for c in classes] == [(2, "class 2"), (5, "meadow")]  # known names kept
    scipy.io.savemat(tmp_path / "two.mat", {"a": gt, "b": gt + 1})
    with pytest.raises(LabelReadError, match="no single 2-D label map of the scene's size 10 × 12"):
        read_labels(tmp_path / "two.mat", _scene(georeferenced=False))  # two anonymous maps: not guessed
    scipy.io.savemat(tmp_path / "small.mat", {"gt": gt[:5]})
    with pytest.raises(LabelReadError, match=r"gt \(5, 12\), none of the scene's size 10 × 12: these labels belong"):
        read_labels(tmp_path / "small.mat", _scene(georeferenced=False))
    # a scene cube of 10 bands × 12 rows × 16 columns saved bands first, read as 10 rows × 12 columns × 16 bands:
    # its labels (12, 16) are not blamed (review)
    sideways = Scene(cube=np.zeros((16, ROWS, COLS), np.float32), valid=np.ones((ROWS, COLS), bool),
                     transform=PIXEL_GRID)
    scipy.io.savemat(tmp_path / "truth.mat", {"gt": np.ones((COLS, 16), np.uint8)})
    with pytest.raises(LabelReadError, match=r"gt \(12, 16\), none of the scene's size 10 × 12: the scene's cube "
                                             r"was likely saved bands first .* cube.transpose\(1, 2, 0\)"):
        read_labels(tmp_path / "truth.mat", sideways)


def test_abundances_of_an_unmixing_dataset_give_dominant_endmember_labels(tmp_path, caplog):
    """Jasper Ridge's and Samson's references are abundances (end4.mat 'A' 4 × 10000, Samson.mat 'A' 95 × 95 × 3):
    refused as "another scene's labels" where the benchmarks label a pixel by its endmember of 0.8 or more."""
    import scipy.io

    rng = np.random.default_rng(0)
    abundances = rng.dirichlet([0.3, 0.3, 0.3], size=(ROWS, COLS)).astype(np.float64)  # (H, W, K), a pixel sums to 1
    expected = np.where(abundances.max(axis=2) >= 0.8, abundances.argmax(axis=2) + 1, 0)
    assert 0 < np.count_nonzero(expected) < expected.size  # pure and mixed pixels both
    layouts = {"samson_like.mat": abundances,  # (H, W, K)
               "k_by_pixels.mat": abundances.transpose(2, 0, 1).reshape(3, -1, order="F"),  # (K, H·W), MATLAB's order
               "k_first.mat": abundances.transpose(2, 0, 1)}  # (K, H, W)
    for name, array in layouts.items():
        scipy.io.savemat(tmp_path / name, {"A": array, "M": rng.random((10, 3))})  # M: the endmembers' spectra
        with caplog.at_level(logging.WARNING, logger="hypersynth"):
            labels, classes = read_labels(tmp_path / name, _scene(georeferenced=False),
                                          classes=[ClassInfo(2, "water", (0, 0, 200))])
        assert np.array_equal(labels, expected), name
        assert [(c.id, c.name) for c in classes] == [(1, "endmember 1"), (2, "water"), (3, "endmember 3")]
        assert (f"{name} holds abundances, not class ids ('A', {' × '.join(map(str, array.shape))}, 3 endmembers): "
                f"each pixel takes its largest endmember as its class where that abundance is at least 0.8") in \
            caplog.text
        caplog.clear()
    scipy.io.savemat(tmp_path / "weights.mat", {"A": abundances * 3})  # fractions that do not sum to 1: no abundances
    with pytest.raises(LabelReadError, match="no single 2-D label map"):
        read_labels(tmp_path / "weights.mat", _scene(georeferenced=False))


@pytest.mark.skipif(not (DATA / "enmap_potsdam" / "images").is_dir(), reason="the EnMAP tiles are not in the data folder")
def test_real_enmap_label_tile_on_its_scene_tile():
    name = "enmap_potsdam_tile_128_0.tif"
    scene = read_scene(DATA / "enmap_potsdam" / "images" / name)
    labels, classes = read_labels(DATA / "enmap_potsdam" / "labels" / name, scene)
    assert labels.shape == (32, 32) and [c.id for c in classes] == [1, 2, 3, 4, 5]


def test_an_envi_label_raster_is_read_through_its_header_too(tmp_path):
    """Analysts pick the .hdr of an ENVI pair (as for scenes); GDAL opens the data file beside it."""
    scene = _scene()
    truth = _expected_polygon_labels((3, 1, 2))
    ds = gdal.GetDriverByName("ENVI").Create(str(tmp_path / "labels.img"), COLS, ROWS, 1, gdal.GDT_Byte)
    ds.SetGeoTransform(scene.transform)
    ds.SetProjection(scene.crs_wkt)
    ds.GetRasterBand(1).WriteArray(truth.astype(np.uint8))
    ds = None
    by_header, _ = read_labels(tmp_path / "labels.hdr", scene)
    by_data, _ = read_labels(tmp_path / "labels.img", scene)
    assert np.array_equal(by_header, truth) and np.array_equal(by_data, truth)
    (tmp_path / "labels.img").unlink()
    with pytest.raises(LabelReadError, match="has no data file beside it"):
        read_labels(tmp_path / "labels.hdr", scene)


def test_a_label_raster_on_the_scenes_pixel_lattice_is_cut_to_the_scene(tmp_path):
    """A land-cover map of a larger area (or of part of the scene) on the scene's pixels is read where it covers it."""
    big = np.zeros((ROWS + 6, COLS + 8), np.uint16)
    big[3:3 + ROWS, 5:5 + COLS] = _expected_polygon_labels((3, 1, 2))
    big[0, 0] = 300  # outside the scene: neither read nor a class
    region = _label_tif(tmp_path / "region.tif", big, (X0 - 5 * PX, PX, 0.0, Y0 + 3 * PX, 0.0, -PX))
    labels, found = read_labels(region, _scene())
    assert np.array_equal(labels, _expected_polygon_labels((3, 1, 2))) and [c.id for c in found] == [1, 2, 3]
    part = _label_tif(tmp_path / "part.tif", np.full((4, 30), 7, np.uint16), (X0 + 6 * PX, PX, 0.0, Y0 - 8 * PX, 0.0,
                                                                              -PX))
    labels, found = read_labels(part, _scene(), min_classes=1)  # rows 8-11 of a 10-row scene, columns 6 on
    expected = np.zeros((ROWS, COLS), np.uint8)
    expected[8:, 6:] = 7
    assert np.array_equal(labels, expected) and [c.id for c in found] == [7]
    away = _label_tif(tmp_path / "away.tif", big, (X0 + 100 * PX, PX, 0.0, Y0, 0.0, -PX))
    with pytest.raises(LabelReadError, match=r"away.tif .* covers no pixel of the scene"):
        read_labels(away, _scene())
    coarser = _label_tif(tmp_path / "coarse.tif", big, (X0, 2 * PX, 0.0, Y0, 0.0, -2 * PX))
    with pytest.raises(LabelReadError, match="different grid.*resample the labels"):
        read_labels(coarser, _scene())
    elsewhere = big.copy()
    elsewhere[3:3 + ROWS, 5:5 + COLS] = 0  # labels only where the scene is not: another crop's (review)
    with pytest.raises(LabelReadError, match=r"^elsewhere.tif labels no pixel of the scene, but it holds labels "
                                             r"elsewhere: the scene covers its rows 4–13 and columns 6–17 of 16 × 20; "
                                             r"check that these labels belong to this scene"):
        read_labels(_label_tif(tmp_path / "elsewhere.tif", elsewhere, (X0 - 5 * PX, PX, 0.0, Y0 + 3 * PX, 0.0, -PX)),
                    _scene())
    with pytest.raises(LabelReadError, match=r"^empty.tif labels no pixel of the scene: every value is 0"):
        read_labels(_label_tif(tmp_path / "empty.tif", np.zeros_like(big), (X0 - 5 * PX, PX, 0.0, Y0 + 3 * PX, 0.0,
                                                                             -PX)), _scene())


def test_points_on_either_side_of_a_small_scene_are_said_to_lie_outside_it(tmp_path):
    """Their box met the scene, so the run said they contain no pixel centre and to draw larger polygons, when
    none lay on the scene (review)."""
    _write_vector(tmp_path / "around.gpkg", [(_point(-3, -3), "a"), (_point(ROWS + 3, COLS + 3), "b")])
    with pytest.raises(LabelReadError, match=r"^all 2 features of around.gpkg lie outside the scene"):
        read_labels(tmp_path / "around.gpkg", _scene())


def test_a_label_raster_without_its_crs_is_placed_by_its_geotransform_and_said(tmp_path, caplog):
    """A label raster that lost its CRS was laid on the scene by its size alone, whatever its geotransform said
    (10 pixels east, or 10 m pixels over a 30 m scene, both read as the scene's grid; code review)."""
    truth = _expected_polygon_labels((3, 1, 2))
    shifted = np.zeros((ROWS, COLS), np.float32)
    shifted[:, 2:] = truth[:, :-2]  # the same labels, two pixels further east on a grid two pixels further west
    moved = _label_tif(tmp_path / "moved.tif", shifted, (X0 - 2 * PX, PX, 0.0, Y0, 0.0, -PX), epsg=None)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        labels, _ = read_labels(moved, _scene())
    assert np.array_equal(labels[:, :-2], truth[:, :-2])  # where the file reaches, on the right pixels
    assert "moved.tif has no CRS: its grid is read in the scene's EPSG:32633 WGS 84 / UTM zone 33N" in caplog.text
    finer = _label_tif(tmp_path / "finer.tif", truth.astype(np.float32), (X0, PX / 3, 0.0, Y0, 0.0, -PX / 3),
                       epsg=None)
    with pytest.raises(LabelReadError, match="different grid.*resample the labels"):
        read_labels(finer, _scene())
    plain = _label_tif(tmp_path / "plain.tif", truth.astype(np.float32), (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), epsg=None)
    labels, _ = read_labels(plain, _scene())  # no georeference at all: the scene's grid, pixel for pixel, as before
    assert np.array_equal(labels, truth)


def test_a_label_raster_on_a_rotated_scenes_own_grid_is_read(tmp_path):
    """A scene whose geotransform is rotated: its own label raster (the same grid) is read; half a pixel off is not."""
    rotated = (X0, PX * 0.96, PX * 0.28, Y0, PX * 0.28, -PX * 0.96)
    scene = Scene(cube=np.zeros((10, ROWS, COLS), np.float32), valid=np.ones((ROWS, COLS), bool), transform=rotated,
                  crs_wkt=CRS.from_epsg(32633).to_wkt())
    truth = _expected_polygon_labels((3, 1, 2))
    labels, _ = read_labels(_label_tif(tmp_path / "own.tif", truth, rotated), scene)
    assert np.array_equal(labels, truth)
    off = (X0 + PX / 2, *rotated[1:])
    with pytest.raises(LabelReadError, match="different grid"):
        read_labels(_label_tif(tmp_path / "off.tif", truth, off), scene)


def test_label_strips_start_on_the_files_block_edges():
    from hypersynth.core.io.labels import row_strips

    assert list(row_strips(20, 4, 4)) == [slice(0, 20)]
    assert list(row_strips(20, 4, 4, first_file_row=3)) == [slice(0, 1), slice(1, 20)]  # file row 4 starts a block
    assert list(row_strips(20, 4, 4, first_file_row=-5)) == [slice(0, 1), slice(1, 20)]  # the map starts above it
    assert list(row_strips(3, 4, 4, first_file_row=1)) == [slice(0, 3)]


def _points_with_names(path, rows):
    """Points with a class_id and a class (name) field, as draw-labels writes them: rows of (r, c, id, name)."""
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    lyr = ds.CreateLayer("labels", srs=srs, geom_type=ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for r, c, class_id, name in rows:
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetGeometry(_point(r, c))
        f.SetField("class_id", class_id)
        if name is not None:
            f.SetField("class", name)
        lyr.CreateFeature(f)
    ds = None
    return path


def test_class_ids_take_their_names_from_the_text_field_beside_them(tmp_path):
    """draw-labels writes class_id and class: a run given the points without a class file names the classes as the
    points do, not "class 1" …; an id whose features disagree or name nothing keeps the plain name."""
    path = _points_with_names(tmp_path / "train.gpkg", [(0, 0, 1, "water"), (1, 1, 1, "water"), (2, 2, 2, "roof"),
                                                        (3, 3, 3, "tree"), (4, 4, 3, "grass"), (5, 5, 4, None)])
    _, classes = read_labels(path, _scene())
    assert [(c.id, c.name) for c in classes] == [(1, "water"), (2, "roof"), (3, "class 3"), (4, "class 4")]
    _, given = read_labels(path, _scene(), classes=[ClassInfo(1, "open water", (0, 0, 255))])
    assert [(c.id, c.name) for c in given][:2] == [(1, "open water"), (2, "roof")]  # the class file's name wins
    shared = _points_with_names(tmp_path / "shared.gpkg", [(0, 0, 1, "Anna"), (1, 1, 2, "Anna"), (2, 2, 3, "plot")])
    _, classes = read_labels(shared, _scene())  # a name two ids share is no class name
    assert [(c.id, c.name) for c in classes] == [(1, "class 1"), (2, "class 2"), (3, "plot")]


def test_points_on_one_pixel_are_said_and_which_class_was_kept(tmp_path, caplog):
    """Field points a GPS put within one pixel count once, and where their classes differ one is kept: both were
    silent (review)."""
    path = _write_vector(tmp_path / "points.gpkg", [(_point(1, 1), "water"), (_point(1, 1), "meadow"),
                                                    (_point(4, 4), "water"), (_point(4, 4), "water"),
                                                    (_point(7, 7), "meadow")], kind=ogr.OFTString)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        labels, found = read_labels(path, _scene())
    names = {c.name: c.id for c in found}
    assert (labels > 0).sum() == 3
    assert ("points.gpkg: 4 points share 2 pixels: each such pixel is one label; at 1 pixel their classes differ "
            f"and one is kept (e.g. row 1, column 1: classes {', '.join(map(str, sorted(names.values())))}, kept "
            f"{int(labels[1, 1])})") in caplog.text


def test_features_without_a_class_or_a_geometry_are_said_to_be_left_out(tmp_path, caplog):
    """A point whose class_id was left empty in QGIS was dropped without a word: the report counted 3 training
    pixels of the 4 drawn (review)."""
    path = tmp_path / "labels.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    lyr = ds.CreateLayer("labels", srs=srs, geom_type=ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    for at, class_id in (((0, 0), 1), ((1, 1), 2), ((2, 2), None), ((3, 3), None), (None, 1)):
        f = ogr.Feature(lyr.GetLayerDefn())
        if at is not None:
            f.SetGeometry(_point(*at))
        if class_id is not None:
            f.SetField("class_id", class_id)
        lyr.CreateFeature(f)
    ds = None
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        labels, _ = read_labels(path, _scene())
    assert int((labels > 0).sum()) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "labels.gpkg: of its 5 features, 2 have no class in 'class_id' (give them one, or delete them) and 1 has "
        "no geometry: left out"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_labels(_points_with_names(tmp_path / "all.gpkg", [(0, 0, 1, "water"), (1, 1, 2, "roof")]), _scene())
    assert caplog.records == []  # every feature has both: nothing said
