"""Run dialog: returns the settings, refuses unwritable folders, asks before overwriting."""

from __future__ import annotations

from hypersynth.ui.run_dialog import RunDialog, existing_outputs, folder_problem


def test_values_round_trip(keep, tmp_path, screenshot):
    dialog = keep(RunDialog(defaults={"preset": "tiny", "device": "cpu", "seed": 7, "output_folder": str(tmp_path)}))
    values = dialog.values()
    assert values["preset"] == "tiny" and values["device"] == "cpu" and values["seed"] == 7
    assert values["patch_size"] is None and values["guidance"] is None and values["synthetic_per_class"] is None
    assert values["bundle"] is None and values["output_folder"] == str(tmp_path)
    assert values["synthetic_patches"] is False  # written on request only
    dialog.synthetic_patches.setChecked(True)
    assert dialog.values()["synthetic_patches"] is True
    dialog.patch_size.setValue(9)
    dialog.guidance.setValue(3.5)
    dialog.balance.setValue(0.8)
    dialog.synthetic.setValue(200)
    assert values["synthetic_weight"] == 0.5  # MethodSettings' default
    dialog.synthetic_weight.setValue(1.25)
    values = dialog.values()
    assert (values["patch_size"], values["guidance"], values["balance_rate"], values["synthetic_per_class"],
            values["synthetic_weight"]) == (9, 3.5, 0.8, 200, 1.25)
    dialog.synthetic_weight.setValue(0.0)  # below the range: a share of 0 would make synthesis pointless
    assert dialog.synthetic_weight.value() == 0.05
    dialog.accept()
    assert dialog.result() == RunDialog.Accepted and dialog.values()["overwrite"] is False
    pixels = screenshot(dialog, "run_dialog")
    assert pixels.std() > 0


def test_anchor_strength_and_pseudo_labels_become_method_settings(keep, tmp_path):
    from hypersynth.core.methods import MethodSettings

    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path)}))
    assert dialog.pseudo_labels.text() == "none (default)" and dialog.patch_size.text() == "from the scene"
    values = dialog.values()
    assert values["anchor_strength"] == 0.5 and values["pseudo_labels"] is None  # MethodSettings' defaults
    dialog.anchor_strength.setValue(0.0)  # below the range: (0, 1] only
    assert dialog.anchor_strength.value() == 0.05
    dialog.anchor_strength.setValue(0.3)
    dialog.pseudo_labels.setValue(0)  # 0 is a choice (no pseudo-labels), not "the preset's"
    keys = ("anchor_strength", "pseudo_labels", "patch_size", "synthetic_per_class", "guidance", "balance_rate")
    settings = MethodSettings(**{key: dialog.values()[key] for key in keys})
    assert (settings.anchor_strength, settings.pseudo_labels, settings.balance_rate) == (0.3, 0, 0.5)
    dialog.pseudo_labels.setValue(25)
    assert MethodSettings(pseudo_labels=dialog.values()["pseudo_labels"]).pseudo_labels == 25
    again = keep(RunDialog(defaults={"anchor_strength": 0.7, "pseudo_labels": 0}))  # defaults round-trip
    assert (again.values()["anchor_strength"], again.values()["pseudo_labels"]) == (0.7, 0)


def test_spatial_smoothing_is_cross_validated_unless_set(keep):
    from hypersynth.core.methods import MethodSettings

    dialog = keep(RunDialog(defaults={}))
    assert dialog.spatial_smoothing.text() == "chosen from your labels" and dialog.values()["spatial_smoothing"] is None
    dialog.spatial_smoothing.setValue(0.0)  # 0 is a choice: off
    assert MethodSettings(spatial_smoothing=dialog.values()["spatial_smoothing"]).spatial_smoothing == 0.0
    dialog.spatial_smoothing.setValue(1.5)
    assert dialog.values()["spatial_smoothing"] == 1.5
    assert keep(RunDialog(defaults={"spatial_smoothing": 2.0})).values()["spatial_smoothing"] == 2.0


def test_the_diffusion_feature_member_is_off_unless_switched_on(keep):
    from hypersynth.core.methods import MethodSettings

    dialog = keep(RunDialog(defaults={}))
    assert dialog.values()["diffusion_features"] is False  # since session 18, as MethodSettings
    assert MethodSettings(diffusion_features=dialog.values()["diffusion_features"]) == MethodSettings()
    dialog.diffusion_features.setChecked(True)
    assert MethodSettings(diffusion_features=dialog.values()["diffusion_features"]).diffusion_features is True
    assert keep(RunDialog(defaults={"diffusion_features": True})).values()["diffusion_features"] is True


def test_refuses_an_unwritable_folder(keep, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert "is a file" in folder_problem(str(blocker))
    assert f"cannot take the outputs: {blocker} is a file, so no folder can be made there" in folder_problem(
        str(blocker / "out"))
    assert folder_problem("") == "Choose an output folder."
    assert folder_problem(str(tmp_path / "new" / "deeper")) is None  # creatable is fine
    dialog = keep(RunDialog(defaults={"output_folder": str(blocker / "out")}))
    dialog.accept()
    assert dialog.result() != RunDialog.Accepted
    assert "is a file, so no folder can be made there" in dialog.problem.text()
    assert folder_problem("/proc/hypersynth-out") is not None  # /proc takes no new files, not even from root


def test_warns_before_overwriting(keep, tmp_path, monkeypatch):
    (tmp_path / "classification.tif").write_bytes(b"earlier run")
    assert existing_outputs(str(tmp_path)) == ["classification.tif"]
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path)}))
    asked = []
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda names: asked.append(names) or False)
    dialog.accept()
    assert asked == [["classification.tif"]] and dialog.result() != RunDialog.Accepted
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda names: True)
    dialog.accept()
    assert dialog.result() == RunDialog.Accepted and dialog.values()["overwrite"] is True
    assert dialog.values()["approved_outputs"] == ["classification.tif"]  # the yes covers these, not later ones


def test_a_missing_or_foreign_bundle_is_refused(keep, tmp_path):
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path), "bundle": str(tmp_path / "nope")}))
    assert any("does not exist" in p for p in dialog.problems())
    (tmp_path / "empty_bundle").mkdir()
    dialog.bundle.setFilePath(str(tmp_path / "empty_bundle"))
    assert any("no manifest.json" in p for p in dialog.problems())
    (tmp_path / "empty_bundle" / "manifest.json").write_text("{}")
    assert dialog.problems() == []
    assert dialog.values()["bundle"] == str(tmp_path / "empty_bundle")
