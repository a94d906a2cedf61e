"""Damaged scene and label files (truncated, empty, text renamed .tif): one clear error, no raw GDAL lines."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from osgeo import gdal, ogr, osr
from rasterio.transform import from_origin

from hypersynth.core.io.labels import LabelReadError, read_labels
from hypersynth.core.io.damaged import gdal_messages
from hypersynth.core.io.read import SceneReadError, read_scene

REPO = Path(__file__).resolve().parents[2]
TRANSFORM = from_origin(366000, 5810000, 30, 30)
GDAL_NOISE = ("ERROR 1:", "Warning 1:", "TIFFRead", "TIFFFill", "IReadBlock")


def _write(path, raw, **profile):
    bands, rows, cols = raw.shape
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=bands, dtype=raw.dtype,
                       transform=TRANSFORM, crs="EPSG:32633", **profile) as dst:
        dst.write(raw)
    return path


def _scene_tif(path, **profile):
    return _write(path, np.random.default_rng(0).random((12, 64, 64)).astype(np.float32), **profile)  # (B, H, W)


def _label_tif(path):
    labels = np.zeros((1, 64, 64), dtype=np.uint8)  # (1, H, W)
    labels[0, :10, :10], labels[0, -10:, -10:] = 1, 2
    return _write(path, labels)


def _damage(good, kind):
    """A damaged copy of ``good``: cut to half (a copy that stopped), cut inside the header, empty, or text."""
    bad = good.with_name(f"{kind}_{good.name}")
    data = good.read_bytes()
    if kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "cut_header":
        bad.write_bytes(data[:100])
    elif kind == "empty":
        bad.write_bytes(b"")
    else:
        bad.write_text("band,wavelength\n1,450\n2,550\n")  # a CSV saved under the image's name
    return bad


# what each damage must say: its cause and what to do
EXPECTED = {
    "truncated": r"looks truncated or damaged \(GDAL: TIFFReadEncodedStrip:Read error .*got \d+ bytes, expected "
                 r"\d+\); copy it again or re-export it",
    "cut_header": r"looks truncated or damaged \(GDAL: TIFF\w+:.*directory.*\); copy it again or re-export it",
    "empty": r"the file is empty \(0 bytes\).*copy it again or re-export it",
    "text": r"not in a format GDAL can read \(it holds text\); choose ",
}


def _scene_for_labels(tmp_path):
    return read_scene(_scene_tif(tmp_path / "scene.tif"))


@pytest.mark.parametrize("kind", EXPECTED)
def test_damaged_scene_says_what_is_wrong_and_prints_nothing_of_gdal(tmp_path, capfd, kind):
    bad = _damage(_scene_tif(tmp_path / "scene.tif"), kind)
    with pytest.raises(SceneReadError, match=rf"^cannot read the scene {bad}: .*{EXPECTED[kind]}") as err:
        read_scene(bad)
    assert str(err.value).count(str(bad)) == 1  # GDAL's copy of the path is taken out of its message
    if kind == "text":
        assert "a GeoTIFF, an ENVI .hdr/.img pair or a MATLAB .mat" in str(err.value)
    assert not [noise for noise in GDAL_NOISE if noise in capfd.readouterr().err]


def test_truncated_tiled_compressed_scene(tmp_path, capfd):
    good = _scene_tif(tmp_path / "tiled.tif", tiled=True, blockxsize=16, blockysize=16, compress="deflate")
    bad = _damage(good, "truncated")
    with pytest.raises(SceneReadError, match=r"looks truncated or damaged \(GDAL: .*Tile.*\); copy it again"):
        read_scene(bad)
    assert "ERROR" not in capfd.readouterr().err


@pytest.mark.parametrize("kind", EXPECTED)
def test_damaged_label_raster_says_what_is_wrong(tmp_path, capfd, kind):
    scene = _scene_for_labels(tmp_path)
    bad = _damage(_label_tif(tmp_path / "labels.tif"), kind)
    expected = EXPECTED[kind].replace("TIFFReadEncodedStrip:Read error .*got", "TIFF.*got")
    with pytest.raises(LabelReadError, match=rf"^cannot read the labels {bad}: .*{expected}"):
        read_labels(bad, scene)
    assert not [noise for noise in GDAL_NOISE if noise in capfd.readouterr().err]


def test_good_files_read_as_before_and_print_nothing(tmp_path, capfd, caplog):
    path = _scene_tif(tmp_path / "scene.tif")
    scene = read_scene(path)
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(scene.cube, ds.read())
    labels, classes = read_labels(_label_tif(tmp_path / "labels.tif"), scene)
    assert [c.id for c in classes] == [1, 2] and labels.sum() == 100 + 2 * 100
    assert capfd.readouterr() == ("", "")
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_the_gdal_handler_is_removed_after_a_failed_read(tmp_path):
    """A handler left behind would swallow GDAL's errors for the rest of the session."""
    bad = _damage(_scene_tif(tmp_path / "scene.tif"), "truncated")
    with gdal_messages() as outer:
        with pytest.raises(SceneReadError):
            read_scene(bad)
        with pytest.raises(LabelReadError):
            read_labels(_damage(_label_tif(tmp_path / "labels.tif"), "truncated"), read_scene(tmp_path / "scene.tif"))
        outer.clear()
        gdal.Error(gdal.CE_Warning, 1, "probe after the reads")
    assert outer == [(gdal.CE_Warning, "probe after the reads")]


