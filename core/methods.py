"""The classification methods HyperSynth compares, trained on arrays: RF, SVM, CNN, diffusion features, Augment & Classify."""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from .classify.base import CV_SYNTHESIS, SHARE_RULES, Classifier
from .progress import NULL_REPORTER, Reporter
from .scene import ClassInfo

log = logging.getLogger("hypersynth")

METHODS = ("rf", "svm", "cnn", "cnn-pseudo", "dfeat", "dfeat-augment", "augment")
MODEL_METHODS = ("cnn-pseudo", "dfeat", "dfeat-augment", "augment")  # they train (or reuse) the scene's synthesis model
SYNTHESISING_METHODS = ("dfeat-augment", "augment")  # they also learn from synthetic patches
PSEUDO_LABELLERS = ("blend", "cnn")  # who picks the pseudo-labels: the blend the labels' CV chose, or a first CNN
METHOD_TITLES = {
    "rf": "Random forest (spectra)",
    "svm": "SVM (spectra)",
    "cnn": "Spectral-spatial CNN, real labels only",
    "cnn-pseudo": "CNN + spectral forest blend, spatial smoothing as the labels' CV chooses, real labels (no synthesis: the ablation; "
                  "diffusion-feature SVM and pseudo-labels on request)",
    "dfeat": "SVM on the scene's diffusion-model features (MTMSD-style), real labels only",
    "dfeat-augment": "SVM on the scene's diffusion-model features (MTMSD-style), real + synthetic patches",
    "augment": "Augment & Classify (CNN + spectral forest blend, spatial smoothing as the labels' CV chooses, on real + synthetic patches; "
               "diffusion-feature SVM and pseudo-labels on request)",
}
ON_REQUEST = "diffusion-feature SVM and pseudo-labels on request"  # the blend methods' titles end with it


def run_title(method: str, settings: "MethodSettings") -> str:
    """What a run of ``method`` with ``settings`` did, for its report: the method's title with what it may do on
    request replaced by what this run did of it (nothing, the diffusion-feature SVM, pseudo-labels)."""
    used = [what for what, on in (("with the diffusion-feature SVM", settings.diffusion_features),
                                  ("with pseudo-labels", settings.pseudo_labels)) if on]
    title = METHOD_TITLES[method]
    return title.replace(f"; {ON_REQUEST}", f"; {' and '.join(used)}" if used else "").replace(
        f" {ON_REQUEST}", f" {' and '.join(used)}" if used else "").replace("; )", ")")


MEMBER_TITLES = {"cnn": "its CNN alone", "forest": "its spectral forest alone",
                 "dfeat": "its diffusion-feature SVM alone",
                 "blend": "its blend before spatial smoothing"}  # bench rows "augment:cnn", …


def method_title(method: str) -> str:
    """The analyst-facing name of a method, or of one member of a blended method ("augment:cnn")."""
    base, _, member = method.partition(":")
    title = METHOD_TITLES.get(base, base)
    return f"{title}: {MEMBER_TITLES.get(member, member)}" if member else title


