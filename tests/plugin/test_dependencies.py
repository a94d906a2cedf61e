"""A missing Python package gives ONE message bar entry with the exact pip command; nothing breaks."""

from __future__ import annotations

import sys

from qgis.core import Qgis

from hypersynth.plugin.dependencies import (
    DEPENDENCIES,
    Dependency,
    install_command,
    missing_dependencies,
    report_missing_dependencies,
)

ABSENT = (Dependency("hypersynth_absent_module_a", "absent-a==1.0", "testing"),
          Dependency("hypersynth_absent_module_b", "absent-b", "testing too"))


def test_all_engine_dependencies_are_installed_here():
    assert missing_dependencies() == []
    assert {d.module for d in DEPENDENCIES} == {"torch", "open_clip", "sklearn", "rasterio", "safetensors",
                                                "diffusers", "pyqtgraph", "skops"}


def test_install_command_lists_the_pinned_requirements():
    command = install_command(list(DEPENDENCIES))
    python = "python" if sys.platform.startswith("win") else "python3"
    assert command.startswith(f"{python} -m pip install --user ")
    for requirement in ("torch==2.13.0", "torchvision==0.28.0", "open_clip_torch==3.3.0", "diffusers==0.35.2",
                        "safetensors", "scikit-learn", "skops==0.16.0", "rasterio", "pyqtgraph"):
        assert requirement in command.split()


def test_missing_packages_give_one_message_with_the_command(qgis_iface):
    bar = qgis_iface.messageBar()
    bar.clear_messages()
    deps = DEPENDENCIES[:1] + ABSENT
    text = report_missing_dependencies(qgis_iface, deps)
    warnings = bar.get_messages(Qgis.Warning)
    assert len(warnings) == 1 and text in warnings[0]
    assert "hypersynth_absent_module_a" in text and "hypersynth_absent_module_b" in text
    assert "torch" not in text.split("Install")[0]  # installed packages are not listed
    assert "pip install --user absent-a==1.0 absent-b" in text


def test_nothing_shown_when_everything_is_installed(qgis_iface):
    bar = qgis_iface.messageBar()
    bar.clear_messages()
    assert report_missing_dependencies(qgis_iface) is None
    assert bar.get_messages(Qgis.Warning) == []


def test_a_failing_message_bar_does_not_raise():
    class BrokenIface:
        def messageBar(self):  # noqa: N802
            raise RuntimeError("no main window yet")

    assert report_missing_dependencies(BrokenIface(), ABSENT) is None
