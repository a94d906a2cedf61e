"""Peak memory and wall time of ``classify`` (a saved classifier applied to a scene) and of a spectral ``baseline`` run
on scenes of two sizes.

``classify`` streams a plain raster since session 26: one pass finds its valid pixels, then its usable bands are
read a tile at a time; a ``baseline`` run with ``rf`` or ``svm`` since session 27 (its labelled pixels' spectra read
first). This measures that against the scene's size. ``--tile-up`` first writes a scene twice as wide and high as
``--scene`` (its 2 × 2 copies, flipped, with its metadata) beside it; each ``--bundle`` is then applied to each scene,
and with ``--labels`` each ``--baseline`` method trained on it, by each ``--exe`` (``bin/hypersynth`` of this checkout,
and of a worktree of an older commit to compare with), under ``/usr/bin/time -v``. The class maps and confidence
rasters of every program are compared byte for byte.

    .venv/bin/python scripts/bench_large_scene.py --make-data      # the 1000 × 1000 × 230 scene (877 MiB)
    bin/hypersynth baseline --method rf --scene /tmp/hypersynth_large_scene/1000x1000x230/scene.tif \\
        --labels /tmp/hypersynth_large_scene/1000x1000x230/labels.gpkg --out /tmp/cli_rf      # a forest's bundle
    .venv/bin/python scripts/bench_classify_stream.py --scene /tmp/hypersynth_large_scene/1000x1000x230/scene.tif \\
        --tile-up --bundle /tmp/cli_rf/classifier_bundle --exe bin/hypersynth /tmp/before/bin/hypersynth
    .venv/bin/python scripts/bench_classify_stream.py --scene /tmp/hypersynth_large_scene/1000x1000x230/scene.tif \
        /tmp/hypersynth_large_scene/2000/scene.tif --labels /tmp/hypersynth_large_scene/1000x1000x230/labels.gpkg \
        --baseline rf --exe bin/hypersynth /tmp/before/bin/hypersynth      # a forest trained on each scene
    .venv/bin/python scripts/bench_classify_stream.py --scene /tmp/hypersynth_large_scene/2000/scene.tif \
        --labels /tmp/hypersynth_large_scene/1000x1000x230/labels.gpkg \
        --prompts /tmp/hypersynth_large_scene/1000x1000x230/classes.json   # learning from the scene or its labelled area
"""

from __future__ import annotations

import argparse
import dataclasses
import filecmp
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tile_up(scene: Path) -> Path:
    """``<scene>_2x.tif``: the scene's 2 × 2 copies (flipped, so no pattern repeats straight), its metadata kept."""
    import numpy as np

    from hypersynth.core.io.read import read_scene
    from hypersynth.core.io.write import write_scene

    target = scene.with_name(f"{scene.stem}_2x.tif")
    if target.exists():
        return target
    small = read_scene(scene)
    bands, height, width = small.cube.shape
    cube = np.empty((bands, 2 * height, 2 * width), dtype=np.float32)
    valid = np.empty((2 * height, 2 * width), dtype=bool)
    for i in range(2):
        for j in range(2):
            part, ok = small.cube, small.valid
            part, ok = (part[:, ::-1], ok[::-1]) if i else (part, ok)
            part, ok = (part[:, :, ::-1], ok[:, ::-1]) if j else (part, ok)
            cube[:, i * height:(i + 1) * height, j * width:(j + 1) * width] = part
            valid[i * height:(i + 1) * height, j * width:(j + 1) * width] = ok
    write_scene(dataclasses.replace(small, cube=cube, valid=valid), target)
    return target


def timed(exe: str, arguments: list[str]) -> tuple[float, float]:
    """``(peak GB, wall s)`` of one run of ``exe`` with ``arguments``."""
    done = subprocess.run(["/usr/bin/time", "-v", exe, *arguments, "--overwrite", "--quiet"], capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"{exe} {arguments[0]} failed:\n{done.stderr[-2000:]}")
    return peak_and_wall(done.stderr)


def peak_and_wall(time_output: str) -> tuple[float, float]:
    """``(peak resident GB, wall s)`` from what ``/usr/bin/time -v`` printed."""
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_output).group(1)) * 1024 / 1e9
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", time_output).group(1)
    return peak, sum(float(part) * 60 ** k for k, part in enumerate(reversed(clock.split(":"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, nargs="+", required=True, help="plain raster scenes (GeoTIFF)")
    parser.add_argument("--tile-up", action="store_true", help="also the first scene's 2 × 2 copy (written once "
                                                               "beside it)")
    parser.add_argument("--bundle", type=Path, nargs="*", default=[], help="classifier bundles to apply")
    parser.add_argument("--labels", type=Path, help="labels for the --baseline runs (on every scene's grid)")
    parser.add_argument("--baseline", nargs="*", default=[], choices=["rf", "svm"],
                        help="baseline methods to train on --labels and map each scene with")
    parser.add_argument("--prompts", type=Path, help="class file: also run Augment & Classify (preset tiny) on "
                                                     "--labels, once per --training-area")
    parser.add_argument("--training-area", nargs="*", default=["scene", "labelled-area"],
                        help="what Augment & Classify learns from (default: both)")
    parser.add_argument("--exe", nargs="+", default=[str(REPO / "bin" / "hypersynth")],
                        help="hypersynth programs to compare (default: this checkout's)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_classify_stream"), help="where the maps go")
    args = parser.parse_args()
    if (args.baseline or args.prompts) and args.labels is None:
        parser.error("--baseline and --prompts need --labels")
    scenes = args.scene + ([tile_up(args.scene[0])] if args.tile_up else [])
    print("| scene | run | program | peak GB | wall s |\n|---|---|---|---|---|")
    for scene in scenes:
        runs = [(f"classify with {bundle.parent.name}", ["classify", "--model", str(bundle)]) for bundle in args.bundle]
        runs += [(f"baseline {method}", ["baseline", "--method", method, "--labels", str(args.labels)])
                 for method in args.baseline]
        if args.prompts:
            runs += [(f"augment tiny, {area}", ["augment-classify", "--preset", "tiny", "--labels", str(args.labels),
                                                "--prompts", str(args.prompts), "--training-area", area])
                     for area in args.training_area]
        for name, arguments in runs:
            outs = []
            for k, exe in enumerate(args.exe):
                outs.append(args.out / f"{scene.parent.name}_{scene.stem}_{name.replace(' ', '_')}_{k}")
                peak, seconds = timed(exe, [*arguments, "--scene", str(scene), "--out", str(outs[-1])])
                print(f"| {scene.name} ({scene.parent.name}) | {name} | {exe} | {peak:.2f} | {seconds:.0f} |",
                      flush=True)
            for other in outs[1:]:
                for name in ("classification.tif", "confidence.tif"):
                    if not filecmp.cmp(outs[0] / name, other / name, shallow=False):
                        print(f"  {name} differs between {outs[0]} and {other}")


if __name__ == "__main__":
    main()
