"""Tests for the memory a run may use inside a container or batch job: the cgroup limit (core/memory.py)."""

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from hypersynth.core import memory

GB = 10**9
MEMINFO_24GB = "MemTotal:       24683784 kB\nMemAvailable:   24000000 kB\nSwapTotal:  0 kB\nSwapFree:  0 kB\n"


def fake_proc(tmp_path, monkeypatch, cgroup_lines, mount_lines, meminfo=MEMINFO_24GB):
    """``/proc/self/cgroup``, ``/proc/self/mountinfo`` and ``/proc/meminfo`` written under ``tmp_path`` and used."""
    for name, text in (("cgroup", cgroup_lines), ("mountinfo", mount_lines), ("meminfo", meminfo)):
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(memory, "PROC_CGROUP", tmp_path / "cgroup")
    monkeypatch.setattr(memory, "MOUNTINFO", tmp_path / "mountinfo")
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(memory.sys, "platform", "linux")


def write_files(folder: Path, files: dict[str, str]) -> Path:
    """Cgroup files (``{"memory.max": "2000000000"}``) written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def fresh(tmp_path: Path) -> Path:
    """A new empty folder in ``tmp_path``: each fake hierarchy of a test starts with no file of the one before."""
    folder = tmp_path / uuid.uuid4().hex[:8]
    folder.mkdir()
    return folder


def v2_tree(tmp_path, monkeypatch, leaf_files, parent_files=None, meminfo=MEMINFO_24GB):
    """A cgroup v2 hierarchy mounted in a new folder of ``tmp_path``, with this process in ``/job/step``."""
    mount = fresh(tmp_path) / "cg"
    write_files(mount / "job", parent_files or {})
    write_files(mount / "job" / "step", leaf_files)
    fake_proc(tmp_path, monkeypatch, "0::/job/step\n",
              f"31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n41 31 0:38 / {mount} rw,nosuid - cgroup2 cgroup2 rw\n",
              meminfo)


def test_a_cgroup_v2_limit_lowers_the_memory_available_to_what_it_leaves(tmp_path, monkeypatch):
    # 2 GB limit, 500 MB used of which 100 MB is inactive file cache (dropped before anything is killed)
    v2_tree(tmp_path, monkeypatch, {"memory.max": str(2 * GB), "memory.current": str(500 * 10**6),
                                        "memory.stat": "anon 400000000\ninactive_file 100000000\nactive_file 0\n"})
    budget = memory.memory_budget()
    assert budget == memory.MemoryBudget(2 * GB - 400 * 10**6, True)
    assert memory.memory_budget().bytes == 1_600_000_000
    assert budget.describe() == ("the memory limit of the container or job this runs in (its cgroup) leaves 1.6 GB of "
                                 "memory available")


def test_the_tightest_limit_of_the_cgroup_and_its_parents_binds(tmp_path, monkeypatch):
    v2_tree(tmp_path, monkeypatch, {"memory.max": "max", "memory.current": str(10**8)},
            parent_files={"memory.max": str(GB), "memory.current": str(3 * 10**8)})
    assert memory.memory_budget() == memory.MemoryBudget(7 * 10**8, True)


def test_without_a_limit_the_machine_figure_stands(tmp_path, monkeypatch):
    v2_tree(tmp_path, monkeypatch, {"memory.max": "max", "memory.current": str(10**8)},
            parent_files={"memory.max": "max", "memory.current": str(10**8)})
    budget = memory.memory_budget()
    assert budget == memory.MemoryBudget(24_000_000 * 1024, False)
    assert budget.describe() == "this machine has 24.6 GB of memory available"
    # a limit above what the machine has free: the machine's figure binds
    v2_tree(tmp_path, monkeypatch, {"memory.max": str(64 * GB), "memory.current": str(10**8)})
    assert memory.memory_budget() == memory.MemoryBudget(24_000_000 * 1024, False)


def test_swap_counts_as_far_as_the_cgroup_allows_it(tmp_path, monkeypatch):
    with_swap = MEMINFO_24GB.replace("SwapFree:  0 kB", f"SwapFree:  {4 * GB // 1024} kB")
    leaf = {"memory.max": str(2 * GB), "memory.current": "0"}
    v2_tree(tmp_path, monkeypatch, leaf, meminfo=with_swap)  # no swap limit: all free swap
    assert memory.memory_budget().bytes == 6 * GB
    v2_tree(tmp_path, monkeypatch, {**leaf, "memory.swap.max": str(GB), "memory.swap.current": str(2 * 10**8)},
            meminfo=with_swap)
    assert memory.memory_budget().bytes == 2 * GB + 8 * 10**8
    v2_tree(tmp_path, monkeypatch, {**leaf, "memory.swap.max": "0"}, meminfo=with_swap)  # swap off for the job
    assert memory.memory_budget().bytes == 2 * GB


def v1_tree(tmp_path, monkeypatch, leaf_files, cgroup_path="/process_api/abc"):
    """A hybrid host as these machines are: cgroup v1 with its memory controller, and a unified v2 mount without it."""
    mount = fresh(tmp_path) / "memory"
    write_files(mount, {"memory.limit_in_bytes": "9223372036854771712", "memory.usage_in_bytes": str(5 * GB)})
    write_files(mount / cgroup_path.strip("/"), leaf_files)
    fake_proc(tmp_path, monkeypatch,
              f"9:name=systemd:/\n4:memory:{cgroup_path}\n3:cpuset:/\n0::/\n",
              f"35 31 0:32 / {mount} rw,relatime - cgroup cgroup rw,memory\n"
              f"40 31 0:37 / {tmp_path}/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
              f"41 31 0:38 / {tmp_path}/unified rw,relatime - cgroup2 cgroup2 rw\n")


def test_a_cgroup_v1_limit_and_its_hierarchical_limit(tmp_path, monkeypatch):
    unlimited = "9223372036854771712"
    v1_tree(tmp_path, monkeypatch, {"memory.limit_in_bytes": unlimited, "memory.usage_in_bytes": str(10**8),
                                        "memory.stat": f"cache 0\nhierarchical_memory_limit {unlimited}\n"})
    assert memory.memory_budget() == memory.MemoryBudget(24_000_000 * 1024, False)  # these machines, as they are
    v1_tree(tmp_path, monkeypatch, {"memory.limit_in_bytes": str(3 * GB), "memory.usage_in_bytes": str(GB),
                                        "memory.stat": "total_inactive_file 200000000\n"})
    assert memory.memory_budget() == memory.MemoryBudget(2 * GB + 2 * 10**8, True)
    # an ancestor's limit seen only through the hierarchical limit (the ancestor outside the container)
    v1_tree(tmp_path, monkeypatch, {"memory.limit_in_bytes": unlimited, "memory.usage_in_bytes": str(GB),
                                        "memory.stat": "hierarchical_memory_limit 1500000000\n"})
    assert memory.memory_budget().bytes == 5 * 10**8
    # memory and swap limited together: the tighter of the two
    v1_tree(tmp_path, monkeypatch, {"memory.limit_in_bytes": str(3 * GB), "memory.usage_in_bytes": str(GB),
                                        "memory.memsw.limit_in_bytes": str(3 * GB),
                                        "memory.memsw.usage_in_bytes": str(2 * GB)})
    assert memory.memory_budget().bytes == GB


def test_a_container_sees_its_own_cgroup_as_the_mount_root(tmp_path, monkeypatch):
    # no cgroup namespace: /proc/self/cgroup names the host's path, the mount shows that path as its root
    mount = tmp_path / "memory"
    write_files(mount, {"memory.limit_in_bytes": str(4 * GB), "memory.usage_in_bytes": str(GB)})
    fake_proc(tmp_path, monkeypatch, "4:memory:/docker/0123abc\n",
              f"35 31 0:32 /docker/0123abc {mount} ro,nosuid - cgroup cgroup rw,memory\n")
    assert memory.memory_budget() == memory.MemoryBudget(3 * GB, True)


def test_unreadable_or_odd_cgroup_files_leave_the_machine_figure(tmp_path, monkeypatch):
    v2_tree(tmp_path, monkeypatch, {"memory.max": "two gigabytes", "memory.current": "0"})
    assert memory.memory_budget() == memory.MemoryBudget(24_000_000 * 1024, False)
    fake_proc(tmp_path, monkeypatch, "garbage\n", "also garbage\n")
    assert memory.memory_budget() == memory.MemoryBudget(24_000_000 * 1024, False)
    fake_proc(tmp_path, monkeypatch, "0::/\n", "")  # no memory controller mounted
    assert memory.memory_budget() == memory.MemoryBudget(24_000_000 * 1024, False)


def test_a_mount_point_with_a_space_is_decoded(tmp_path, monkeypatch):
    mount = tmp_path / "cgroup fs"
    write_files(mount / "job", {"memory.max": str(GB), "memory.current": "0"})
    fake_proc(tmp_path, monkeypatch, "0::/job\n",
              f"41 31 0:38 / {str(mount).replace(' ', chr(92) + '040')} rw - cgroup2 cgroup2 rw\n")
    assert memory.memory_budget().bytes == GB


def test_the_cgroup_memory_limit_itself_for_describing_the_machine(tmp_path, monkeypatch):
    v2_tree(tmp_path, monkeypatch, {"memory.max": "max", "memory.current": str(10**8)},
            parent_files={"memory.max": str(4 * GB), "memory.current": str(3 * GB)})
    assert memory.cgroup_memory_limit() == 4 * GB  # the limit, not what it leaves
    v1_tree(tmp_path, monkeypatch, {"memory.limit_in_bytes": "9223372036854771712", "memory.usage_in_bytes": "0",
                                    "memory.stat": "hierarchical_memory_limit 1500000000\n"})
    assert memory.cgroup_memory_limit() == 1_500_000_000
    v2_tree(tmp_path, monkeypatch, {"memory.max": "max", "memory.current": "0"})
    assert memory.cgroup_memory_limit() is None


# --- in a real memory-limited cgroup (where this machine lets the tests make one: root, a memory controller) ---

def limited_cgroup(limit: int) -> Path:
    """A new child of this process's memory cgroup limited to ``limit`` bytes; skips where none can be made."""
    found = memory._memory_cgroup_dirs()
    if found is None:
        pytest.skip("no memory cgroup controller here")
    version, dirs = found
    child = dirs[0] / f"hypersynth-test-{uuid.uuid4().hex[:8]}"
    try:
        child.mkdir()
        (child / ("memory.max" if version == 2 else "memory.limit_in_bytes")).write_text(str(limit))
    except OSError as error:
        if child.is_dir():
            child.rmdir()
        pytest.skip(f"cannot make a memory-limited cgroup here ({error})")
    try:  # no swap for it either, where the machine has some: over the limit is then a kill, as the tests expect
        if version == 2:
            (child / "memory.swap.max").write_text("0")
        else:
            (child / "memory.memsw.limit_in_bytes").write_text(str(limit))
    except OSError:
        pass  # no swap accounting: the machine's swap, if any, counts in the budget as it would for the run
    return child


