"""One device check for every engine entry point: a GPU asked for is never a silent CPU run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from hypersynth.core import pipeline
from hypersynth.core.bench import run_bench
from hypersynth.core.cli import main as cli_main
from hypersynth.core.demo import make_demo_scene
from hypersynth.core.device import check_device
from hypersynth.core.methods import MethodSettings

NO_GPU = "device 'cuda' was asked for but no CUDA GPU is available; use 'auto' or 'cpu'"


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    """PyTorch reports one CUDA GPU (the forest and SVM never touch it, so none is needed)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.fixture(scope="module")
def saved(scene_files, tmp_path_factory) -> dict[str, Path]:
    """A random forest's and an SVM's classifier bundles, saved by baseline runs."""
    bundles = {}
    for method in ("rf", "svm"):
        out = tmp_path_factory.mktemp(method) / "run"
        assert cli_main(["baseline", "--method", method, "--scene", str(scene_files["scene"]), "--labels",
                         str(scene_files["labels"]), "--out", str(out), "--quiet"]) == 0
        bundles[method] = out / pipeline.CLASSIFIER_BUNDLE
    return bundles


@pytest.mark.parametrize("name", ["auto", "cpu"])
def test_auto_and_cpu_are_taken_everywhere(name, no_gpu):
    assert check_device(name) == name


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:x", "cuda 0", "mps", "", 0])
def test_other_names_are_refused_with_the_ones_to_use(name):
    with pytest.raises(ValueError, match=r"^unknown device .*; use 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        check_device(name)


def test_cuda_is_refused_without_a_gpu_and_a_gpu_index_beyond_those_here(no_gpu, monkeypatch):
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=rf"^device '{name}' was asked for but no CUDA GPU is available"):
            check_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda") == "cuda" and check_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError) as refused:
        check_device("cuda:2")
    assert str(refused.value) == ("device 'cuda:2' was asked for but this machine has 2 CUDA GPUs (cuda:0 to "
                                  "cuda:1); use one of them, 'auto' or 'cpu'")


def _never(what: str):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{what} before the device was checked")
    return refuse


def test_every_entry_point_refuses_cuda_without_a_gpu_before_any_work(no_gpu, saved, scene_files, tmp_path,
                                                                      monkeypatch):
    """A forest or SVM (which run on the CPU) used to ignore an explicit 'cuda'; the deep models refused it only once
    the scene was read. Now every entry point refuses it first, and makes no output folder."""
    import hypersynth.core.io.read as read
    from hypersynth.core.ldm.model import SynthesisModel

    monkeypatch.setattr(read, "read_scene", _never("the scene was read"))
    monkeypatch.setattr(SynthesisModel, "load", _never("the synthesis model was loaded"))
    cuda = MethodSettings(device="cuda")
    scene, labels, out = scene_files["scene"], scene_files["labels"], tmp_path / "out"
    own = [("demo", make_demo_scene(size=32, bands=20, n_classes=3))]
    calls = [
        lambda: pipeline.classify_scene(scene, labels, out, method="rf", settings=cuda),
        lambda: pipeline.classify_scene(scene, labels, out, method="augment", settings=cuda),
        lambda: pipeline.classify_with_model(saved["svm"], scene, out, device="cuda"),
        lambda: pipeline.load_classifier(saved["rf"], device="cuda"),
        lambda: pipeline.train_bundle(scene, labels, out / "model_bundle", settings=cuda),
        lambda: pipeline.synthesize_to_file(tmp_path, out / "patches.npz", class_id=1, settings=cuda),
        lambda: run_bench([], [2], [0], ["rf"], ["random"], cuda, own_scenes=own),
    ]
    for call in calls:
        with pytest.raises(ValueError) as refused:
            call()
        assert str(refused.value) == NO_GPU
    assert not out.exists()


def test_the_command_line_refuses_cuda_before_writing_the_demo_scene(no_gpu, tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--out", str(out), "--method", "rf", "--preset", "tiny", "--device", "cuda",
                     "--quiet"]) == 2
    assert capsys.readouterr().err == f"error: {NO_GPU}\n"
    assert not out.exists()


def test_the_command_line_takes_a_gpu_index_and_refuses_a_misspelt_device(no_gpu, tmp_path, capsys):
    """cuda:N is spelt right (the engine then says this machine lacks it); a name that is no device is refused by
    the option itself, with the names it takes."""
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--method", "rf", "--preset", "tiny", "--quiet", "--device"]
    assert cli_main(args + ["cuda:1"]) == 2
    assert capsys.readouterr().err == "error: " + NO_GPU.replace("'cuda'", "'cuda:1'") + "\n"
    assert cli_main(args + ["gpu"]) == 2
    assert "argument --device: 'gpu' is not a device; use auto, cpu, cuda or cuda:N" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("method, title", [("rf", "a random forest"), ("svm", "an SVM")])
def test_a_forest_or_svm_asked_for_cuda_says_once_that_it_runs_on_the_cpu(one_gpu, saved, caplog, method, title):
    with caplog.at_level(logging.INFO, logger="hypersynth"):
        pipeline.load_classifier(saved[method], device="cuda")
    said = [r.getMessage() for r in caplog.records if "runs on the CPU" in r.getMessage()]
    assert said == [f"this classifier ({title}) runs on the CPU (scikit-learn); device 'cuda' applies to the deep "
                    "models only"]
    assert {r.levelname for r in caplog.records if "runs on the CPU" in r.getMessage()} == {"INFO"}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hypersynth"):
        pipeline.load_classifier(saved[method], device="auto")
    assert "runs on the CPU" not in caplog.text  # nothing asked of a GPU: nothing to say


def test_repeatable_training_switches_torch_to_deterministic_kernels_while_any_cpu_fit_runs():
    import threading

    import torch

    from hypersynth.core.device import repeatable_training

    cpu = torch.device("cpu")
    assert not torch.are_deterministic_algorithms_enabled()
    entered, release = threading.Event(), threading.Event()

    def other_fit() -> None:  # a second run's fit (a Processing run beside a dock run) that ends last
        with repeatable_training(cpu):
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=other_fit)
    with repeatable_training(cpu):
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        worker.start()
        assert entered.wait(10)
    assert torch.are_deterministic_algorithms_enabled()  # the other fit still runs: the switch stays on
    release.set()
    worker.join(10)
    assert not torch.are_deterministic_algorithms_enabled()  # back as it was once the last fit ended
    torch.use_deterministic_algorithms(True)  # a setting of the host application's own is given back as it was
    try:
        with repeatable_training(cpu):
            assert torch.are_deterministic_algorithms_enabled()
        assert torch.are_deterministic_algorithms_enabled() and not torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_torch_threads_follow_the_cpus_this_process_may_use(monkeypatch, caplog):
    import joblib

    from hypersynth.core.device import resolve_device

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(joblib, "cpu_count", lambda: 1)  # as in a container run with --cpus 1
        with caplog.at_level(logging.INFO, logger="hypersynth"):
            assert resolve_device("cpu").type == "cpu"
        assert torch.get_num_threads() == 1
        assert "PyTorch's CPU threads: 1, not 2, the CPUs this process may use" in caplog.text
        monkeypatch.setattr(joblib, "cpu_count", lambda: 8)  # more CPUs allowed than threads: left as they are
        resolve_device("cpu")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
