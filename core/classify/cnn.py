"""The spectral-spatial classifier: a compact patch network trained on few real (and weighted synthetic) labels."""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..device import repeatable_training, resolve_device
from ..progress import NULL_REPORTER, Reporter
from ..version import ENGINE_VERSION

log = logging.getLogger("hypersynth")
FORMAT = "hypersynth.SpectralSpatialCNN"  # written into config_dict() so a bundle says what it holds
ARCHS = ("bottleneck", "conv3d", "transformer")


@dataclass
class CNNConfig:
    """Everything that defines a :class:`SpectralSpatialCNN` before it sees data (saved beside its weights)."""

    patch_size: int = 9  # side p of the (bands, p, p) patch around the pixel to classify
    arch: str = "bottleneck"  # network, one of ARCHS (chosen by scripts/choose_classifier.py)
    width: int = 64  # channels after the spectral bottleneck (token width for the transformer)
    dropout: float = 0.2  # dropout before the classification layer
    epochs: int = 60  # most training epochs (and the length of the cosine learning-rate schedule)
    batch_size: int = 32  # patches per optimisation step
    min_samples_per_epoch: int = 128  # an epoch draws at least this many patches (tiny label sets repeat)
    lr: float = 2e-3  # AdamW peak learning rate, decayed to 0 by a cosine schedule
    weight_decay: float = 1e-2  # AdamW decoupled weight decay
    label_smoothing: float = 0.1  # mass spread over all classes in the cross-entropy target
    class_balance: bool = True  # give every class the same total loss weight (sparse labels are unbalanced)
    val_fraction: float = 0.2  # share of each class's real labels held out for early stopping (0 = never)
    min_labels_for_early_stopping: int = 20  # real labels every class needs before early stopping (else fixed epochs)
    patience: int = 15  # epochs without a lower validation loss before training stops
    refit: bool = True  # after early stopping, retrain on all labels for the best number of epochs
    spectral_scale: float = 0.1  # augmentation: per-patch brightness factor drawn from 1 ± this
    spectral_noise: float = 0.02  # augmentation: Gaussian noise in units of each band's standard deviation
    predict_batch_size: int = 1024  # patches per forward pass in predict_proba
    seed: int = 0  # seeds weights, splits, batches and augmentation
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown classifier arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.patch_size < 1:
            raise ValueError(f"patch_size must be at least 1; got {self.patch_size}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1); got {self.val_fraction}")
        if self.min_labels_for_early_stopping < 2:
            raise ValueError("min_labels_for_early_stopping must be at least 2 (one to train, one to hold out); "
                             f"got {self.min_labels_for_early_stopping}")
        if self.epochs < 1 or self.batch_size < 1 or self.predict_batch_size < 1:
            raise ValueError("epochs, batch_size and predict_batch_size must be at least 1")
        if self.width < 8 or self.width % 8:
            raise ValueError(f"width must be a positive multiple of 8 (group norm uses 8 groups); got {self.width}")


# Named presets: tiny (tests, seconds), fast (CPU, 30–60 labels well under a minute), full (GPU).
_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(width=16, epochs=8, min_samples_per_epoch=64, patience=4),
    "fast": dict(width=64, epochs=60, min_samples_per_epoch=128, patience=15),
    "full": dict(width=128, epochs=150, min_samples_per_epoch=1024, batch_size=64, patience=30),
}


def cnn_preset(name: str) -> dict[str, Any]:
    """Constructor keywords of the preset ``name`` ("tiny", "fast" or "full")."""
    if name not in _PRESETS:
        raise ValueError(f"unknown classifier preset {name!r}; choose one of {', '.join(_PRESETS)}")
    return dict(_PRESETS[name])


# --------------------------------------------------------------------------------------------- networks
def _norm(channels: int) -> nn.GroupNorm:
    # Group norm, not batch norm: batches of 3 patches (1 label per class) and batch-size-free predictions.
    return nn.GroupNorm(min(8, channels), channels)


