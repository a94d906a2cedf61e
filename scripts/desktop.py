"""Prepare a QGIS profile with HyperSynth enabled and a demo project (`make qgis`); run the desktop walkthrough."""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

REPO = Path(__file__).resolve().parents[1]
WALKTHROUGH = REPO / "tests" / "desktop" / "e2e_script.py"  # what QGIS runs for the end-to-end test
SCREEN = (1600, 1200)  # virtual screen, pixels (the walkthrough's window fills it)
SCREENSHOT_WIDTH = 1280  # screenshots for the docs are scaled down to this width
LOG_TAIL_CHARS = 4000  # how much of QGIS's log end a failure report carries


def make_profile(root: Path, plugin: Path = REPO) -> Path:
    """A QGIS profiles folder whose default profile has HyperSynth (the checkout ``plugin``) linked and enabled."""
    profile = root / "profiles" / "default"
    plugins = profile / "python" / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "hypersynth"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(plugin)
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text("[PythonPlugins]\nhypersynth=true\n\n[qgis]\nshowTips=false\ncheckVersion=false\n"
                   "[core]\nNewsFeed\\httpsfeedqgisorg\\disabled=true\n")
    return root


def make_demo_project(out: Path) -> Path:
    """Write the demo scene and a QGIS project showing it with its label points (needs qgis.core)."""
    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer

    from hypersynth.core.demo import write_demo

    files = write_demo(out / "scene", overwrite=True)
    app = QgsApplication.instance() or QgsApplication([], False)
    if QgsApplication.instance() is app and not getattr(app, "_hs_init", False):
        QgsApplication.initQgis()
        app._hs_init = True
    project = QgsProject.instance()
    project.clear()
    scene = QgsRasterLayer(str(files.scene), "demo scene")
    labels = QgsVectorLayer(str(files.labels_gpkg), "demo labels", "ogr")
    for layer in (scene, labels):
        if not layer.isValid():
            raise RuntimeError(f"could not load {layer.source()}")
        project.addMapLayer(layer)
    path = out / "demo.qgz"
    project.write(str(path))
    return path


def qgis_env(base: Optional[dict[str, str]] = None) -> dict[str, str]:
    """Environment for QGIS: it runs Debian's python3, so give it the venv's packages (torch, open_clip, …)
    and the ``hypersynth`` import name too."""
    env = dict(os.environ if base is None else base)
    site = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), str(REPO / ".venv" / "importroot"), env.get("PYTHONPATH", "")) if p)
    return env


def desktop_missing() -> Optional[str]:
    """Why the desktop walkthrough cannot run here (a missing program), or None."""
    for program, package in (("qgis.bin", "qgis"), ("Xvfb", "xvfb")):
        if shutil.which(program) is None:
            return f"{program} is not installed (Debian package {package})"
    return None


@contextmanager
def virtual_display(size: tuple[int, int] = SCREEN, log: Optional[Path] = None, timeout: float = 30.0
                    ) -> Iterator[str]:
    """An Xvfb screen on a free display number (Xvfb picks it and reports it through -displayfd)."""
    read_fd, write_fd = os.pipe()
    stderr = open(log, "wb") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{size[0]}x{size[1]}x24",
                               "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=stderr)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            ready, _, _ = select.select([pipe], [], [], timeout)
            number = pipe.readline().strip() if ready else ""
        if not number:
            raise RuntimeError(f"Xvfb did not start within {timeout:.0f} s" + (f"; see {log}" if log else ""))
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if log is not None:
            stderr.close()


