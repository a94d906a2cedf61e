"""The analyst's workflow end to end in the real QGIS desktop (qgis.bin under Xvfb), with screenshots."""

from __future__ import annotations

import importlib.util
import shutil
import struct
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
QGIS_LIMIT_S = 540  # QGIS is killed after this; the walkthrough's own watchdog quits 30 s before
RUN_LIMIT_S = 420  # the walkthrough waits this long for the Augment & Classify task (tiny preset)
EXPECTED_CHECKS = (  # the checks the walkthrough must have made (a silent skip of a step fails the test)
    "toolbar action shows the dock",
    "scene layer opened",
    "true-colour composite applied",
    "label GeoPackage created",
    "classes loaded with prompts",
    "the label layer's legend is open in the Layers panel, one entry a class",
    "mouse stroke on the canvas adds a label of the selected class",
    "every class has labelled pixels",
    "brushed pixels lie on their class in the ground truth",
    "prompt edited in the Prompts tab reaches the classes",
    "run dialog accepts the settings",
    "Augment & Classify task succeeded",
    "classified layer has a paletted renderer named by class",
    "layer panel legend lists the class names",
    "the run's group is open in the Layers panel, with the class legend",
    "confidence layer added",
    "class map holds known classes only",
    "pixel spectrum shown after a click on the map",
    "the draw's dialog offers the ground truth as the reference",
    "the drawn points are the label layer, on the pixels the benchmark draws for the seed",
    "the drawn points are drawn above the reference they came from",
    "the pixels left over are the next run's validation labels",
    "an order of several products asks which to open, in QGIS's dialog",
    "a PRISMA product is imported in a task, not opened as GDAL shows it",
    "the imported product is the scene, with its wavelengths",
    "the validation sample loads ready to label: class names to pick, 6 points a class",
    "the edited, unsaved sample is assessed as the stratified random sample it is",
)
SCREENSHOTS = ("desktop_1_scene.png", "desktop_2_labels.png", "desktop_3_run_dialog.png", "desktop_4_result.png",
               "desktop_5_choose_product.png", "desktop_5_import.png", "desktop_6_draw_dialog.png",
               "desktop_6_draw.png", "desktop_7_validation_sample.png")


def _desktop_helpers() -> ModuleType:
    """scripts/desktop.py (profile, Xvfb, launch), imported by path: scripts/ is not a package."""
    spec = importlib.util.spec_from_file_location("hypersynth_desktop_script", REPO / "scripts" / "desktop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.desktop
@pytest.mark.timeout(QGIS_LIMIT_S + 60)
def test_analyst_workflow_in_the_qgis_desktop(tmp_path):
    desktop = _desktop_helpers()
    missing = desktop.desktop_missing()
    if missing:
        pytest.skip(f"the desktop test needs the real QGIS under Xvfb: {missing}")

    out = tmp_path / "walkthrough"
    result = desktop.run_walkthrough(out, timeout=QGIS_LIMIT_S, run_timeout=RUN_LIMIT_S)
    shots = tmp_path / "screenshots"  # kept beside the test's other files for a person to look at
    shots.mkdir()
    for name in result["screenshots"]:
        shutil.copy2(out / name, shots / name)

    failed = [f"{c['name']}: {c['detail']}" for c in result["checks"] if not c["passed"]]
    assert result["error"] is None, f"the walkthrough stopped:\n{result['error']}\nfailed checks: {failed}"
    assert result["finished"], (f"QGIS ended (return code {result['returncode']}) while {result['stage']}; "
                                f"failed checks: {failed}; the end of {result['log']}:\n{result['log_tail']}")
    assert not failed, "\n".join(failed)
    made = {c["name"] for c in result["checks"]}
    assert set(EXPECTED_CHECKS) <= made, f"checks not made: {sorted(set(EXPECTED_CHECKS) - made)}"
    assert result["returncode"] == 0, f"QGIS did not quit cleanly (return code {result['returncode']}); " \
        f"see {result['log']}"

    assert sorted(result["screenshots"]) == sorted(SCREENSHOTS)
    for name in SCREENSHOTS:
        width, height = _png_size(shots / name)
        assert (width, height) == desktop.SCREEN, f"{name} is {width}x{height}, not the whole window"
    labelled = result["info"]["labelled_pixels"]
    assert len(labelled) == len(result["info"]["classes"]) and min(labelled.values()) > 0