@dataclass
class MethodSettings:
    """What a method needs beyond the data; one object so the CLI, the plugin and the bench agree."""

    preset: str = "fast"  # synthesis/classifier preset: tiny (tests), fast (CPU), full (GPU)
    patch_size: Optional[int] = None  # CNN/VAE patch side; None = chosen from the scene (neighbourhood.py)
    synthetic_per_class: Optional[int] = None  # synthetic patches for the average class; None = preset default
    balance_rate: float = 0.5  # λ: 0 = equal per class, 1 = inversely proportional to real counts
    synthetic_weight: float = 0.5  # share: all synthetic patches together weigh this much of all real labels' loss
    pseudo_labels: Optional[int] = None  # cnn-pseudo/augment: most pseudo-labels per class; None = none (session 13)
    pseudo_weight: float = 0.5  # loss weight of all pseudo-labels together relative to all real labels
    pseudo_labeller: str = "blend"  # who picks pseudo-labels: "blend" (the CV-chosen blend) or "cnn" (a first CNN)
    pseudo_rule: str = "rank"  # what "confident" means: "rank" (a class's more confident half) or "threshold" (p ≥ 0.9)
    filter_synthetic: bool = True  # drop synthetic patches whose centre spectrum is nearer another class's real mean
    anchor_strength: float = 0.5  # synthesis starts from real labelled patches noised this far (1 = pure noise)
    guidance: Optional[float] = None  # classifier-free guidance ω; None = the preset's
    steps: Optional[int] = None  # DDIM steps; None = the preset's
    spatial_smoothing: Optional[float] = None  # σ (px) of the probability smoothing; None = chosen by CV, 0 = off
    # cnn-pseudo/augment: an SVM on the scene diffusion model's features may join the blend. Off by default since
    # session 18: the labels' CV overrates it (the model learnt the held-out labels with their prompts; BENCHMARKS §4)
    diffusion_features: bool = False
    forest_inputs: str = "spectrum+shape+slope"  # what the blend's forest splits on ("spectrum": before session 16)
    share_rule: str = "balanced-accuracy"  # which CV score picks the blend's shares: "balanced-accuracy" or "log-loss"
    cv_synthesis: str = "none"  # augment: what the blend's CV folds learn of the synthetic patches (CV_SYNTHESIS)
    device: str = "auto"  # "auto", "cpu" or "cuda"
    clip_weights: Optional[str] = None  # local file of CLIP ViT-B-32 weights (else open_clip's cache, else fallback)
    seed: int = 0  # seeds every random choice of the run
    synthesis_model: Any = None  # a trained SynthesisModel to reuse (skips synthesis training)

    def __post_init__(self) -> None:
        """Refuse loss shares and forest inputs the training cannot use, before anything runs or is written."""
        from .classify.baselines import FOREST_INPUTS

        if self.forest_inputs not in FOREST_INPUTS:
            raise ValueError(f"forest_inputs must be one of {', '.join(FOREST_INPUTS)}; got {self.forest_inputs!r}")
        if self.share_rule not in SHARE_RULES:
            raise ValueError(f"share_rule must be one of {', '.join(SHARE_RULES)}; got {self.share_rule!r}")
        if self.cv_synthesis not in CV_SYNTHESIS:
            raise ValueError(f"cv_synthesis must be one of {', '.join(CV_SYNTHESIS)}; got {self.cv_synthesis!r}")
        for name, what, hint in (
                ("synthetic_weight", "synthetic patches",
                 "To classify without synthetic patches, use a method without synthesis (cnn-pseudo: the same "
                 "blend; on the command line: hypersynth baseline)."),
                ("pseudo_weight", "pseudo-labels", "To use none, leave pseudo-labels unset.")):
            value = getattr(self, name)
            try:
                share = float(value)
            except (TypeError, ValueError):
                share = math.nan
            if not 0.0 < share <= 10.0:  # NaN fails this too
                raise ValueError(f"{name} must be a number in (0, 10]: the total weight of all {what} relative to "
                                 f"your labels' (default 0.5; 1 = as much as your labels); got {value!r}. {hint}")


@dataclass
class FittedMethod:
    """A trained classifier and, for Augment & Classify, what produced its synthetic data."""

    method: str
    classifier: Classifier
    class_ids: np.ndarray  # (K,) label ids in the order of the classifier's output columns
    synthesis_model: Any = None  # SynthesisModel or None
    synthetic: Any = None  # SyntheticSet or None
    notes: list[str] = field(default_factory=list)
    pseudo_per_class: Optional[np.ndarray] = None  # (K,) pseudo-labels drawn per class; None: none were sought


def needs_synthesis_model(method: str, settings: MethodSettings) -> bool:
    """Whether ``method`` trains (or reuses) the scene's synthesis model with these settings: the synthesising
    and diffusion-feature methods always, the no-synthesis blend only for its diffusion-feature member."""
    return method in MODEL_METHODS and (method != "cnn-pseudo" or settings.diffusion_features)


def _used_classes(classes: list[ClassInfo], class_ids: np.ndarray) -> list[ClassInfo]:
    """The classes with training labels (``class_ids``), in the scene's order."""
    return [c for c in classes if c.id in set(class_ids.tolist())]


def preset_patch_size(settings: MethodSettings) -> int:
    """The largest patch side the deep methods use for these settings (the preset's, unless given)."""
    if settings.patch_size:
        return int(settings.patch_size)
    if settings.synthesis_model is not None:
        return int(settings.synthesis_model.config.vae.patch_size)
    from .ldm.config import preset

    return int(preset(settings.preset).vae.patch_size)


def resolve_patch_size(settings: MethodSettings, cube: np.ndarray, valid: np.ndarray) -> int:
    """The patch side the deep methods use on this scene.

    Given explicitly, or fixed by a reused synthesis model, it is that; otherwise it is read from the
    scene without labels (:func:`neighbourhood.choose_patch_size`, at most the preset's): large for
    fine-resolution scenes of large fields, 3 for coarse mixed scenes where neighbours differ.
    """
    if settings.patch_size or settings.synthesis_model is not None:
        return preset_patch_size(settings)
    from .neighbourhood import choose_patch_size

    return choose_patch_size(cube, valid, largest=preset_patch_size(settings))


def synthesis_config(settings: MethodSettings, patch_size: Optional[int] = None) -> Any:
    """The synthesis model's LDMConfig for these settings: the preset, with patch size and CLIP file applied."""
    from .ldm.config import preset

    cfg = preset(settings.preset, seed=settings.seed, device=settings.device)
    if patch_size or settings.patch_size:
        cfg.vae.patch_size = int(patch_size or settings.patch_size)
    if settings.clip_weights:
        cfg.text.weights_path = str(settings.clip_weights)
    return cfg