def test_command_line_prints_one_clear_error_for_a_truncated_scene_or_label_raster(tmp_path):
    """The real entry point: GDAL's own stderr lines went through in a subprocess before the fix."""
    good_scene, good_labels = _scene_tif(tmp_path / "scene.tif"), _label_tif(tmp_path / "labels.tif")
    for scene, labels, role, bad in ((_damage(good_scene, "truncated"), good_labels, "scene", "truncated_scene.tif"),
                                     (good_scene, _damage(good_labels, "truncated"), "labels",
                                      "truncated_labels.tif")):
        run = subprocess.run([str(REPO / "bin" / "hypersynth"), "baseline", "--scene", str(scene), "--labels",
                              str(labels), "--out", str(tmp_path / f"out_{role}")],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 2, run.stderr
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        others = [line for line in run.stderr.splitlines() if not line.startswith("error:")]
        assert len(errors) == 1 and not [n for n in GDAL_NOISE for line in others if n in line], run.stderr
        assert f"cannot read the {role} {tmp_path / bad}: it looks truncated or damaged (GDAL: TIFF" in errors[0]
        assert errors[0].endswith("; copy it again or re-export it")
        assert not (tmp_path / f"out_{role}" / "classification.tif").exists()


def test_truncated_geopackage_labels(tmp_path, capfd):
    path = str(tmp_path / "labels.gpkg")
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = ds.CreateLayer("labels", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
    for i in range(300):  # enough rows that half the file cuts into the feature table
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class", 1 + i % 2)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT({366000 + 15 + 30 * (i % 64)} {5810000 - 15})"))
        layer.CreateFeature(feature)
    ds = None  # closes and writes the file
    bad = _damage(Path(path), "truncated")
    with pytest.raises(LabelReadError, match=rf"^cannot read the labels {bad}: it looks truncated or damaged "
                                             r"\(GDAL: .+\); copy it again or re-export it"):
        read_labels(bad, _scene_for_labels(tmp_path))
    assert "ERROR" not in capfd.readouterr().err


