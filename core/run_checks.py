"""What a run reads and checks of its inputs before it trains.

Labels and their classes, the bands it leaves out (and the band screen's warning of others), a reused model's fit to
the scene, the validation pixels it scores; :mod:`.pipeline` calls them before a run trains; the benchmark and the
label draw read labels as a run does.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .evaluation.assess import ValidationPixels, validation_pixels
from .methods import MethodSettings
from .scene import ClassInfo, Scene

if TYPE_CHECKING:
    from .band_screen import BandScreen
    from .evaluation.sampling import SampleDesign
    from .ldm.model import SynthesisModel

log = logging.getLogger("hypersynth")


def warn_of_unusable_bands(scene: Scene, scene_path: str | os.PathLike, streamed: bool,
                           saved_classifier: bool = False) -> "BandScreen":
    """Warn of the usable bands the data suggest leaving out (:mod:`.band_screen`: next to no light, or noise), so
    the run's report names them and how to leave them out; ``streamed``: the scene's pixels are in its file only.
    ``saved_classifier``: a saved classifier maps the scene, which needs the bands it learnt from, these among them:
    the way out is a classifier trained without them. Returns the :class:`~.band_screen.BandScreen` (each band's
    level over the pixels it read: a sample of the scene's values)."""
    from .band_screen import leave_out_suggestion, retrain_suggestion, screen_file, screen_scene

    screen = screen_file(scene_path, scene.good_bands) if streamed else screen_scene(scene)
    said = (retrain_suggestion(screen, scene.wavelengths, scene.named_left_out) if saved_classifier
            else leave_out_suggestion(screen, scene.wavelengths))
    if said:
        log.warning("%s: %s", scene.name, said)
    return screen


def leave_out_told(scene: Scene, text: str, why: str = "as the run was told") -> None:
    """Leave the bands ``text`` names out of ``scene`` for this run (:func:`.io.band_choice.leave_out_in_run`) and say
    which, and which of them the file flags bad already; ``why``: who named them, for the message and the report
    ("as the classifier's training run was told")."""
    from .io.band_choice import describe_bands, leave_out_in_run

    left_out = leave_out_in_run(scene, text, why)
    wl = scene.wavelengths
    log.info("%s: the run leaves out %s %s; %d usable bands remain%s", scene.name,
             describe_bands(left_out.new, wl) if left_out.new.any() else "no band more", why,
             int(scene.good_bands.sum()), f" ({describe_bands(left_out.already, wl)} flagged bad in the file already)"
             if left_out.already.any() else "")


def leave_out_as_trained(scene: Scene, told: Optional[str], trained: Optional[str], trained_bands: Optional[int],
                         model: str) -> None:
    """Leave out of ``scene`` the bands a run on a saved ``model`` ("classifier") was ``told`` to leave out; told
    none, those its training run was told to (``trained``, of a scene of ``trained_bands`` bands), where the scene has
    as many bands: its training scene's sensor and band set."""
    if told is not None:
        leave_out_told(scene, told)
    elif trained and trained_bands == scene.bands:
        leave_out_told(scene, trained, f"as the {model}'s training run was told")


def scene_values(scene: Scene) -> str:
    """What the values of ``scene`` are, as the engine reads them ("Reflectance", "Radiance (units)"), for a synthesis
    model to keep; "" when its file does not say (:func:`~.report.value_label`)."""
    from .report import VALUE_AS_READ, value_label

    title = value_label(scene.source)
    return "" if title == VALUE_AS_READ else title


def describe_model_bands(model: "SynthesisModel", scene: Scene) -> None:
    """Give a synthesis model what its scene says of its bands where the model does not know it yet (one just
    trained, or a bundle saved before it kept them): what the values are (:func:`scene_values`) and each usable
    band's FWHM, which the patch files it writes carry. The scene has the model's bands: a reused model was checked
    against it (``check_model_fits``)."""
    from .io.band_choice import told_bands_text

    if not model.values:
        model.values = scene_values(scene)
    if model.fwhm is None:
        model.fwhm = scene.usable_fwhm()
    if model.scene_bands is None:  # the bands told to leave out, left out again where it is reused
        model.scene_bands, model.named_left_out = scene.bands, told_bands_text(scene)


def warn_of_empty_prompts(classes: list[ClassInfo]) -> None:
    """Say when classes reach the text-conditioned synthesis with no words but their id ("class 3"): no prompt and
    no name (a label raster without category names, no class file), so the text tells the model nothing."""
    bare = [c for c in classes if re.fullmatch(r"class[ _]?\d+", c.text.strip(), flags=re.IGNORECASE)]
    if bare:
        log.warning("class%s %s reach%s the synthesis with no prompt and no name but %s (%s): the text tells the "
                    "model nothing about %s; give each class a name and a prompt (a class file: --prompts, or the "
                    "dock's Prompts tab)", "es" if len(bare) > 1 else "", ", ".join(str(c.id) for c in bare),
                    "" if len(bare) > 1 else "es", "their ids" if len(bare) > 1 else "its id",
                    ", ".join(repr(c.text) for c in bare[:3]) + (", …" if len(bare) > 3 else ""),
                    "them" if len(bare) > 1 else "it")


def read_labels_and_classes(labels_path: str | os.PathLike, scene: Scene,
                            classes_path: Optional[str | os.PathLike], class_field: Optional[str],
                            labels_name: Optional[str] = None) -> tuple[np.ndarray, list[ClassInfo]]:
    """Labels on the scene grid and their classes; a class file's prompts and colours win over defaults
    (``labels_name``: what messages call the labels; None: their file's name)."""
    from .io.classes import read_classes
    from .io.labels import read_labels

    labels_name = labels_name or Path(labels_path).name

    known = read_classes(classes_path) if classes_path else None
    labels, classes = read_labels(labels_path, scene, class_field=class_field, classes=known)
    if known:
        by_id = {c.id: c for c in known}
        undefined = [c for c in classes if c.id not in by_id]
        if undefined:  # a text-conditioned run needs each class's prompt; a typo in an id must not go unseen
            said = ", ".join(f"{c.name} (id {c.id}, {int((labels == c.id).sum())} pixels)" for c in undefined)
            raise ValueError(f"the labels {labels_name} hold classes that {Path(classes_path).name} "
                             f"does not define: {said}; add them there with a name and a prompt, or remove "
                             "those labels")
        labelled = {c.id for c in classes}
        for c in known:
            if c.id not in labelled:
                log.warning("class %d (%s) of %s has no labelled pixel in %s: it cannot be in the map; label some "
                            "of its pixels, or leave it out", c.id, c.name, Path(classes_path).name, labels_name)
        classes = [by_id[c.id] for c in classes]
    return labels, classes


def scored_validation(validation: np.ndarray, labels: Optional[np.ndarray], scene: Scene,
                      classes: list[ClassInfo], path: str | os.PathLike,
                      name: Optional[str] = None, design: Optional[SampleDesign] = None) -> ValidationPixels:
    """The validation pixels a run scores (:func:`~.evaluation.assess.validation_pixels`), refused before the run
    trains when they cannot score it: none left apart from the training labels (those are not scored), or no class
    id in common with the classes the map can hold (``name``: what messages call them; None: the file's name)."""
    name = name or Path(path).name
    held = validation_pixels(validation, scene.valid)
    if not held.flat.size:
        raise ValueError(f"the validation labels {name} hold no labelled pixel on the scene's valid pixels; "
                         "check that they cover the scene")
    if labels is not None:
        apart = np.ascontiguousarray(labels).ravel()[held.flat] == 0  # (N,) not a training label
        held = replace(held, flat=held.flat[apart], truth=held.truth[apart], left_out=int((~apart).sum()))
    if not held.flat.size:
        raise ValueError(f"every validation pixel of {name} is also a training label, and training pixels are not "
                         "scored; give validation labels beyond the training ones (e.g. the full ground truth)")
    found = sorted(int(i) for i in np.unique(held.truth))
    known = sorted(c.id for c in classes)
    if not set(found) & set(known):
        raise ValueError(f"the validation labels {name} hold class ids {', '.join(map(str, found[:12]))} and the "
                         f"classes to map are {', '.join(map(str, known))}: none in common, so every pixel would "
                         "count as an error; give validation labels with the same class ids")
    unknown = sorted(set(found) - set(known))
    if unknown:  # e.g. another scene's labels numbered their own way: some ids coincide, the rest never can
        missed = int(np.isin(held.truth, unknown).sum())
        log.warning("the validation labels %s hold class ids %s that are none of the classes the map can hold (%s): "
                    "their %d pixels all count as errors; check that the labels number the classes as the map does",
                    name, ", ".join(map(str, unknown[:12])), ", ".join(map(str, known)), missed)
    held.design, held.name = design, name  # a drawn sample's design (labelled_sample_design), for its estimators
    return held


def check_patch_fits(settings: MethodSettings, scene: Scene) -> None:
    """Refuse a patch wider than the scene before training: every patch would be mostly padding."""
    side = settings.patch_size
    if side and int(side) > min(scene.shape):
        raise ValueError(f"the patch size {side} is larger than the scene ({scene.shape[0]} × {scene.shape[1]} "
                         f"pixels); use at most {min(scene.shape)}, or leave it unset to let the scene choose")


def check_model_fits(settings: MethodSettings, scene: Scene) -> None:
    """Refuse a reused synthesis model of another band set (the bands left out as told, or as its training run was
    told, already left out: :func:`leave_out_as_trained`)."""
    model = settings.synthesis_model
    if model is None:
        return
    if int(model.bands) != int(scene.good_bands.sum()):
        told_text = (f"; its training run left out bands {model.named_left_out} of its scene's {model.scene_bands} "
                     f"as told" if model.named_left_out else "")
        told = (" after the bands it was told to leave out" if scene.named_left_out is not None
                and scene.named_left_out.any() else "")
        raise ValueError(f"the model bundle was trained on {model.bands} bands but this scene has "
                         f"{int(scene.good_bands.sum())} usable bands{told}; use a scene of the same sensor "
                         f"(same band set, the same bands left out) or train a new bundle{told_text}")
    check_same_wavelengths(model.wavelengths, scene, "the model bundle", "train a new bundle")


def check_same_wavelengths(trained: Optional[Sequence[float]], scene: Scene, what: str, instead: str) -> None:
    """Refuse a scene whose usable bands lie at other wavelengths than those ``what`` was trained on (the same
    band count is not the same band set: a subset or another sensor would be classified silently and badly).

    A difference under half a band's spacing (and under 5 nm) passes: one sensor's calibration moves its band
    centres that little from scene to scene. Where either side has no wavelengths it cannot be checked: said once.

    Raises:
        ValueError: naming the first band that differs, with both wavelengths.
    """
    here = scene.usable_wavelengths()
    if trained is None and here is None:
        return  # neither knows its wavelengths (plain GeoTIFFs): the band count is all there is to check
    if trained is None or here is None:
        log.warning("%s: its bands could not be compared with those %s was trained on (%s no wavelengths); make "
                    "sure it is the same sensor's band set", scene.name, what,
                    "the scene has" if here is None else f"{what} has")
        return
    said = wavelength_mismatch(trained, here, what)
    if said:
        raise ValueError(f"{scene.name}'s bands lie at other wavelengths than those {what} was trained on ({said}); it "
                         f"applies only to the same sensor's band set: {instead}")


def bands_beyond_trained(scene: Scene, trained: Optional[Sequence[float]],
                         trained_scene_bands: Optional[int]) -> Optional[np.ndarray]:
    """``(B,)`` bool: the scene's usable bands that lie at none of the ``trained`` wavelengths, where the scene has
    the training scene's band count (``trained_scene_bands``: a denser sensor's grid would match too; review), every
    trained band has its own usable band here (nearest, within :func:`wavelength_mismatch`'s tolerance, in the same
    order) and the scene has more: a scene of the sensor that flags fewer bands bad (a tile exported without its
    bad-band list). None where that is not so (another band set, no wavelengths, a band missing): the band check then
    refuses."""
    here = scene.usable_wavelengths()
    if trained_scene_bands != scene.bands or trained is None or here is None or len(here) <= len(trained):
        return None
    trained = np.asarray(trained, dtype=float)
    nearest = np.abs(here[None, :] - trained[:, None]).argmin(axis=1)  # (T,) the usable band nearest each
    if len(set(nearest.tolist())) != len(trained) or np.any(np.diff(nearest) <= 0):
        return None
    if wavelength_mismatch(trained, here[nearest], "it"):
        return None
    usable = np.flatnonzero(scene.good_bands)
    beyond = np.zeros(scene.bands, dtype=bool)
    beyond[usable] = True
    beyond[usable[nearest]] = False
    return beyond


def wavelength_mismatch(trained: Sequence[float], here: Sequence[float], what: str) -> Optional[str]:
    """Where bands at wavelengths ``here`` differ from the same count ``trained`` on (:func:`check_same_wavelengths`'s
    rule: by over half a band's spacing or 5 nm): "usable band 3: 560.0 nm here, 550.0 nm in the model bundle; 7 bands
    differ", or None where they agree."""
    trained = np.asarray(trained, dtype=float)
    here = np.asarray(here, dtype=float)
    spacing = np.abs(np.diff(trained))
    tolerance = np.minimum(5.0, 0.5 * np.concatenate([spacing[:1], np.minimum(spacing[:-1], spacing[1:]),
                                                       spacing[-1:]])) if len(trained) > 1 else np.array([5.0])
    off = np.flatnonzero(np.abs(here - trained) > tolerance)
    if not off.size:
        return None
    k = int(off[0])
    return (f"usable band {k + 1}: {here[k]:.1f} nm here, {trained[k]:.1f} nm in {what}; {off.size} bands "
            "differ")