def check_text_weights(settings: MethodSettings) -> None:
    """Refuse, before anything trains, a CLIP weights file that is no checkpoint of the preset's text tower
    (:func:`.ldm.text_encoder.check_clip_weights`): it would be found only after the VAE had trained. The tiny
    preset's test tower loads none."""
    if not settings.clip_weights:
        return
    cfg = synthesis_config(settings)
    if cfg.text.model == "tiny":
        return
    from .ldm.text_encoder import check_clip_weights

    check_clip_weights(settings.clip_weights, cfg.text.model)


def _cnn_for(settings: MethodSettings, patch_size: int) -> Classifier:
    from .classify.cnn import SpectralSpatialCNN, cnn_preset

    return SpectralSpatialCNN(patch_size=patch_size, seed=settings.seed, device=settings.device,
                              **cnn_preset(settings.preset))


def fit_method(method: str, cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray,
               classes: list[ClassInfo], settings: MethodSettings, *,
               wavelengths: Optional[np.ndarray] = None, reporter: Reporter = NULL_REPORTER) -> FittedMethod:
    """Train ``method`` on the labelled pixels of ``train_labels`` (0 = not used).

    Args:
        cube: ``(B, H, W)`` float32 scene (usable bands only).
        valid: ``(H, W)`` bool, pixels that may be sampled.
        train_labels: ``(H, W)`` int ids, the labels the method may learn from.
        classes: all classes of the scene; classes without a training pixel are left out.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if settings.pseudo_labeller not in PSEUDO_LABELLERS:
        raise ValueError(f"unknown pseudo-labeller {settings.pseudo_labeller!r}; choose one of "
                         f"{', '.join(PSEUDO_LABELLERS)}")
    from .pseudo_labels import PSEUDO_RULES

    if settings.pseudo_rule not in PSEUDO_RULES:
        raise ValueError(f"unknown pseudo-label rule {settings.pseudo_rule!r}; choose one of {', '.join(PSEUDO_RULES)}")
    rows, cols = np.nonzero((train_labels > 0) & valid)
    ids = train_labels[rows, cols]
    class_ids = np.unique(ids)
    if len(class_ids) < 2:
        on_nodata = int(((train_labels > 0) & ~valid).sum())
        raise ValueError("at least two classes need labelled pixels to train a classifier "
                         f"(found {len(class_ids)}); label more classes"
                         + (f"; {on_nodata} labelled pixels lie on the scene's no-data pixels, where nothing is "
                            "learnt: label pixels that hold data" if on_nodata else ""))
    y = np.searchsorted(class_ids, ids)
    if method in ("rf", "svm"):
        from .classify.baselines import make_baseline

        clf = make_baseline(method, seed=settings.seed)
        spectra = cube[:, rows, cols].T[:, :, None, None]  # (N, B, 1, 1)
        reporter.progress(0.0, "classifier")
        clf.fit(spectra, y, reporter=reporter.sub(0.0, 1.0, "classifier "))
        return FittedMethod(method, clf, class_ids, notes=[clf.training_note()])

    reporter.progress(0.0, "training patches")  # the patch side (from the scene's homogeneity) and the labels' patches
    from .classify.predict import pixel_patches

    p = resolve_patch_size(settings, cube, valid)
    real = pixel_patches(cube, valid, rows, cols, p)  # (N, B, p, p) as prediction will see them
    if method == "cnn":
        clf = _cnn_for(settings, p)
        clf.fit(real, y, reporter=reporter)
        return FittedMethod(method, clf, class_ids, notes=[clf.training_note()])
    if method in ("dfeat", "dfeat-augment"):
        return _fit_diffusion_features(cube, valid, train_labels, classes, class_ids, real, y, settings, reporter,
                                       wavelengths, augment=method in SYNTHESISING_METHODS)
    if method == "cnn-pseudo":
        model, notes = None, []
        if needs_synthesis_model(method, settings):  # the same blend as Augment & Classify's, so the model too
            model, notes = _trained_or_reused(cube, valid, train_labels, _used_classes(classes, class_ids), class_ids,
                                              p, settings, reporter.sub(0.0, 0.5), wavelengths)
        start = 0.5 if model is not None else 0.0
        parts = [(real, y, 1.0)]
        n_pseudo = pseudo_label_count(settings, method)
        chosen, drawn = None, None
        if n_pseudo:
            clf, chosen = _pseudo_labeller(settings, p, parts, cube, valid, (rows, cols),
                                           reporter.sub(start, start + 0.1), model)
            part, note, drawn = _pseudo_part(clf, cube, valid, train_labels, real, y, class_ids, n_pseudo, settings,
                                             reporter, classes=classes)
            parts.append(part)
            notes.append(note)
        clf, blend_notes = _fit_blend(settings, p, parts, cube, valid, (rows, cols), reporter.sub(start + 0.1, 1.0),
                                      model=model, chosen=chosen)
        return FittedMethod(method, clf, class_ids, synthesis_model=model, notes=notes + blend_notes,
                            pseudo_per_class=drawn)

    return _fit_augment(cube, valid, train_labels, classes, class_ids, real, y, (rows, cols), settings, reporter,
                        wavelengths)


def scene_model(cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray, classes: list[ClassInfo],
                settings: MethodSettings, *, wavelengths: Optional[np.ndarray] = None,
                reporter: Reporter = NULL_REPORTER) -> Any:
    """The synthesis model the methods of :data:`MODEL_METHODS` would train on these labels (the same for each),
    so that a caller running several of them on one label set can train it once and pass it on as
    ``settings.synthesis_model``."""
    rows, cols = np.nonzero((train_labels > 0) & valid)
    class_ids = np.unique(train_labels[rows, cols])
    model, _ = _trained_or_reused(cube, valid, train_labels, _used_classes(classes, class_ids), class_ids,
                                  resolve_patch_size(settings, cube, valid), settings, reporter, wavelengths)
    return model


def _trained_or_reused(cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray, used: list[ClassInfo],
                       class_ids: np.ndarray, patch_size: int, settings: MethodSettings, reporter: Reporter,
                       wavelengths: Optional[np.ndarray]) -> tuple[Any, list[str]]:
    """The synthesis model of this scene: ``settings.synthesis_model`` when it knows every labelled class,
    else one trained now; and the report's line when reused."""
    if "diffusers" not in sys.modules:  # its first import brings in PyTorch's compiler: seconds with no progress
        reporter.progress(0.0, "loading the diffusion libraries")
    from .ldm.training import train_synthesis_model

    model = settings.synthesis_model
    if model is None:
        cfg = synthesis_config(settings, patch_size=patch_size)
        return train_synthesis_model(cube, valid, train_labels, used, cfg, reporter=reporter,
                                     wavelengths=wavelengths), []
    missing = [int(c) for c in class_ids if int(c) not in {k.id for k in model.classes}]
    if missing:
        raise ValueError(f"the reused model bundle was not trained with classes {missing}; "
                         "train a new bundle for this label set")
    return model, ["synthesis model reused from a bundle"]


