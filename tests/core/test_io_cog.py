"""Cloud-Optimised GeoTIFF export of a class map keeps its layout, colours, names and style."""

import numpy as np
import pytest
from osgeo import gdal

from hypersynth.core.io.write import export_cog, write_class_map
from hypersynth.core.scene import ClassInfo


def test_class_map_exports_as_cog_with_colours_and_names(tmp_path):
    classes = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "forest", (0, 128, 0))]
    class_map = np.zeros((40, 50), np.int32)
    class_map[:20] = 1
    class_map[20:, 10:] = 2
    src = write_class_map(tmp_path / "map.tif", class_map, classes,
                          transform=(500000.0, 10.0, 0.0, 5800000.0, 0.0, -10.0), crs_wkt=None)
    cog = export_cog(src, tmp_path / "map_cog.tif")
    ds = gdal.Open(str(cog))
    band = ds.GetRasterBand(1)
    assert ds.GetMetadata("IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    assert np.array_equal(band.ReadAsArray(), class_map)
    assert band.GetColorTable().GetColorEntry(1)[:3] == (0, 0, 255)
    rat = band.GetDefaultRAT()
    names = {rat.GetValueAsInt(r, 0): rat.GetValueAsString(r, 1) for r in range(rat.GetRowCount())}
    assert names[1] == "water" and names[2] == "forest"
    assert (tmp_path / "map_cog.qml").exists()
    with pytest.raises(FileExistsError):
        export_cog(src, tmp_path / "map_cog.tif")