def run_walkthrough(out: Path, *, timeout: float = 600.0, run_timeout: float = 480.0) -> dict[str, Any]:
    """Run the analyst's workflow (tests/desktop/e2e_script.py) in the real QGIS desktop under Xvfb.

    A fresh profile with HyperSynth enabled goes to ``out/qgis-profile``; QGIS writes ``out/result.json``,
    the screenshots and the run's files to ``out``; its log goes to ``out/qgis.log``.

    Args:
        out: an empty or new folder.
        timeout: seconds before QGIS is killed (the walkthrough's own watchdog fires 30 s earlier).
        run_timeout: seconds the walkthrough waits for the Augment & Classify task.

    Returns:
        result.json's content (``finished`` False and the ``stage`` reached when QGIS died on the way), plus
        ``returncode`` (None when QGIS had to be killed), ``log`` (its path) and ``log_tail``.

    Raises:
        RuntimeError: when QGIS ended without writing result.json (the log's end is in the message).
    """
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in [out / "result.json", *out.glob("desktop_*.png")]:  # a result must come from this run
        stale.unlink(missing_ok=True)
    profiles = make_profile(out / "qgis-profile")
    runtime = out / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    log_path = out / "qgis.log"
    env = qgis_env()
    env.pop("QT_QPA_PLATFORM", None)  # the tests' offscreen platform would hide the window from Xvfb
    env.update({"XDG_RUNTIME_DIR": str(runtime), "HYPERSYNTH_E2E_OUT": str(out),
                "HYPERSYNTH_E2E_TIMEOUT": str(max(timeout - 30.0, 30.0)),
                "HYPERSYNTH_E2E_RUN_TIMEOUT": str(run_timeout)})
    cmd = ["qgis.bin", "--noversioncheck", "--nologo", "--profiles-path", str(profiles), "--code", str(WALKTHROUGH)]
    with virtual_display(log=out / "xvfb.log") as display, open(log_path, "wb") as log:
        env["DISPLAY"] = display
        qgis = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode: Optional[int] = qgis.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(qgis.pid, signal.SIGKILL)  # QGIS and anything it started
            qgis.wait()
            returncode = None
    result_path = out / "result.json"
    if not result_path.exists():
        tail = log_summary(log_path.read_text(errors="replace"))
        raise RuntimeError(f"QGIS ended (return code {returncode}) without writing {result_path}; "
                           f"the end of {log_path}:\n{tail}")
    result = json.loads(result_path.read_text())
    result.update(returncode=returncode, log=str(log_path),
                  log_tail=log_summary(log_path.read_text(errors="replace")))
    return result


def log_summary(text: str) -> str:
    """The end of a QGIS log without the gdb backtrace its crash handler prints (frames, locals)."""
    noise = ("#", " ", "\t", "No symbol table", "No locals", "[New LWP", "warning: ", "BFD: ")
    kept = [line for line in text.splitlines() if line.strip() and not line.startswith(noise)]
    return "\n".join(kept)[-LOG_TAIL_CHARS:]


def save_screenshots(source: Path, target: Path, width: int = SCREENSHOT_WIDTH, prefix: str = "desktop_"
                     ) -> list[Path]:
    """Copy ``source/<prefix>*.png`` to ``target``, scaled down to ``width`` and reduced to a 256-colour
    palette so each stays small enough for the repository."""
    from PIL import Image

    target.mkdir(parents=True, exist_ok=True)
    saved = []
    for path in sorted(Path(source).glob(f"{prefix}*.png")):
        image = Image.open(path).convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        destination = target / path.name
        tmp = destination.with_suffix(".tmp.png")
        # Octree keeps small saturated swatches (legend colours) that median cut merges away.
        image.quantize(256, method=Image.FASTOCTREE, dither=Image.NONE).save(tmp, optimize=True)
        os.replace(tmp, destination)
        saved.append(destination)
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "out" / "qgis"))
    parser.add_argument("--no-launch", action="store_true", help="prepare only")
    parser.add_argument("--walkthrough", action="store_true",
                        help="run the end-to-end walkthrough under Xvfb instead of opening QGIS")
    parser.add_argument("--screenshots", help="with --walkthrough: save its scaled screenshots in this folder")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    if args.walkthrough:
        result = run_walkthrough(out / "walkthrough")
        for check in result["checks"]:
            print(f"{'ok  ' if check['passed'] else 'FAIL'} {check['name']}" +
                  ("" if check["passed"] else f": {check['detail']}"))
        print(json.dumps({k: result[k] for k in ("finished", "error", "returncode", "timings", "info")},
                         indent=2, default=str))
        if args.screenshots:
            for path in save_screenshots(out / "walkthrough", Path(args.screenshots)):
                print(f"saved {path} ({path.stat().st_size // 1024} KiB)")
        passed = result["finished"] and not result["error"] and all(c["passed"] for c in result["checks"])
        return 0 if passed else 1
    profile = make_profile(out / "qgis-profile")
    project = make_demo_project(out)
    print(f"profile: {profile}\nproject: {project}")
    if args.no_launch:
        return 0
    cmd = ["qgis", "--profiles-path", str(profile), "--noversioncheck", "--nologo", "--project", str(project)]
    return subprocess.call(cmd, env=qgis_env())


if __name__ == "__main__":
    sys.exit(main())