def _fit_diffusion_features(cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray, classes: list[ClassInfo],
                            class_ids: np.ndarray, real: np.ndarray, y: np.ndarray, settings: MethodSettings,
                            reporter: Reporter, wavelengths: Optional[np.ndarray] = None, *,
                            augment: bool = False) -> FittedMethod:
    """MTMSD-style (METHODS §2): the scene's latent diffusion model, trained on every patch as for Augment &
    Classify, turns each patch into multi-timestep denoiser features; an SVM learns the real labels on them.
    With ``augment`` the model also synthesises patches per class (anchored and filtered as for Augment &
    Classify) and the SVM learns them too, at ``settings.synthetic_weight`` of the real labels' weight."""
    from .classify.diffusion_features import DiffusionFeatureClassifier

    used = _used_classes(classes, class_ids)
    model, notes = _trained_or_reused(cube, valid, train_labels, used, class_ids, real.shape[-1], settings,
                                      reporter.sub(0.0, 0.8), wavelengths)
    clf = DiffusionFeatureClassifier(_features_for(settings, model), seed=settings.seed)
    parts, synthetic = [(real, y, 1.0)], None
    if augment:
        synthetic, note, _ = _synthesize_for(model, used, class_ids, real, y, real, y, settings,
                                             reporter.sub(0.8, 0.9, "synthesis "))
        notes += note
        parts.append(_synthetic_part(synthetic, class_ids, settings))
    samples, labels, weights = _weighted_parts(parts)
    clf.fit(samples, labels, sample_weight=weights, real_count=len(y), reporter=reporter.sub(0.9, 1.0, "classifier "))
    notes.append(f"SVM on {clf.features.dimensions} diffusion features per pixel (timesteps {clf.features.timesteps}; "
                 f"C = {clf.svm.chosen['C']:g}, γ = {clf.svm.chosen['gamma']:.3g}, chosen on the real labels)")
    return FittedMethod("dfeat-augment" if augment else "dfeat", clf, class_ids, synthesis_model=model,
                        synthetic=synthetic, notes=notes)