def test_same_messages_when_someone_switched_on_gdal_exceptions(tmp_path):
    """QGIS plugins may call gdal.UseExceptions() for the whole process; a subprocess keeps it out of the others."""
    scene = _scene_tif(tmp_path / "scene.tif")
    bad_labels = _damage(_label_tif(tmp_path / "labels.tif"), "truncated")
    bad_header = _damage(_label_tif(tmp_path / "labels.tif"), "cut_header")
    snippet = (
        "import sys\nfrom osgeo import gdal\ngdal.UseExceptions()\n"
        "from hypersynth.core.io.labels import read_labels\nfrom hypersynth.core.io.read import read_scene\n"
        "scene = read_scene(sys.argv[1])\n"
        "for path in sys.argv[2:]:\n"
        "    try:\n        read_labels(path, scene)\n"
        "    except ValueError as err:\n        print(err)\n")
    run = subprocess.run([sys.executable, "-c", snippet, str(scene), str(bad_labels), str(bad_header)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    truncated, cut_header = run.stdout.splitlines()
    assert "looks truncated or damaged (GDAL: TIFFReadEncodedStrip:Read error" in truncated
    assert "looks truncated or damaged (GDAL: TIFF" in cut_header and "not recognized" not in cut_header


# --------------------------------------------------------------------------- ENVI data shorter than its header


def _envi(path, raw, interleave="bsq"):
    """A real ENVI pair (data file + .hdr) as rasterio writes it; returns the data file."""
    bands, rows, cols = raw.shape
    with rasterio.open(path, "w", driver="ENVI", width=cols, height=rows, count=bands, dtype=raw.dtype,
                       transform=TRANSFORM, crs="EPSG:32633", interleave=interleave) as dst:
        dst.write(raw)
    return path


def _envi_cube():
    return np.random.default_rng(1).random((12, 64, 64)).astype(np.float32)  # (B, H, W): 196608 bytes


def _set_header(data_file, **keys):
    """Rewrites ENVI header keys (``header_offset=128`` -> "header offset = 128")."""
    header = data_file.with_suffix(".hdr")
    text = header.read_text()
    for key, value in keys.items():
        name = key.replace("_", " ")
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{name} =")]
        text = "\n".join(lines[:1] + [f"{name} = {value}"] + lines[1:]) + "\n"
    header.write_text(text)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("suffix", [".img", ".dat", ".bsq", ""])
@pytest.mark.parametrize("kept", [196608 // 2, 196604, 1000])
def test_truncated_envi_scene_is_an_error_not_a_cube_of_zeros(tmp_path, capfd, interleave, suffix, kept):
    """GDAL's raw driver reads the missing part as 0 without a word: the analyst would train on zeros.

    Cut to 1000 bytes, GDAL refuses to open it ("Image file is too small") and names no driver for it, which
    read as "not in a format GDAL can read"; the header beside it gives the same message as for the others.
    """
    data = _envi(tmp_path / f"scene{suffix}", _envi_cube(), interleave)
    data.write_bytes(data.read_bytes()[:kept])  # a copy that stopped part-way
    header = tmp_path / "scene.hdr"
    expected = (f"cannot read the scene {data}: it holds {kept} bytes, but its ENVI header {header} describes 196608 "
                f"(64 samples × 64 lines × 12 bands × 4 bytes + 0 bytes header offset): it looks truncated; copy it "
                f"again or re-export it")
    for given in (data, header):  # the data file or its header
        with pytest.raises(SceneReadError) as err:
            read_scene(given)
        assert str(err.value) == expected
    assert capfd.readouterr() == ("", "")


def test_envi_scene_one_byte_short_with_a_header_offset(tmp_path):
    raw = _envi_cube()
    data = _envi(tmp_path / "scene.img", raw)
    data.write_bytes(b"\x07" * 128 + data.read_bytes())  # a 128-byte embedded header before the cube
    _set_header(data, header_offset=128)
    np.testing.assert_array_equal(read_scene(data).cube, raw)  # whole: offset + cube
    data.write_bytes(data.read_bytes()[:-1])
    with pytest.raises(SceneReadError, match=r"it holds 196735 bytes, but its ENVI header .*scene\.hdr describes "
                                             r"196736 \(64 samples × 64 lines × 12 bands × 4 bytes \+ 128 bytes "
                                             r"header offset\): it looks truncated; copy it again or re-export it$"):
        read_scene(data)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.float64])
def test_truncated_envi_counts_the_bytes_of_each_data_type(tmp_path, dtype):
    raw = (np.random.default_rng(2).random((12, 8, 10)) * 100).astype(dtype)
    data = _envi(tmp_path / "scene.img", raw)
    size = np.dtype(dtype).itemsize
    data.write_bytes(data.read_bytes()[:-size])  # the last value of the last band is missing
    with pytest.raises(SceneReadError, match=rf"holds {12 * 8 * 10 * size - size} bytes, .* describes "
                                             rf"{12 * 8 * 10 * size} \(10 samples × 8 lines × 12 bands × {size} "
                                             rf"bytes \+ 0 bytes header offset\)"):
        read_scene(data)


@pytest.mark.parametrize("kept", [100_000, 1000])
def test_truncated_envi_scene_with_its_header_named_after_the_data_file(tmp_path, kept):
    """x.img.hdr instead of x.hdr: GDAL finds either, and so does the check when GDAL refuses the file."""
    data = _envi(tmp_path / "scene.img", _envi_cube())
    (tmp_path / "scene.hdr").rename(tmp_path / "scene.img.hdr")
    data.write_bytes(data.read_bytes()[:kept])
    with pytest.raises(SceneReadError, match=rf"it holds {kept} bytes, but its ENVI header .*scene\.img\.hdr "
                                             r"describes 196608 "):
        read_scene(data)


@pytest.mark.parametrize("trailing", [0, 1, 4096])
def test_whole_envi_scene_or_one_with_trailing_bytes_reads_as_before(tmp_path, capfd, caplog, trailing):
    raw = _envi_cube()
    data = _envi(tmp_path / "scene.img", raw, "bil")
    data.write_bytes(data.read_bytes() + b"\xff" * trailing)  # ENVI allows bytes after the cube
    scene = read_scene(data)
    np.testing.assert_array_equal(scene.cube, raw)
    assert scene.valid.all() and scene.transform == TRANSFORM.to_gdal()
    assert capfd.readouterr() == ("", "")
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_gzip_compressed_envi_scene_is_not_called_truncated(tmp_path):
    """ENVI "file compression = 1": the gzip data file is shorter than the cube by design."""
    import gzip

    raw = _envi_cube()
    data = _envi(tmp_path / "scene.img", raw)
    data.write_bytes(gzip.compress(data.read_bytes()))
    _set_header(data, file_compression=1)
    assert data.stat().st_size < raw.nbytes
    np.testing.assert_array_equal(read_scene(data).cube, raw)


@pytest.mark.parametrize("kept", [4000, 10])
def test_truncated_envi_label_raster_is_an_error_not_unlabelled_pixels(tmp_path, capfd, kept):
    scene = _scene_for_labels(tmp_path)
    labels = np.zeros((1, 64, 64), dtype=np.uint8)  # (1, H, W)
    labels[0, :10, :10], labels[0, -10:, -10:] = 1, 2
    data = _envi(tmp_path / "labels.img", labels)
    assert len(read_labels(data, scene)[1]) == 2
    data.write_bytes(data.read_bytes()[:kept])
    with pytest.raises(LabelReadError) as err:
        read_labels(data, scene)
    assert str(err.value) == (f"cannot read the labels {data}: it holds {kept} bytes, but its ENVI header "
                              f"{tmp_path / 'labels.hdr'} describes 4096 (64 samples × 64 lines × 1 bands × 1 bytes "
                              f"+ 0 bytes header offset): it looks truncated; copy it again or re-export it")
    assert capfd.readouterr() == ("", "")


# ------------------------------------------------------------------ ESRI .hdr (EHdr) data shorter than its header


def _ehdr(path, raw, **options):
    """A real ESRI .bil + .hdr pair as GDAL's EHdr driver writes it (georeferenced); returns the data file."""
    bands, rows, cols = raw.shape
    gdal_type = {np.dtype(np.float32): gdal.GDT_Float32, np.dtype(np.uint16): gdal.GDT_UInt16,
                 np.dtype(np.uint8): gdal.GDT_Byte}[raw.dtype]
    ds = gdal.GetDriverByName("EHdr").Create(str(path), cols, rows, bands, gdal_type,
                                             [f"{k}={v}" for k, v in options.items()])
    ds.SetGeoTransform(TRANSFORM.to_gdal())
    for b in range(bands):
        ds.GetRasterBand(b + 1).WriteArray(raw[b])
    ds = None
    return path


@pytest.mark.parametrize("kept", [196608 // 2, 196604, 1000])
def test_truncated_esri_bil_scene_is_an_error_that_says_so(tmp_path, capfd, kept):
    """Cut short, GDAL failed at "Failed to read scanline 32." (half), or named no driver for it when cut to 1000
    bytes ("not in a format GDAL can read"); the header says how long it should be."""
    raw = _envi_cube()
    data = _ehdr(tmp_path / "scene.bil", raw)
    np.testing.assert_array_equal(read_scene(data).cube, raw)  # whole, it reads as written
    data.write_bytes(data.read_bytes()[:kept])
    header = tmp_path / "scene.hdr"
    expected = (f"cannot read the scene {data}: it holds {kept} bytes, but its ESRI header {header} describes 196608 "
                "(64 columns × 64 rows × 12 bands × 4 bytes + 0 bytes skipped): it looks truncated; copy it again "
                "or re-export it")
    for given in (data, header):  # the data file or its header
        with pytest.raises(SceneReadError) as err:
            read_scene(given)
        assert str(err.value) == expected
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("layout", ["BIP", "BSQ"])
def test_truncated_esri_scene_counts_skipbytes_in_any_layout(tmp_path, layout):
    """LAYOUT BIP/BSQ (.bip/.bsq) and SKIPBYTES, which GDAL reads but does not write: the same bytes are due."""
    raw = (np.random.default_rng(3).random((12, 8, 10)) * 1000).astype(np.uint16)  # (B, H, W)
    _ehdr(tmp_path / "written.bil", raw)  # its header, rewritten below
    data = tmp_path / f"scene.{layout.lower()}"
    order = {"BIP": (1, 2, 0), "BSQ": (0, 1, 2)}[layout]  # BIP: (H, W, B); BSQ: (B, H, W)
    data.write_bytes(b"\x07" * 64 + np.ascontiguousarray(raw.transpose(order)).tobytes())
    header = (tmp_path / "written.hdr").read_text().replace("LAYOUT         BIL", f"LAYOUT {layout}")
    (tmp_path / "scene.hdr").write_text(header + "SKIPBYTES 64\n")
    np.testing.assert_array_equal(read_scene(data).cube, raw)  # whole: skipped bytes + cube
    data.write_bytes(data.read_bytes()[:-1])
    with pytest.raises(SceneReadError, match=rf"it holds 1983 bytes, but its ESRI header .*scene\.hdr describes 1984 "
                                             r"\(10 columns × 8 rows × 12 bands × 2 bytes \+ 64 bytes skipped\): it "
                                             r"looks truncated; copy it again or re-export it$"):
        read_scene(data)


@pytest.mark.parametrize("kept", [120, 10])
def test_truncated_four_bit_esri_label_raster_is_an_error(tmp_path, capfd, kept):
    """NBITS 4 (GDAL's EHdr NBITS option): rows of TOTALROWBYTES bytes, as GDAL reads values under 8 bits."""
    scene = _scene_for_labels(tmp_path)
    labels = np.zeros((1, 64, 64), dtype=np.uint8)  # (1, H, W)
    labels[0, :10, :10], labels[0, -10:, -10:] = 1, 2
    data = _ehdr(tmp_path / "labels.bil", labels, NBITS=4)
    assert len(read_labels(data, scene)[1]) == 2
    data.write_bytes(data.read_bytes()[:2048 - 1])  # 64 rows of 32 bytes: the last value is missing
    with pytest.raises(LabelReadError, match=r"describes 2048 \(64 rows of 32 bytes, 1 bands of 64 4-bit values"):
        read_labels(data, scene)
    data.write_bytes(data.read_bytes()[:kept])
    with pytest.raises(LabelReadError) as err:
        read_labels(data, scene)
    assert str(err.value) == (f"cannot read the labels {data}: it holds {kept} bytes, but its ESRI header "
                              f"{tmp_path / 'labels.hdr'} describes 2048 (64 rows of 32 bytes, 1 bands of 64 4-bit "
                              "values + 0 bytes skipped): it looks truncated; copy it again or re-export it")
    assert capfd.readouterr() == ("", "")


# --------------------------------------------------------------------------- compression GDAL cannot decode


def _with_compression(good, code):
    """A copy of an uncompressed little-endian GeoTIFF whose Compression tag (259) says ``code``.

    34712 is JPEG 2000 (Aperio/Leica slides), which libtiff has no codec for; 65000 is a number no codec uses.
    """
    data = bytearray(good.read_bytes())
    assert data[:4] == b"II*\0"
    ifd = int.from_bytes(data[4:8], "little")
    for i in range(int.from_bytes(data[ifd:ifd + 2], "little")):
        entry = ifd + 2 + 12 * i
        if int.from_bytes(data[entry:entry + 2], "little") == 259:  # SHORT, value held in the entry
            assert int.from_bytes(data[entry + 8:entry + 10], "little") == 1  # was: none
            data[entry + 8:entry + 10] = code.to_bytes(2, "little")
            bad = good.with_name(f"compression{code}_{good.name}")
            bad.write_bytes(bytes(data))
            return bad
    raise AssertionError("no Compression tag")


CODECS = {34712: "missing codec JP2000", 65000: "missing codec of code 65000"}


@pytest.mark.parametrize("code", CODECS)
def test_scene_with_a_compression_this_gdal_cannot_decode(tmp_path, capfd, code):
    bad = _with_compression(_scene_tif(tmp_path / "scene.tif"), code)
    with pytest.raises(SceneReadError) as err:
        read_scene(bad)
    assert str(err.value) == (f"cannot read the scene {bad}: it is compressed with a method this GDAL cannot decode "
                              f"(GDAL: Cannot open TIFF file due to {CODECS[code]}.); re-export it uncompressed or "
                              f"with DEFLATE/LZW")
    assert "truncated" not in str(err.value) and "copy it again" not in str(err.value)
    assert not [noise for noise in GDAL_NOISE if noise in capfd.readouterr().err]


@pytest.mark.parametrize("code", CODECS)
def test_label_raster_with_a_compression_this_gdal_cannot_decode(tmp_path, capfd, code):
    bad = _with_compression(_label_tif(tmp_path / "labels.tif"), code)
    with pytest.raises(LabelReadError, match=rf"^cannot read the labels {bad}: it is compressed with a method this "
                                             rf"GDAL cannot decode \(GDAL: .*{CODECS[code]}.*\); re-export it "
                                             r"uncompressed or with DEFLATE/LZW$"):
        read_labels(bad, _scene_for_labels(tmp_path))
    assert not [noise for noise in GDAL_NOISE if noise in capfd.readouterr().err]


def test_codec_and_envi_messages_are_the_same_with_gdal_exceptions_on(tmp_path):
    """QGIS plugins may call gdal.UseExceptions() for the whole process; a subprocess keeps it out of the others."""
    scene = _scene_tif(tmp_path / "scene.tif")
    codec_scene = _with_compression(scene, 65000)
    codec_labels = _with_compression(_label_tif(tmp_path / "labels.tif"), 34712)
    envi_scene = _envi(tmp_path / "cube.img", _envi_cube())
    envi_scene.write_bytes(envi_scene.read_bytes()[:1000])
    snippet = (
        "import sys\nfrom osgeo import gdal\ngdal.UseExceptions()\n"
        "from hypersynth.core.io.labels import read_labels\nfrom hypersynth.core.io.read import read_scene\n"
        "scene = read_scene(sys.argv[1])\n"
        "for path in sys.argv[2:4]:\n"
        "    try:\n        read_scene(path)\n"
        "    except ValueError as err:\n        print(err)\n"
        "try:\n    read_labels(sys.argv[4], scene)\n"
        "except ValueError as err:\n    print(err)\n")
    run = subprocess.run([sys.executable, "-c", snippet, str(scene), str(codec_scene), str(envi_scene),
                          str(codec_labels)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    codec, envi, labels = run.stdout.splitlines()
    assert codec.endswith("cannot decode (GDAL: Cannot open TIFF file due to missing codec of code 65000.); "
                          "re-export it uncompressed or with DEFLATE/LZW")
    assert envi.startswith(f"cannot read the scene {envi_scene}: it holds 1000 bytes, but its ENVI header")
    assert "cannot decode (GDAL: Cannot open TIFF file due to missing codec JP2000.)" in labels