class BottleneckCNN(nn.Module):
    """1×1 spectral bottleneck (bands → width), two residual 3×3 spatial convs, centre + mean pooling."""

    def __init__(self, bands: int, n_classes: int, width: int, dropout: float) -> None:
        super().__init__()
        self.spectral = nn.Sequential(nn.Conv2d(bands, width, 1), _norm(width), nn.GELU())
        self.spatial = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), _norm(width), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), _norm(width), nn.GELU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[-1] // 2
        h = self.spectral(x)  # (N, W, p, p) per-pixel spectral features
        h = h + self.spatial(h)  # (N, W, p, p) residual, so the centre's own spectrum is never washed out
        feats = torch.cat([h[:, :, c, c], h.mean(dim=(2, 3))], dim=1)  # (N, 2W) centre + neighbourhood
        return self.head(feats)  # (N, K)


class Conv3DCNN(nn.Module):
    """Two strided 3-D convs over (band, row, col), then a 1×1 mix to width, one 3×3 conv, centre + mean."""

    def __init__(self, bands: int, n_classes: int, width: int, dropout: float) -> None:
        super().__init__()
        self.front = nn.Sequential(
            nn.Conv3d(1, 8, (9, 3, 3), stride=(4, 1, 1), padding=(4, 1, 1)), _norm(8), nn.GELU(),
            nn.Conv3d(8, 8, (5, 3, 3), stride=(2, 1, 1), padding=(2, 1, 1)), _norm(8), nn.GELU())
        depth = ((bands - 1) // 4 + 1 - 1) // 2 + 1  # spectral length after the two strided convs
        self.mix = nn.Sequential(nn.Conv2d(8 * depth, width, 1), _norm(width), nn.GELU())
        self.spatial = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), _norm(width), nn.GELU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        n, _, p, _ = x.shape
        c = p // 2
        h = self.front(x[:, None])  # (N, 8, D, p, p) local spectral-spatial features
        h = self.mix(h.reshape(n, -1, p, p))  # (N, W, p, p)
        h = h + self.spatial(h)  # (N, W, p, p)
        feats = torch.cat([h[:, :, c, c], h.mean(dim=(2, 3))], dim=1)  # (N, 2W)
        return self.head(feats)  # (N, K)