def _fit_augment(cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray, classes: list[ClassInfo],
                 class_ids: np.ndarray, real: np.ndarray, y: np.ndarray, labelled: tuple[np.ndarray, np.ndarray],
                 settings: MethodSettings, reporter: Reporter,
                 wavelengths: Optional[np.ndarray] = None) -> FittedMethod:
    """Train (or reuse) the synthesis model, synthesise per class, train the blend on real + synthetic.

    With pseudo-labels (METHODS §1.4): the blend the real labels' CV chose (or a first CNN, with
    ``pseudo_labeller="cnn"``) picks confident unlabelled pixels, synthesis runs again from the real *and*
    pseudo-labelled patches, and the final blend learns from all three.
    """
    used = _used_classes(classes, class_ids)
    model, notes = _trained_or_reused(cube, valid, train_labels, used, class_ids, real.shape[-1], settings,
                                      reporter.sub(0.0, 0.6), wavelengths)
    n_pseudo = pseudo_label_count(settings, "augment")
    p = real.shape[-1]
    synthetic, note, raw = _synthesize_for(model, used, class_ids, real, y, real, y, settings,
                                           reporter.sub(0.6, 0.7 if n_pseudo else 0.75, "synthesis "),
                                           purpose="first synthesis, from the real labels (for picking pseudo-labels)"
                                           if n_pseudo else "synthesis from the real labels")
    notes += note
    in_folds = None  # what the blend's CV folds may learn of the synthetic patches (cv_synthesis)
    if settings.cv_synthesis != "none":
        if n_pseudo:  # the pseudo-labels' second synthesis has no anchors among the folds' labels
            log.warning("cv_synthesis %r applies without pseudo-labels; the folds learn the real labels only",
                        settings.cv_synthesis)
            notes.append(f"cv_synthesis {settings.cv_synthesis!r} not applied: it works without pseudo-labels, so the "
                         "blend's folds learnt the real labels only")
        else:
            in_folds = _fold_synthetic(raw, class_ids, y, settings)
    parts = [(real, y, 1.0)]
    chosen, drawn = None, None
    if n_pseudo:
        clf, chosen = _pseudo_labeller(settings, p, parts + [_synthetic_part(synthetic, class_ids, settings)], cube,
                                       valid, labelled, reporter.sub(0.7, 0.8),
                                       model if settings.diffusion_features else None)
        part, note, drawn = _pseudo_part(clf, cube, valid, train_labels, real, y, class_ids, n_pseudo, settings,
                                         reporter, classes=used)
        parts.append(part)
        notes.append(note)
        anchors = np.concatenate([real, part[0]])
        anchor_y = np.concatenate([y, part[1]])
        synthetic, note, _ = _synthesize_for(model, used, class_ids, anchors, anchor_y, real, y, settings,
                                             reporter.sub(0.8, 0.85, "synthesis "), seed_offset=1,
                                          purpose="second synthesis, from the real and pseudo-labelled patches "
                                                  "(what the final blend learns from)")
        notes += note
    clf, blend_notes = _fit_blend(settings, p, parts + [_synthetic_part(synthetic, class_ids, settings)], cube, valid,
                                  labelled, reporter.sub(0.85 if n_pseudo else 0.75, 1.0),
                                  model=model if settings.diffusion_features else None, chosen=chosen,
                                  synthetic=in_folds)
    if not clf.choice.learn_synthetic:  # "choose" left the synthetic patches out of the final training
        notes = _left_out(notes, settings)
    notes += blend_notes
    return FittedMethod("augment", clf, class_ids, synthesis_model=model, synthetic=synthetic, notes=notes,
                        pseudo_per_class=drawn)


def _synthesize_for(model: Any, used: list[ClassInfo], class_ids: np.ndarray, anchors: np.ndarray,
                    anchor_y: np.ndarray, real: np.ndarray, y: np.ndarray, settings: MethodSettings,
                    reporter: Reporter, seed_offset: int = 0, purpose: str = "synthesis from the real labels"
                    ) -> tuple[Any, list[str], Any]:
    """Synthesise per class (λ-balanced, from ``anchors`` when anchored), filter against the real labels;
    the report's notes start with ``purpose`` (a run can synthesise twice); and the set before the filter."""
    from .ldm.synthesize import balance_counts, synthesize

    cfg = model.config
    real_counts = {int(c): int((anchor_y == i).sum()) for i, c in enumerate(class_ids)}
    per_class = settings.synthetic_per_class or default_synthetic_per_class(settings.preset)
    counts = balance_counts(real_counts, per_class * len(class_ids), settings.balance_rate)
    prompts = {c.id: c.text for c in used}
    anchored = None
    if settings.anchor_strength < 1:
        anchored = {int(c): anchors[anchor_y == i] for i, c in enumerate(class_ids) if np.any(anchor_y == i)}
    synthetic = synthesize(model, prompts, counts,
                           guidance=settings.guidance if settings.guidance is not None else cfg.diffusion.guidance,
                           steps=settings.steps or cfg.diffusion.sample_steps, seed=settings.seed + seed_offset,
                           anchors=anchored, strength=settings.anchor_strength, reporter=reporter)
    notes, raw = [], synthetic
    if settings.filter_synthetic:
        synthetic, dropped = filter_by_real_means(synthetic, real, y, class_ids)
        notes.append(f"{purpose}: {dropped} synthetic patches dropped: nearer (spectral angle) to another class's "
                     "real mean")
    names = {c.id: c.name for c in used}
    kept = {k: int(np.sum(synthetic.labels == k)) for k in counts}  # per class after the filter, not as asked
    emptied = [k for k, v in counts.items() if v and not kept[k]]
    if emptied:  # the run learns these classes from the labels alone: said, as the labels decide it
        log.warning("%s: every synthetic patch of %s was dropped (its centre spectrum lay nearer another class's "
                    "labelled mean than its own), so the classifier learns %s from the labels alone; a prompt "
                    "nearer what the labels show, or more labels, may help", purpose,
                    " and ".join(names.get(k, str(k)) for k in emptied), "it" if len(emptied) == 1 else "them")
    notes.append(f"{purpose}: {len(synthetic)} synthetic patches kept of {sum(counts.values())} "
                 f"({', '.join(f'{names.get(k, k)}: {kept[k]} of {v}' for k, v in counts.items())}); "
                 f"{_weight_note(settings)}")
    if raw.clipped is not None and raw.clipped.any():
        notes.append(f"{purpose}: {clipped_note(raw)}")
    return synthetic, notes, raw


