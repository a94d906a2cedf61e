"""``hypersynth bands``: a scene's bands as a table or JSON, with the ones its data suggest leaving out."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from hypersynth.core.cli import main as cli_main
from hypersynth.core.demo import make_demo_scene
from hypersynth.core.io.write import write_scene

from .test_band_screen import SHARED, _cube_with_bad_bands


def _raw_scene(tmp_path):
    data = make_demo_scene(size=48, bands=40, n_classes=3, seed=0)
    cube, good = _cube_with_bad_bands()
    return write_scene(replace(data.scene, cube=cube.astype(np.float32), good_bands=good), tmp_path / "raw.tif")


def test_the_table_lists_every_band_with_its_flags_and_ends_with_the_option_text(tmp_path, capsys):
    path = _raw_scene(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli_main(["bands", "--scene", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "raw.tif: 40 bands, 35 not flagged bad by the file; figures from 2,304 pixels"
    rows = {int(line.split()[0]): line for line in lines[2:42]}
    assert sorted(rows) == list(range(1, 41))
    assert rows[11].endswith("leave out (next to no light)") and rows[31].endswith("leave out (mostly noise)")
    assert " bad " in rows[19] and rows[19].split()[-1] == "–"  # the demo's flagged water-vapour band: not screened
    assert rows[1].split()[1] == "400.0" and not rows[1].rstrip().endswith(")")
    assert lines[-1] == "--leave-out-bands 11-13,31" and lines[-2].startswith("Bands 11–13 (938–1046 nm) are under")
    assert "pixels read" not in lines[-2]  # said once, in the first line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_json_gives_each_band_and_the_suggestion(tmp_path, capsys):
    path = _raw_scene(tmp_path)
    assert cli_main(["bands", "--scene", str(path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out, parse_constant=_no_constant)  # strict JSON: no NaN, no Infinity
    assert got["leave_out"] == "11-13,31" and got["pixels_read"] == 2304 and len(got["bands"]) == 40
    by_band = {row["band"]: row for row in got["bands"]}
    assert by_band[12]["suggested"] == "level" and by_band[31]["suggested"] == "snr" and by_band[1]["suggested"] is None
    assert by_band[19]["file"] == "bad" and by_band[19]["snr"] is None and by_band[1]["wavelength"] == 400.0
    assert by_band[1]["median"] > 0 and by_band[1]["noise"] > 0 and by_band[1]["snr"] > 1


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def test_json_says_null_for_what_is_not_known_and_names_a_constant_band(tmp_path, capsys):
    from hypersynth.core.io.write import write_scene as write

    data = make_demo_scene(size=48, bands=40, n_classes=3, seed=0)
    cube, good = _cube_with_bad_bands()
    cube[7] = 4095.0  # saturated: no noise, so no SNR
    write(replace(data.scene, cube=cube.astype(np.float32), good_bands=good), tmp_path / "sat.tif")
    assert cli_main(["bands", "--scene", str(tmp_path / "sat.tif"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out, parse_constant=_no_constant)
    band8 = got["bands"][7]
    assert band8["suggested"] == "constant" and band8["snr"] is None and band8["noise"] == 0
    assert got["leave_out"] == "8,11-13,31"


def test_a_matlab_cube_is_read_as_a_run_reads_it(capsys):
    import pytest

    if not (SHARED / "salinasA" / "salinasA.mat").is_file():
        pytest.skip("salinasA is not in the data folder")
    assert cli_main(["bands", "--scene", str(SHARED / "salinasA" / "salinasA.mat"), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("salinasA.mat: 224 bands, 224 not flagged bad") and out[-1] == (
        "--leave-out-bands 108-112,153-167,224")


def test_a_scene_that_is_not_there_is_refused_with_exit_2(tmp_path, capsys):
    assert cli_main(["bands", "--scene", str(tmp_path / "nothing.tif")]) == 2
    assert "nothing.tif" in capsys.readouterr().err
