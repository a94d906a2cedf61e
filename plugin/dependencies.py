"""Which Python packages the engine needs are missing, and one message that says how to install them."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from qgis.core import Qgis, QgsMessageLog


@dataclass(frozen=True)
class Dependency:
    """One Python package the engine imports."""

    module: str  # the import name, e.g. "sklearn"
    requirement: str  # what pip installs, e.g. "scikit-learn"
    purpose: str  # what the analyst loses without it


# The pins match requirements.txt; torchvision comes with torch because open_clip imports it.
DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("torch", "torch==2.13.0 torchvision==0.28.0", "the VAE, diffusion model and CNN"),
    Dependency("open_clip", "open_clip_torch==3.3.0", "the CLIP text encoder for prompts"),
    Dependency("diffusers", "diffusers==0.35.2", "the diffusion noise schedulers"),
    Dependency("safetensors", "safetensors", "saving and loading model bundles"),
    Dependency("sklearn", "scikit-learn", "random forest, SVM and accuracy metrics"),
    Dependency("skops", "skops==0.16.0", "saving and loading SVMs in classifier bundles without pickle"),
    Dependency("rasterio", "rasterio", "reading and writing rasters"),
    Dependency("pyqtgraph", "pyqtgraph", "the spectral profile plots of the dock"),
    # QGIS's Windows and macOS builds ship these three, Debian's python3-qgis does not depend on them
    Dependency("scipy", "scipy", "label checks, spatial smoothing and the demo scene"),
    Dependency("matplotlib", "matplotlib", "the report's figures and the attention maps"),
    Dependency("h5py", "h5py", "reading MATLAB v7.3 files and HDF5 sensor products"),
)

MESSAGE_TITLE = "HyperSynth"
MENU = "&HyperSynth"  # the plugin's entry in QGIS's Raster menu


def missing_dependencies(dependencies: tuple[Dependency, ...] = DEPENDENCIES) -> list[Dependency]:
    """The dependencies that cannot be found, without importing them (QGIS starts fast)."""
    missing = []
    for dep in dependencies:
        try:
            found = importlib.util.find_spec(dep.module) is not None
        except (ImportError, ValueError):  # a broken half-installed package
            found = False
        if not found:
            missing.append(dep)
    return missing


def externally_managed() -> bool:
    """Whether the Python QGIS runs is marked as managed by the system (PEP 668: Debian 12, Ubuntu 23.04 and later),
    where pip refuses to install, --user too, unless told --break-system-packages."""
    import sysconfig

    return Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").is_file()


def installed_numpy_major() -> Optional[int]:
    """The major version of the numpy QGIS's Python has (None: none, or unreadable)."""
    from importlib import metadata

    try:
        return int(metadata.version("numpy").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def install_command(missing: list[Dependency], system_managed: Optional[bool] = None,
                    numpy_major: Optional[int] = -1) -> str:
    """The exact pip command that installs ``missing`` into the Python QGIS runs, for the user alone (~/.local).

    Where that Python has numpy 1.x (``numpy_major``; -1: :func:`installed_numpy_major`), numpy stays below 2 (quoted
    for the shell): the system's GDAL and matplotlib, which QGIS loads, are built on it and break beside a numpy 2
    that a package's install would otherwise bring in; a Python with numpy 2 (or none) keeps what it has. Where the
    system manages its Python (``system_managed``; None: :func:`externally_managed`), --break-system-packages lets
    pip write to the user's folder, which leaves the system's packages untouched.
    """
    python = "python" if sys.platform.startswith("win") else "python3"
    managed = externally_managed() if system_managed is None else system_managed
    major = installed_numpy_major() if numpy_major == -1 else numpy_major
    flags = "--user --break-system-packages" if managed else "--user"
    pin = '"numpy<2" ' if major == 1 else ""
    return f"{python} -m pip install {flags} {pin}" + " ".join(d.requirement for d in missing)


def missing_message(missing: list[Dependency]) -> str:
    """One sentence naming what is missing, what it is for, and the command that installs it."""
    names = ", ".join(f"{d.module} ({d.purpose})" for d in missing)
    return (f"missing Python packages: {names}. Install them with: {install_command(missing)} "
            "and restart QGIS.")


def report_missing_dependencies(iface: object, dependencies: tuple[Dependency, ...] = DEPENDENCIES
                                ) -> Optional[str]:
    """Show ONE message bar entry when packages are missing; never raises (QGIS must keep working).

    Returns:
        The message shown, or None when everything is installed.
    """
    try:
        missing = missing_dependencies(dependencies)
        if not missing:
            return None
        text = missing_message(missing)
        QgsMessageLog.logMessage(text, MESSAGE_TITLE, Qgis.Warning)
        if iface is not None:
            iface.messageBar().pushMessage(MESSAGE_TITLE, text, Qgis.Warning, 0)
        return text
    except Exception as exc:  # noqa: BLE001 (a dependency check must not break QGIS's plugin loading)
        QgsMessageLog.logMessage(f"could not check dependencies: {exc}", MESSAGE_TITLE, Qgis.Warning)
        return None


class MissingPackagesPlugin:
    """What QGIS loads instead of the plugin while a package the engine imports is missing (``classFactory``): the
    message bar says which, what each is for and the command that installs them, and the Raster menu's entry says it
    again; no provider, dock or toolbar is added, so QGIS works on as without the plugin (the plugin would otherwise
    fail to load with a traceback: its modules import these packages)."""

    def __init__(self, iface: object, missing: list[Dependency]) -> None:
        self.iface = iface
        self.missing = list(missing)
        self.action = None  # the Raster menu's entry, once initGui has run

    def message(self) -> str:
        """The message bar's text (under the title HyperSynth): what is missing, the command, and to restart."""
        return f"not active: {missing_message(self.missing)}"

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API; qgis_process calls it without a GUI)
        QgsMessageLog.logMessage(self.message(), MESSAGE_TITLE, Qgis.Warning)

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        from qgis.PyQt.QtWidgets import QAction

        QgsMessageLog.logMessage(self.message(), MESSAGE_TITLE, Qgis.Warning)
        bar = self.iface.messageBar()  # type: ignore[attr-defined]
        bar.pushMessage(MESSAGE_TITLE, self.message(), Qgis.Warning, 0)
        self.action = QAction("Augment && Classify (packages missing)", self.iface.mainWindow())  # type: ignore
        self.action.setObjectName("hypersynthMissingPackages")
        self.action.triggered.connect(self.show_message)
        self.iface.addPluginToRasterMenu(MENU, self.action)  # type: ignore[attr-defined]

    def show_message(self) -> None:
        """The message in a box whose text can be selected and copied (the install command)."""
        from qgis.PyQt.QtCore import Qt
        from qgis.PyQt.QtWidgets import QMessageBox

        names = ", ".join(f"{d.module} ({d.purpose})" for d in self.missing)
        pip = "" if importlib.util.find_spec("pip") else (  # Debian's QGIS does not bring pip
            "\n\npip itself is missing: install it first (on Debian or Ubuntu: sudo apt install python3-pip).")
        # the command alone on its lines, to be copied whole (in the sentence it wrapped as "scikit-/learn"), in the
        # main text, whose selection the flags below set under every style
        box = QMessageBox(QMessageBox.Warning, MESSAGE_TITLE,
                          f"HyperSynth is not active: missing Python packages: {names}.\n\nInstall them into the "
                          f"Python QGIS runs, then restart QGIS:\n\n{install_command(self.missing)}{pip}",
                          QMessageBox.Ok, self.iface.mainWindow())  # type: ignore[attr-defined]
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.exec_()

    def unload(self) -> None:
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)  # type: ignore[attr-defined]
            self.action.deleteLater()
            self.action = None


def keep_triton_out() -> None:
    """Stop torch from loading triton inside QGIS.

    diffusers and open_clip import ``torch._dynamo``, which loads triton's ``libtriton.so``; its bundled
    LLVM segfaults beside Mesa's libLLVM that QGIS's OpenGL has already loaded (seen with gdb under
    QGIS 3.22). HyperSynth compiles no kernels, so marking triton as absent costs nothing.
    """
    sys.modules.setdefault("triton", None)  # type: ignore[arg-type]