def clipped_note(synthetic: Any) -> str:
    """What clipping to the model's value range did to a synthetic set (its ``clipped`` counts are recorded)."""
    touched = int(np.count_nonzero(synthetic.clipped))
    return (f"{synthetic.clipped_share():.2%} of the synthetic values ({touched} of {len(synthetic)} patches) lay "
            "outside the range the scene's bands hold and were clipped to it")


def _weight_note(settings: MethodSettings) -> str:
    return f"together they weigh {settings.synthetic_weight:g} of your labels in training"


def _left_out(notes: list[str], settings: MethodSettings) -> list[str]:
    """The synthesis notes once the labels' CV ("choose") left the synthetic patches out of the final training."""
    return [n.replace(_weight_note(settings), "the labels' CV left them out of the final training (see the blend "
                      "note)") for n in notes]


def _fold_synthetic(raw: Any, class_ids: np.ndarray, y: np.ndarray, settings: MethodSettings) -> Any:
    """The synthetic set before its filter, as the blend's CV folds learn it (:mod:`.classify.fold_synthesis`)."""
    from .classify.fold_synthesis import FoldSynthetic, anchored_rows

    labels = np.searchsorted(class_ids, raw.labels)
    return FoldSynthetic(raw.patches.astype(np.float32, copy=False), labels,
                         anchored_rows(labels, raw.anchor_index, y), settings.synthetic_weight,
                         filter_by_means=settings.filter_synthetic)