class SpectralSpatialTransformer(nn.Module):
    """Each pixel of the patch is a token (linear spectral embedding + position); 2 pre-norm encoder layers."""

    def __init__(self, bands: int, n_classes: int, width: int, dropout: float, patch_size: int) -> None:
        super().__init__()
        self.embed = nn.Linear(bands, width)
        self.position = nn.Parameter(torch.zeros(1, patch_size * patch_size, width))
        nn.init.trunc_normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=2 * width, dropout=0.1,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        n, b, p, _ = x.shape
        centre = (p // 2) * p + p // 2  # token index of the centre pixel
        tokens = self.embed(x.flatten(2).transpose(1, 2)) + self.position  # (N, p*p, W)
        h = self.norm(self.encoder(tokens))  # (N, p*p, W)
        feats = torch.cat([h[:, centre], h.mean(dim=1)], dim=1)  # (N, 2W)
        return self.head(feats)  # (N, K)


class PatchNet(nn.Module):
    """Per-band standardisation (fitted on the training patches, saved with the weights) + one body network."""

    def __init__(self, cfg: CNNConfig, bands: int, n_classes: int) -> None:
        super().__init__()
        self.register_buffer("band_mean", torch.zeros(bands))  # (B,)
        self.register_buffer("band_std", torch.ones(bands))  # (B,)
        body: nn.Module
        if cfg.arch == "bottleneck":
            body = BottleneckCNN(bands, n_classes, cfg.width, cfg.dropout)
        elif cfg.arch == "conv3d":
            body = Conv3DCNN(bands, n_classes, cfg.width, cfg.dropout)
        else:
            body = SpectralSpatialTransformer(bands, n_classes, cfg.width, cfg.dropout, cfg.patch_size)
        self.body = body

    def standardise(self, x: Tensor) -> Tensor:
        return (x - self.band_mean[:, None, None]) / self.band_std[:, None, None]  # (N, B, p, p)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(self.standardise(x))  # (N, K) logits


# ----------------------------------------------------------------------------------------- augmentation
def _mirror(x: Tensor, dim: int) -> Tensor:
    """Reflect the patch about its centre pixel ``p // 2`` along ``dim``.

    For odd p a plain flip does it; for even p a flip moves the centre by one, so roll it back
    (row 0, which has no mirror partner, stays in place) and the labelled pixel keeps its place.
    """
    out = x.flip(dim)
    return out.roll(1, dim) if x.shape[dim] % 2 == 0 else out


def _augment(x: Tensor, gen: torch.Generator, cfg: CNNConfig, band_std: Tensor) -> Tensor:
    """Label-preserving patch augmentation: the 8 flips/90° rotations, brightness scaling, band noise.

    Args:
        x: ``(N, B, p, p)`` raw training patches (not changed in place).
        gen: random generator on ``x``'s device.
        band_std: ``(B,)`` per-band standard deviation, the unit of the noise.
    """
    n = x.shape[0]
    x = x.clone()
    # (N, 3) booleans: transpose, mirror rows, mirror cols; together they give all 8 dihedral maps.
    choice = torch.rand(n, 3, generator=gen, device=x.device) < 0.5
    for k, op in enumerate((lambda t: t.transpose(2, 3), lambda t: _mirror(t, 2), lambda t: _mirror(t, 3))):
        sel = choice[:, k].nonzero().squeeze(1)  # (n_k,)
        x[sel] = op(x[sel])  # (n_k, B, p, p)
    if cfg.spectral_scale > 0:
        scale = 1.0 + cfg.spectral_scale * (2.0 * torch.rand(n, generator=gen, device=x.device) - 1.0)  # (N,)
        x = x * scale[:, None, None, None]  # illumination / slope
    if cfg.spectral_noise > 0:
        noise = torch.randn(x.shape, generator=gen, device=x.device)  # (N, B, p, p)
        x = x + cfg.spectral_noise * band_std[None, :, None, None] * noise
    return x


# ------------------------------------------------------------------------------------------- classifier
class SpectralSpatialCNN:
    """A compact spectral-spatial patch classifier that follows the :class:`~.base.Classifier` protocol.

    Real and synthetic patches are passed together; ``sample_weight`` says which is which (synthetic
    patches get a weight below 1, real ones the largest weight). Only samples at the largest weight
    count as real and may be held out for early stopping.

    Args:
        patch_size: side p of the ``(bands, p, p)`` patches it classifies.
        seed: seeds weights, the validation split, batch order and augmentation.
        device: "auto" (CUDA when present), "cpu" or "cuda".
        **options: any other :class:`CNNConfig` field (``epochs``, ``batch_size``, ``lr``,
            ``label_smoothing``, ``weight_decay``, ``val_fraction``, ``patience``, ``arch``, ...).
    """

    def __init__(self, patch_size: int = 9, *, seed: int = 0, device: str = "auto", **options: Any) -> None:
        known = {f.name for f in fields(CNNConfig)} - {"patch_size", "seed", "device"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown SpectralSpatialCNN option(s) {unknown}; valid ones: {sorted(known)}")
        self.config = CNNConfig(patch_size=int(patch_size), seed=int(seed), device=device, **options)
        self.patch_size = self.config.patch_size
        self.n_classes = 0  # set by fit
        self.n_bands = 0  # set by fit
        self.net: Optional[PatchNet] = None
        self.history: list[dict[str, float]] = []  # per epoch: epoch, train_loss, val_loss (NaN without validation)
        self.best_epoch = 0  # epochs the final weights were trained for
        self._predict_batch: Optional[int] = None  # patches per forward pass after the GPU ran short; None: config's

    # ---------------------------------------------------------------------------------------- fit
    def fit(self, samples: np.ndarray, labels: np.ndarray, *, sample_weight: Optional[np.ndarray] = None,
            real_count: Optional[int] = None, reporter: Reporter = NULL_REPORTER) -> "SpectralSpatialCNN":
        """Train on ``(N, B, p, p)`` patches with class indices ``(N,)`` in ``0..K-1``.

        Args:
            samples: float patches centred on the labelled pixels (real first or mixed with synthetic).
            labels: class index per patch; ``n_classes`` becomes ``labels.max() + 1``.
            sample_weight: ``(N,)`` non-negative loss weights (e.g. 1 real, 0.5 synthetic); weight 0
                drops a sample entirely. ``None`` = all real, weight 1.
            real_count: the first ``real_count`` samples are the real labels, the only ones early stopping holds
                out; None: those of the largest weight (a synthetic or pseudo-labelled part may weigh as much or
                more a patch, so callers that know say).
            reporter: gets ``progress(fraction, "classifier e/E")`` and ``check()`` every epoch.
        """
        cfg = self.config
        x, y, w = self._check_fit_input(samples, labels, sample_weight)
        n_classes = int(y.max()) + 1
        real = np.arange(len(y)) < real_count if real_count is not None else np.isclose(w, w.max())  # (N,)
        keep = w > 0  # weight-0 samples could only move the band statistics; dropping them ignores them fully
        x, y, w, real = x[keep], y[keep], w[keep], real[keep]
        if len(np.unique(y)) < 2:
            raise ValueError("the classifier needs labelled samples of at least two classes with a weight above 0; "
                             f"got only class {int(y[0])}")
        reporter.check()
        device = resolve_device(cfg.device)
        rng = np.random.default_rng(cfg.seed)
        val = self._validation_split(y, real, rng)
        mean, std = _band_statistics(x)
        xt = torch.from_numpy(x).to(device)  # (N, B, p, p) raw patches, standardised inside the net
        yt = torch.from_numpy(y).to(device)  # (N,)
        wt = torch.from_numpy(w).to(device)  # (N,)
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []), \
                repeatable_training(device):
            if val is None:
                net, self.history = self._train(xt, yt, wt, None, cfg.epochs, mean, std, n_classes, device,
                                                rng, reporter, (0.0, 1.0))
                self.best_epoch = cfg.epochs
            else:
                train = np.setdiff1d(np.arange(len(y)), val)
                net, self.history = self._train(xt[train], yt[train], wt[train], (xt[val], yt[val]), cfg.epochs,
                                                mean, std, n_classes, device, rng, reporter,
                                                (0.0, 0.5 if cfg.refit else 1.0))
                self.best_epoch = int(min(self.history, key=lambda h: h["val_loss"])["epoch"])
                if cfg.refit:  # the held-out labels are too precious to leave out of the final model
                    net, _ = self._train(xt, yt, wt, None, self.best_epoch, mean, std, n_classes, device, rng,
                                         reporter, (0.5, 1.0))
        net.eval()
        self.net, self.n_classes, self.n_bands = net, n_classes, int(x.shape[1])
        reporter.progress(1.0, "classifier done")
        return self

    def training_note(self) -> str:
        """One line for the run's report: how long the CNN trained and why."""
        cfg = self.config
        if not self.history:  # loaded from a bundle: the history is not saved
            return f"CNN: trained {self.best_epoch} epochs" if self.net is not None else "CNN: not trained"
        if not any(np.isfinite(h["val_loss"]) for h in self.history):
            why = ("early stopping off" if cfg.val_fraction <= 0 else
                   f"fixed: early stopping needs {cfg.min_labels_for_early_stopping} real labels in every class")
            return f"CNN: trained {self.best_epoch} epochs ({why})"
        return (f"CNN: early stopping on {cfg.val_fraction:.0%} of each class's real labels chose {self.best_epoch} "
                f"of {cfg.epochs} epochs" + ("; retrained on every label for that many" if cfg.refit else ""))

    def _train(self, x: Tensor, y: Tensor, w: Tensor, val: Optional[tuple[Tensor, Tensor]], epochs: int,
               mean: np.ndarray, std: np.ndarray, n_classes: int, device: torch.device, rng: np.random.Generator,
               reporter: Reporter, span: tuple[float, float]) -> tuple[PatchNet, list[dict[str, float]]]:
        """Train a fresh network for up to ``epochs``; with ``val``, stop early and return the best weights."""
        cfg = self.config
        torch.manual_seed(cfg.seed)  # the same initial weights for the validation run and the refit
        gen = torch.Generator(device=device).manual_seed(cfg.seed)  # augmentation draws
        net = PatchNet(cfg, x.shape[1], n_classes).to(device)
        net.band_mean.copy_(torch.from_numpy(mean))
        net.band_std.copy_(torch.from_numpy(std))
        w = _class_balance(y, w, n_classes) if cfg.class_balance else w  # (N,)
        per_epoch = max(len(y), cfg.min_samples_per_epoch)
        steps = math.ceil(per_epoch / cfg.batch_size)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        # The schedule always spans cfg.epochs, so a refit for best_epoch epochs retraces the validated run.
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps)
        history: list[dict[str, float]] = []
        best_loss, best_epoch, best_state = math.inf, 0, None
        for epoch in range(1, epochs + 1):
            reporter.check()
            net.train()
            order = np.concatenate([rng.permutation(len(y)) for _ in range(math.ceil(per_epoch / len(y)))])
            total, seen = 0.0, 0.0
            for s in range(steps):
                idx = torch.from_numpy(order[s * cfg.batch_size:(s + 1) * cfg.batch_size]).to(device)
                xb = _augment(x[idx], gen, cfg, net.band_std)  # (n, B, p, p)
                wb = w[idx]  # (n,)
                losses = F.cross_entropy(net(xb), y[idx], reduction="none",
                                         label_smoothing=cfg.label_smoothing)  # (n,)
                loss = (losses * wb).sum() / wb.sum().clamp_min(1e-12)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total, seen = total + loss.item() * len(idx), seen + len(idx)
            val_loss = self._validation_loss(net, val) if val is not None else math.nan
            history.append({"epoch": float(epoch), "train_loss": total / seen, "val_loss": val_loss})
            reporter.progress(span[0] + (span[1] - span[0]) * epoch / epochs, f"classifier {epoch}/{epochs}")
            if val is not None:
                if val_loss < best_loss:
                    best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(net.state_dict())
                elif epoch - best_epoch >= cfg.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        return net, history

    @staticmethod
    def _validation_loss(net: PatchNet, val: tuple[Tensor, Tensor]) -> float:
        net.eval()
        with torch.inference_mode():
            return float(F.cross_entropy(net(val[0]), val[1]))

    def _validation_split(self, y: np.ndarray, real: np.ndarray, rng: np.random.Generator) -> Optional[np.ndarray]:
        """Indices of a stratified held-out set of the *real* samples (``real``: (N,) bool), or ``None`` to train
        for fixed epochs.

        Early stopping needs ``min_labels_for_early_stopping`` real labels (20) in every class, so that at least
        4 per class are held out. With 5 per class one pixel per class was held out, and the best epoch of a loss
        on 6 pixels is noise: on SalinasA (5 labels per class, seed 4) it stopped at epoch 14 of 60. The refit
        then ran those 14 epochs at a learning rate the cosine schedule had barely lowered, and the CNN scored
        85.5 % of the test pixels, against 99.3 % for the same data trained the full 60 epochs (BENCHMARKS §4,
        session 10). Below the threshold, fixed epochs with label smoothing and augmentation are the safer choice.
        """
        if self.config.val_fraction <= 0:
            return None
        held: list[np.ndarray] = []
        for c in np.unique(y):
            members = np.flatnonzero(real & (y == c))
            if len(members) < self.config.min_labels_for_early_stopping:
                return None
            n_val = max(1, int(round(self.config.val_fraction * len(members))))
            held.append(rng.choice(members, size=n_val, replace=False))
        return np.sort(np.concatenate(held))

    def _check_fit_input(self, samples: np.ndarray, labels: np.ndarray, sample_weight: Optional[np.ndarray]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self._check_samples(samples)
        y = np.asarray(labels)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"labels must be (N,) = ({len(x)},) class indices; got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError("labels must be integer class indices 0..K-1 (map label-raster ids first)")
        y = y.astype(np.int64)
        if y.min() < 0:
            raise ValueError(f"labels must be class indices 0..K-1; got {int(y.min())}")
        if sample_weight is None:
            w = np.ones(len(y), np.float32)
        else:
            w = np.asarray(sample_weight, dtype=np.float32)
            if w.shape != y.shape:
                raise ValueError(f"sample_weight must be (N,) = ({len(y)},); got shape {w.shape}")
            if not np.all(np.isfinite(w)) or w.min() < 0:
                raise ValueError("sample_weight must be finite and non-negative")
            if w.max() <= 0:
                raise ValueError("every sample_weight is 0: at least one sample must count")
        return x, y, w

    def _check_samples(self, samples: np.ndarray, allow_empty: bool = False) -> np.ndarray:
        x = np.ascontiguousarray(samples, dtype=np.float32)
        p = self.patch_size
        if x.ndim != 4 or x.shape[2:] != (p, p) or (len(x) == 0 and not allow_empty):
            raise ValueError(f"samples must be a non-empty (N, bands, {p}, {p}) array for patch_size={p}; "
                             f"got shape {x.shape}")
        if self.net is not None and x.shape[1] != self.n_bands:
            raise ValueError(f"this classifier was trained on {self.n_bands} bands; the samples have {x.shape[1]}")
        if not np.all(np.isfinite(x)):
            raise ValueError("samples contain NaN or inf; mask nodata pixels before classifying")
        return x

    # ------------------------------------------------------------------------------------ predict
    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32 class probabilities for ``(N, B, p, p)`` patches.

        Where the GPU runs out of memory for a batch, the batch is halved and tried again (down to one patch), and
        the smaller size kept for the rest of this classifier's predictions: a whole scene's prediction comes after
        the training, and a run that failed there would lose its trained models."""
        net = self._fitted_net()
        x = self._check_samples(samples, allow_empty=True)
        device = next(net.parameters()).device
        out = np.empty((len(x), self.n_classes), dtype=np.float32)
        net.eval()
        start = 0
        with torch.inference_mode():
            while start < len(x):
                batch = self._predict_batch or self.config.predict_batch_size
                sl = slice(start, start + batch)
                try:
                    logits = net(torch.from_numpy(x[sl]).to(device))  # (n, K)
                except torch.OutOfMemoryError:
                    if batch == 1:
                        raise
                    self._predict_batch = max(batch // 2, 1)
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    log.warning("the GPU ran out of memory predicting %d patches at a time: predicting %d at a time",
                                batch, self._predict_batch)
                    continue
                out[sl] = torch.softmax(logits.float(), dim=1).cpu().numpy()
                start = sl.stop
        return out

    def predict(self, samples: np.ndarray) -> np.ndarray:
        """``(N,)`` most probable class index per patch."""
        return self.predict_proba(samples).argmax(axis=1)

    def _fitted_net(self) -> PatchNet:
        if self.net is None:
            raise RuntimeError("the classifier is not trained yet; call fit() (or from_tensors()) first")
        return self.net

    # -------------------------------------------------------------------------------- persistence
    def to_tensors(self) -> dict[str, Tensor]:
        """The weights and band statistics as CPU tensors (ready for ``safetensors.torch.save_file``)."""
        return {k: v.detach().cpu().clone().contiguous() for k, v in self._fitted_net().state_dict().items()}

    def config_dict(self) -> dict[str, Any]:
        """JSON-ready description: the config plus what fit learned about the data (bands, classes)."""
        self._fitted_net()
        return {"format": FORMAT, "engine_version": ENGINE_VERSION, **asdict(self.config),
                "n_bands": self.n_bands, "n_classes": self.n_classes, "best_epoch": self.best_epoch}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Tensor], config: dict[str, Any]) -> "SpectralSpatialCNN":
        """Rebuild a trained classifier from :meth:`to_tensors` and :meth:`config_dict` output."""
        if config.get("format") != FORMAT:
            raise ValueError(f"not a SpectralSpatialCNN config (format {config.get('format')!r}, expected {FORMAT!r})")
        known = {f.name for f in fields(CNNConfig)}
        options = {k: v for k, v in config.items() if k in known and k not in ("patch_size", "seed", "device")}
        device = str(config["device"])
        if device.startswith("cuda") and not torch.cuda.is_available():
            device = "auto"  # trained on a GPU, used where there is none
        clf = cls(int(config["patch_size"]), seed=int(config["seed"]), device=device, **options)
        clf.n_bands, clf.n_classes = int(config["n_bands"]), int(config["n_classes"])
        clf.best_epoch = int(config.get("best_epoch", 0))
        net = PatchNet(clf.config, clf.n_bands, clf.n_classes)
        try:
            net.load_state_dict({k: torch.as_tensor(v) for k, v in tensors.items()}, strict=True)
        except RuntimeError as err:
            raise ValueError(f"the saved classifier weights do not match its config: {err}") from err
        clf.net = net.to(resolve_device(clf.config.device)).eval()
        return clf


# ---------------------------------------------------------------------------------------------- helpers
def _band_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation over every pixel of every patch, ``(B,)`` float32 each."""
    pixels = x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1).astype(np.float64)  # (B, N*p*p)
    mean, std = pixels.mean(axis=1), pixels.std(axis=1)
    std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)  # constant bands pass through unscaled
    return mean.astype(np.float32), std.astype(np.float32)


def _class_balance(y: Tensor, w: Tensor, n_classes: int) -> Tensor:
    """``(N,)`` weights rescaled so every present class has the same total weight (same overall sum)."""
    per_class = torch.bincount(y, weights=w, minlength=n_classes)  # (K,) summed weight per class
    present = int((per_class > 0).sum())
    return w * (w.sum() / (present * per_class.clamp_min(1e-12)))[y]
