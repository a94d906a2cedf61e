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
                                                "diffusers", "pyqtgraph", "skops", "scipy", "matplotlib", "h5py"}


def test_install_command_lists_the_pinned_requirements():
    command = install_command(list(DEPENDENCIES), system_managed=False, numpy_major=1)
    python = "python" if sys.platform.startswith("win") else "python3"
    assert command.startswith(f'{python} -m pip install --user "numpy<2" ')  # numpy 2 breaks the system's GDAL
    for requirement in ("torch==2.13.0", "torchvision==0.28.0", "open_clip_torch==3.3.0", "diffusers==0.35.2",
                        "safetensors", "scikit-learn", "skops==0.16.0", "rasterio", "pyqtgraph", "scipy",
                        "matplotlib", "h5py"):
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
    assert f"{install_command(list(ABSENT))} and restart QGIS" in text and "absent-a==1.0 absent-b" in text


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


def test_with_a_package_missing_qgis_loads_a_stand_in_that_says_how_to_install_it(qgis_iface, monkeypatch):
    """Without scikit-learn, QGIS's classFactory() call ended in a traceback dialog (the provider's modules import
    it); now it gets a stand-in: one message with the command, a Raster menu entry that repeats it, nothing else."""
    from qgis.PyQt.QtWidgets import QMessageBox

    from hypersynth import classFactory
    from hypersynth.plugin.dependencies import MENU, MissingPackagesPlugin

    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed: find_spec gives None, import fails
    monkeypatch.setitem(sys.modules, "pyqtgraph", None)
    bar = qgis_iface.messageBar()
    bar.clear_messages()
    plugin = classFactory(qgis_iface)
    assert isinstance(plugin, MissingPackagesPlugin)
    assert [d.module for d in plugin.missing] == ["sklearn", "pyqtgraph"]
    plugin.initProcessing()  # qgis_process: a log line, no provider
    plugin.initGui()
    try:
        warnings = bar.get_messages(Qgis.Warning)
        assert len(warnings) == 1 and "not active: missing Python packages: sklearn (random forest" in \
            warnings[0] and '"numpy<2" scikit-learn pyqtgraph and restart QGIS' in warnings[0]
        shown = []
        monkeypatch.setattr(QMessageBox, "exec_", lambda box: shown.append(box.text()) or 0)
        plugin.action.trigger()
        assert shown[0].startswith("HyperSynth is not active: missing Python packages: sklearn (random forest")
        assert f"\n\n{install_command(plugin.missing)}" in shown[0]  # alone on its line, to be copied
        assert plugin.action.text() == "Augment && Classify (packages missing)"
    finally:
        plugin.unload()
    assert plugin.action is None and MENU == "&HyperSynth"


def test_a_system_managed_python_gets_the_flag_pip_needs_there(tmp_path, monkeypatch):
    """Debian 12's python3 is marked externally managed (PEP 668): pip refused the command the message gave, --user
    too; there it says --break-system-packages, which with --user writes to ~/.local only."""
    import sysconfig

    from hypersynth.plugin.dependencies import externally_managed

    deps = [d for d in DEPENDENCIES if d.module == "skops"]
    assert install_command(deps, system_managed=True, numpy_major=1).split()[4:7] == [
        "--user", "--break-system-packages", '"numpy<2"']
    assert "--break-system-packages" not in install_command(deps, system_managed=False)
    # a Python with numpy 2 (Debian 13, Python 3.13: numpy 1.x has no wheels there) keeps it; one without, too
    assert "numpy" not in install_command(deps, numpy_major=2)
    assert "numpy" not in install_command(deps, numpy_major=None)
    stdlib = tmp_path / "lib"
    stdlib.mkdir()
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(stdlib))
    assert not externally_managed()
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\n")
    assert externally_managed() and "--break-system-packages" in install_command(deps)