def _synthetic_part(synthetic: Any, class_ids: np.ndarray, settings: MethodSettings
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    return (synthetic.patches.astype(np.float32, copy=False), np.searchsorted(class_ids, synthetic.labels),
            settings.synthetic_weight)


def _forest_for(settings: MethodSettings) -> Classifier:
    from .classify.baselines import SpectralRandomForest

    # 500 trees as the RF baseline; the tiny preset (tests) grows fewer, the blend's share is what it tests.
    return SpectralRandomForest(n_estimators=50 if settings.preset == "tiny" else 500, seed=settings.seed,
                                inputs=settings.forest_inputs)


def choose_blend(settings: MethodSettings, cube: np.ndarray, valid: np.ndarray, labelled: tuple[np.ndarray, np.ndarray],
                 real: np.ndarray, y: np.ndarray, reporter: Reporter, model: Any = None,
                 synthetic: Any = None) -> tuple[Any, Any]:
    """The members' shares of the blend and the width of its probability smoothing (or the analyst's width), by
    cross-validation on the real labels alone (:func:`classify.ensemble.choose_blend_and_smoothing`): the labels,
    not the test pixels, pick them. With the scene's synthesis ``model`` an SVM on its diffusion features is a
    candidate third member. With ``synthetic`` (a :class:`~.classify.fold_synthesis.FoldSynthetic`) the folds
    also learn synthetic patches as ``settings.cv_synthesis`` says."""
    from .classify.baselines import SpectralSVM
    from .classify.ensemble import choose_blend_and_smoothing

    rows, cols = labelled
    dfeat = None
    if model is not None:
        from .classify.diffusion_features import SVM_MAX_PER_CLASS, PixelFeatureCache
        from .classify.predict import patch_reader

        cache = PixelFeatureCache(_features_for(settings, model), patch_reader(cube, valid, real.shape[-1]),
                                  valid.shape)
        dfeat = (cache, lambda: SpectralSVM(seed=settings.seed, max_per_class=SVM_MAX_PER_CLASS))
        if synthetic is not None:  # the SVM member of each fold learns the synthetic patches' features too
            from dataclasses import replace

            synthetic = replace(synthetic, features=cache.features(synthetic.patches, reporter=reporter.sub(0.0, 0.0)))
    return choose_blend_and_smoothing(cube, valid, rows, cols, y, real,
                                      lambda: _cnn_for(settings, real.shape[-1]), lambda: _forest_for(settings),
                                      smoothing=settings.spatial_smoothing, seed=settings.seed, dfeat=dfeat,
                                      share_rule=settings.share_rule, reporter=reporter, synthetic=synthetic,
                                      cv_synthesis=settings.cv_synthesis if synthetic is not None else "none")


def _features_for(settings: MethodSettings, model: Any) -> Any:
    from .classify.diffusion_features import DiffusionFeatures, FeatureSpec

    return DiffusionFeatures(model, FeatureSpec(noise_seed=settings.seed))


def _fit_blend(settings: MethodSettings, patch_size: int, parts: list[tuple[np.ndarray, np.ndarray, float]],
               cube: np.ndarray, valid: np.ndarray, labelled: tuple[np.ndarray, np.ndarray],
               reporter: Reporter, model: Any = None, chosen: Optional[tuple[Any, Any]] = None,
               synthetic: Any = None) -> tuple[Classifier, list[str]]:
    """The final classifier, the blend of CNN, spectral forest and (with the scene's synthesis ``model``) the
    diffusion-feature SVM on all ``parts``, the members' shares and the smoothing width chosen by CV on the real
    part (``parts[0]``, at pixels ``labelled``) unless already ``chosen`` (the pseudo-labeller's, the same CV);
    and the report's lines on both. With ``synthetic`` (the synthetic part's patches as the folds learn them,
    ``settings.cv_synthesis``) the CV may leave the synthetic part out of the final training."""
    real, y, _ = parts[0]
    blend, smoothing = chosen or choose_blend(settings, cube, valid, labelled, real, y, reporter.sub(0.0, 0.5),
                                              model=model, synthetic=synthetic)
    if not blend.learn_synthetic:  # "choose": the labels' CV scored the blend better without synthetic patches
        parts = parts[:1]
    clf = _fit_weighted(settings, patch_size, parts, reporter.sub(0.5, 1.0), blend=blend, smoothing=smoothing,
                        model=model)
    clf.smoothing_scores = dict(smoothing.scores) if smoothing.folds else {}  # the CV of each width, for the run
    return clf, [blend.note(listing=False), smoothing.note(), clf.cnn.training_note(),
                 clf.forest.training_note()]  # report: blend.table()


def _fit_weighted(settings: MethodSettings, patch_size: int, parts: list[tuple[np.ndarray, np.ndarray, float]],
                  reporter: Reporter, blend: Any = None, smoothing: Any = None, model: Any = None) -> Classifier:
    """A fresh CNN (with ``blend``: the blend of CNN, spectral forest and, given ``model``, diffusion-feature SVM,
    smoothed as ``smoothing`` says) trained on ``(patches, class indices, share)`` parts, the real labels first.

    A part's share is its total loss weight relative to the real labels' (per patch: share × real count /
    part count), so a few real labels are not drowned by hundreds of synthetic or pseudo-labelled patches.
    Every member of a blend learns from the same weighted patches (the forest from their centre spectra, with the
    spectra's shape and slope unless ``settings.forest_inputs`` says "spectrum").
    """
    samples, labels, weights = _weighted_parts(parts)
    if blend is not None:
        from .classify.ensemble import SpectralSpatialEnsemble

        dfeat = None
        if model is not None and blend.with_dfeat:
            from .classify.diffusion_features import DiffusionFeatureClassifier

            dfeat = DiffusionFeatureClassifier(_features_for(settings, model), seed=settings.seed)
        ensemble = SpectralSpatialEnsemble(_cnn_for(settings, patch_size), _forest_for(settings), blend.cnn_weight,
                                           blend, smoothing=smoothing.sigma if smoothing else 0.0,
                                           smoothing_note=smoothing.note() if smoothing else "", dfeat=dfeat,
                                           dfeat_weight=blend.dfeat_weight if dfeat is not None else 0.0)
        return ensemble.fit(samples, labels, sample_weight=weights, real_count=len(parts[0][1]), reporter=reporter)
    clf = _cnn_for(settings, patch_size)
    clf.fit(samples, labels, sample_weight=weights, real_count=len(parts[0][1]), reporter=reporter)
    return clf


def _pseudo_labeller(settings: MethodSettings, patch_size: int, parts: list[tuple[np.ndarray, np.ndarray, float]],
                     cube: np.ndarray, valid: np.ndarray, labelled: tuple[np.ndarray, np.ndarray], reporter: Reporter,
                     model: Any = None) -> tuple[Classifier, Optional[tuple[Any, Any]]]:
    """The classifier that picks the pseudo-labels, trained on ``parts`` (real labels first), and the blend choice
    it was built with (None for a CNN).

    ``settings.pseudo_labeller`` "cnn": a first CNN. "blend": the members blended at the shares the labels' own CV
    chooses (real labels only, so it can run before any pseudo-label exists; the final blend reuses that choice).
    Why: on coarse mixed scenes the CV gives the CNN little or no share, yet the "cnn" labeller lets it alone pick
    the pseudo-labels every member then learns from. The blend's probabilities are flatter than a CNN's softmax and
    seldom reach the 0.9 threshold, hence the "rank" rule (the default) for what "confident" means.
    """
    if settings.pseudo_labeller == "cnn":
        return _fit_weighted(settings, patch_size, parts, reporter), None
    real, y, _ = parts[0]
    chosen = choose_blend(settings, cube, valid, labelled, real, y, reporter.sub(0.0, 0.5), model=model)
    clf, _ = _fit_blend(settings, patch_size, parts, cube, valid, labelled, reporter, model=model, chosen=chosen)
    return clf, chosen


def _weighted_parts(parts: list[tuple[np.ndarray, np.ndarray, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(patches, class indices, share)`` parts, the real labels first, as one training set with per-sample
    weights: each part's total weight is its share of the real labels' (per patch: share × real count / part
    count), so a few real labels are not drowned by hundreds of synthetic or pseudo-labelled patches."""
    n_real = len(parts[0][1])
    samples = np.concatenate([x for x, _, _ in parts])
    labels = np.concatenate([t for _, t, _ in parts])
    weights = np.concatenate([np.full(len(t), 1.0 if i == 0 else share * n_real / max(len(t), 1), np.float32)
                              for i, (_, t, share) in enumerate(parts)])
    return samples, labels, weights


def pseudo_label_count(settings: MethodSettings, method: str) -> int:
    """Pseudo-labels per class: none for "cnn" (real labels only); for "cnn-pseudo" and "augment" the
    setting, else none. Why none by default: picked by the blend from 2-5 labels per class, they cost 0.3-3.0 OA
    points and Augment & Classify scored at least as well without them (BENCHMARKS §4, session 13); until then
    the presets drew 4 (tiny), 40 (fast) and 100 (full), which ``pseudo_labels`` still asks for."""
    if method not in ("cnn-pseudo", "augment") or settings.pseudo_labels is None:
        return 0
    return max(0, int(settings.pseudo_labels))


def _pseudo_part(clf: Classifier, cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray,
                 real: np.ndarray, y: np.ndarray, class_ids: np.ndarray, per_class: int, settings: MethodSettings,
                 reporter: Reporter, classes: Sequence[ClassInfo] = ()
                 ) -> tuple[tuple[np.ndarray, np.ndarray, float], str, np.ndarray]:
    """Pseudo-labels chosen with ``clf`` as a training part ``(patches, class indices, share)``, the report's line
    on them (classes named from ``classes``, else by id) and the ``(K,)`` count drawn per class."""
    from .classify.predict import pixel_patches
    from .pseudo_labels import select_pseudo_labels

    pseudo = select_pseudo_labels(clf, cube, valid, train_labels > 0, real_class_means(real, y), per_class,
                                  seed=settings.seed, rule=settings.pseudo_rule, reporter=reporter.sub(0.0, 0.0))
    patches = pixel_patches(cube, valid, pseudo.rows, pseudo.cols, real.shape[-1])
    by = " (picked by the blend the labels chose)" if settings.pseudo_labeller == "blend" else ""
    by += " (the more confident half of each class's agreeing pixels)" if settings.pseudo_rule == "rank" else ""
    note = _pseudo_note(pseudo, class_ids, {c.id: c.name for c in classes}) + by
    return (patches, pseudo.index, settings.pseudo_weight), note, pseudo.counts(len(class_ids))


def _pseudo_note(pseudo: Any, class_ids: np.ndarray, names: dict[int, str]) -> str:
    counts = pseudo.counts(len(class_ids))
    if len(pseudo) == 0:  # said plainly: the ablation and the final blend then learn without pseudo-labels
        return (f"no pseudo-labels: none of the {pseudo.candidates} unlabelled pixels scored was both confident "
                "enough of a class and nearest that class's labelled mean spectrum; the classifier learns without "
                "them")
    return (f"{len(pseudo)} pseudo-labelled pixels of {pseudo.candidates} scored "
            f"({', '.join(f'{names.get(c, c)}: {n}' for c, n in zip(class_ids.tolist(), counts.tolist()))})")


def default_synthetic_per_class(preset_name: str) -> int:
    """Synthetic patches for the average class when the run leaves it to the preset (``synthetic_per_class``
    None)."""
    return {"tiny": 8, "fast": 60, "full": 300}.get(preset_name, 60)


def real_class_means(real: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(K, B)`` mean centre spectrum of the labelled patches ``(N, B, p, p)`` of each class index 0..K-1."""
    from .classify.base import centre_spectra

    return np.stack([centre_spectra(real[y == i]).mean(0) for i in range(int(y.max()) + 1)])


def filter_by_real_means(synthetic: Any, real: np.ndarray, y: np.ndarray, class_ids: np.ndarray) -> tuple[Any, int]:
    """Keep the synthetic patches whose centre spectrum is nearest (spectral angle) to its own class's mean
    real labelled spectrum; the labelled pixels are the only truth the run has, so they arbitrate."""
    from .classify.base import centre_spectra
    from .pseudo_labels import nearest_mean_index

    nearest = class_ids[nearest_mean_index(centre_spectra(synthetic.patches), real_class_means(real, y))]  # (N,)
    keep = nearest == synthetic.labels
    kept = synthetic.subset(keep)
    return kept, int((~keep).sum())