def run_limited(limit: int, code: str, cpus: Optional[set[int]] = None) -> subprocess.CompletedProcess:
    """``code`` run by this Python in a fresh process inside a new cgroup limited to ``limit`` bytes (and to the CPUs
    ``cpus``, as a batch job's allocation, when given)."""
    child = limited_cgroup(limit)

    def enter() -> None:
        (child / "cgroup.procs").write_text(str(os.getpid()))
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              timeout=300, preexec_fn=enter)
    finally:
        child.rmdir()  # its process has ended: the cgroup is empty


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="cgroups are Linux's")
def test_in_a_real_limited_cgroup_the_budget_is_the_limit_not_the_machine():
    done = run_limited(GB, """
        from hypersynth.core import memory
        budget = memory.memory_budget()
        print(budget.bytes, budget.limited)
    """)
    assert done.returncode == 0, done.stderr
    left, limited = done.stdout.split()
    assert limited == "True" and 0.8 * GB < int(left) <= GB  # the limit, less what this fresh Python holds


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="cgroups are Linux's")
def test_in_a_real_limited_cgroup_the_benchmark_tables_name_the_limit_and_the_cores_it_may_use():
    done = run_limited(GB, """
        from hypersynth.core.bench_tables import machine_description
        print(machine_description())
    """, cpus={0})
    assert done.returncode == 0, done.stderr
    assert "GiB RAM (limited to 0.9 GiB by its cgroup)" in done.stdout
    cores = os.cpu_count() or 1
    assert (f"1 of {cores} cores" if cores > 1 else "1 core") in done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="cgroups are Linux's")
def test_in_a_real_limited_cgroup_a_scene_too_large_is_refused_not_killed(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    scene = tmp_path / "scene.tif"  # 100 bands × 1000 × 1000: a 400 MB float32 cube read whole
    with rasterio.open(scene, "w", driver="GTiff", width=1000, height=1000, count=100, dtype="uint16",
                       transform=from_origin(0, 0, 30, 30), crs="EPSG:32633") as ds:
        ds.write(np.random.default_rng(0).integers(1, 4000, (100, 1000, 1000), dtype=np.uint16))
    read = """
        from hypersynth.core import memory
        from hypersynth.core.io.read import read_scene
        BEFORE
        try:
            read_scene(SCENE)
        except memory.SceneTooLargeError as error:
            raise SystemExit(f"refused: {error}")
        print("read whole")
    """.replace("SCENE", repr(str(scene)))
    done = run_limited(300 * 10**6, read.replace("BEFORE", ""))
    assert done.returncode == 1 and "refused: scene.tif (1000 × 1000 pixels, 100 bands) takes 0.4 GB" in done.stderr
    assert "the memory limit of the container or job this runs in (its cgroup) leaves" in done.stderr
    # what happened before the limit was read: /proc/meminfo shows the whole machine, the read goes ahead, and the
    # kernel kills the process (in QGIS, QGIS itself)
    done = run_limited(300 * 10**6, read.replace("BEFORE", "memory._cgroup_headroom = lambda swap_free: None"))
    assert done.returncode == -9 and "read whole" not in done.stdout


# --- running out of memory in the middle of a run (the GPU, or a system that refuses an allocation) ---

def test_out_of_memory_errors_become_what_to_do_and_others_pass():
    import torch

    gpu = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of "
                                 "3.81 GiB of which 2.06 MiB is free.\nOf the allocated memory 3.2 GiB is allocated")
    assert memory.out_of_memory_message(gpu) == (
        "the GPU ran out of memory (CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of "
        "3.81 GiB of which 2.06 MiB is free); nothing was written. Close other programs that use the GPU, choose a "
        "smaller preset, or run on the CPU (device 'cpu': --device cpu, or Device in the run's settings)")
    assert memory.out_of_memory_message(MemoryError()).startswith(
        "this computer ran out of memory (an allocation was refused); nothing was written. Close other programs")
    for other in (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), ValueError("3 bands"), KeyError("x")):
        assert memory.out_of_memory_message(other) is None


def test_the_command_line_says_what_to_do_when_the_gpu_runs_out_mid_run(tmp_path, monkeypatch, capsys):
    import torch

    from hypersynth.core.cli import main as cli_main
    from hypersynth.core.ldm import training

    from ..demo_files import write_demo_files

    scene, labels, _, classes = write_demo_files(tmp_path)

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
                                     "3.81 GiB of which 1.02 GiB is free.")

    monkeypatch.setattr(training, "train_synthesis_model", out_of_memory)
    rc = cli_main(["augment-classify", "--scene", str(scene), "--labels", str(labels), "--prompts", str(classes),
                   "--out", str(tmp_path / "aug"), "--preset", "tiny", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert err.startswith("error: the GPU ran out of memory (CUDA out of memory. Tried to allocate 2.00 GiB.")
    assert "run on the CPU (device 'cpu': --device cpu" in err
    assert not (tmp_path / "aug").exists() or not any((tmp_path / "aug").iterdir())
    # any other error is a bug to report, with its traceback
    monkeypatch.setattr(training, "train_synthesis_model", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli_main(["augment-classify", "--scene", str(scene), "--labels", str(labels), "--prompts", str(classes),
                  "--out", str(tmp_path / "aug"), "--preset", "tiny", "--quiet"])
