"""Cross-attention dock: where in a synthesised patch each prompt word looked, per layer and timestep."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)
from scipy.ndimage import zoom

from ..core.tokens import word_tokens

ALL_LAYERS = -1  # layer selector value: the mean over layers
PANELS_PER_ROW = 7  # a long prompt's words wrap onto a second row rather than shrink to slivers
EMPTY_STATUS = "Preview a prompt to see where each word attends."  # before any preview or run


class AttentionDock(QgsDockWidget):
    """Heatmaps of cross-attention from latent positions to prompt words, one panel per word."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("HyperSynth cross-attention", parent)
        self.setObjectName("HyperSynthAttentionDock")
        self._attention: Optional[np.ndarray] = None  # (layers, timesteps, T, L) after normalising
        self._words: list[tuple[int, str]] = []
        self._latent_hw = (1, 1)
        self._patch_rgb: Optional[np.ndarray] = None
        self._timesteps: list[int] = []
        self.images: list = []  # the AxesImage of each word panel (for tests and export)
        self._choices: list[tuple[str, dict]] = []  # (class name, set_attention keywords) of a run's patches
        self._source = ""  # what the maps come from, said in the status line

        body = QWidget()
        layout = QVBoxLayout(body)
        controls = QHBoxLayout()
        self.class_label = QLabel("Class")
        controls.addWidget(self.class_label)
        self.class_box = QComboBox()
        self.class_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.class_box.setToolTip("Whose synthetic patch and prompt to show")
        self.class_box.currentIndexChanged.connect(self._show_choice)
        controls.addWidget(self.class_box)
        controls.addWidget(QLabel("Layer"))
        self.layer_box = QComboBox()
        self.layer_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.layer_box.currentIndexChanged.connect(self._render)
        controls.addWidget(self.layer_box)
        controls.addWidget(QLabel("Timestep"))
        self.timestep_slider = QSlider(Qt.Horizontal)
        self.timestep_slider.setMinimum(0)
        self.timestep_slider.valueChanged.connect(self._render)
        controls.addWidget(self.timestep_slider, 1)
        self.timestep_label = QLabel("–")
        self.timestep_label.setMinimumWidth(60)
        controls.addWidget(self.timestep_label)
        self.overlay_box = QCheckBox("Over patch", checked=True)
        self.overlay_box.setToolTip("Draw the heatmaps over the patch's false-colour picture")
        self.overlay_box.toggled.connect(self._render)
        controls.addWidget(self.overlay_box)
        layout.addLayout(controls)
        self.figure = Figure(figsize=(6, 2.4), dpi=90, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        layout.addWidget(self.canvas, 1)
        self.status = QLabel(EMPTY_STATUS)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.setWidget(body)
        self._set_controls_enabled(False)
        self._show_class_box(False)

    def clear(self) -> None:
        """Back to the empty dock (the maps shown came from a project that was closed)."""
        self._attention, self._words, self._patch_rgb, self._timesteps = None, [], None, []
        self._choices, self._source = [], ""
        for box in (self.class_box, self.layer_box):
            box.blockSignals(True)
            box.clear()
            box.blockSignals(False)
        self._show_class_box(False)
        self._set_controls_enabled(False)
        self.timestep_label.setText("–")
        self.status.setText(EMPTY_STATUS)
        self._render()

    def _set_controls_enabled(self, on: bool) -> None:
        for w in (self.layer_box, self.timestep_slider, self.overlay_box):
            w.setEnabled(on)

    def _show_class_box(self, on: bool) -> None:
        self.class_label.setVisible(on)
        self.class_box.setVisible(on)

    def set_class_choices(self, choices: Sequence[tuple[str, dict]], source: str = "") -> None:
        """Show one of several patches' attention, picked by class: a run's one synthetic patch per class.

        Args:
            choices: ``(class name, set_attention keywords)`` per class, in the order the selector lists them.
            source: what they come from (the run's title), said in the status line.
        """
        if not choices:
            raise ValueError("no class attention to show")
        self._choices = [(str(name), dict(kwargs)) for name, kwargs in choices]
        self._source = source
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems([name for name, _ in self._choices])
        self.class_box.setCurrentIndex(0)
        self.class_box.blockSignals(False)
        self._show_class_box(True)
        self._show_choice(0)

    def set_class(self, name: str) -> None:
        """Show the patch of the class called ``name`` (one of :meth:`set_class_choices`')."""
        index = self.class_box.findText(name)
        if index < 0:
            raise ValueError(f"no attention for class {name!r}; the dock has "
                             + ", ".join(n for n, _ in self._choices))
        self.class_box.setCurrentIndex(index)

    def _show_choice(self, index: int) -> None:
        if 0 <= index < len(self._choices):
            layer = self.layer_box.currentData()
            self._set_attention(**self._choices[index][1])
            if self.layer_box.findData(layer) >= 0:  # keep the layer the user was looking at
                self.set_layer(layer)

    def set_attention(self, attention: np.ndarray, tokens: Sequence[str], latent_hw: tuple[int, int],
                      patch_rgb: Optional[np.ndarray] = None, timesteps: Optional[Sequence[int]] = None,
                      source: str = "") -> None:
        """Show one patch's cross-attention maps (a prompt preview); ``source`` is said in the status line."""
        self._choices = []
        self._source = source
        self._show_class_box(False)
        self._set_attention(attention, tokens, latent_hw, patch_rgb, timesteps)

    def _set_attention(self, attention: np.ndarray, tokens: Sequence[str], latent_hw: tuple[int, int],
                       patch_rgb: Optional[np.ndarray] = None, timesteps: Optional[Sequence[int]] = None) -> None:
        """Show cross-attention maps.

        Args:
            attention: ``(layers, T, L)`` or ``(layers, timesteps, T, L)``: weights from the ``L = h*w``
                latent positions to the ``T`` text tokens (``(.., L, T)`` is accepted too and recognised
                by its sizes).
            tokens: the ``T`` decoded tokens of the prompt (start/end/padding are skipped).
            latent_hw: ``(h, w)`` of the latent grid.
            patch_rgb: ``(p, p, 3)`` uint8 picture of the synthesised patch, shown under the heatmaps.
            timesteps: the diffusion timestep of each attention slice (labels for the slider).
        """
        att = np.asarray(attention, dtype=np.float64)
        if att.ndim == 3:
            att = att[:, None]  # (layers, 1, ., .)
        if att.ndim != 4:
            raise ValueError(f"attention must be (layers, T, L) or (layers, timesteps, T, L); got {att.shape}")
        h, w = int(latent_hw[0]), int(latent_hw[1])
        n_tokens, n_latent = len(tokens), h * w
        if att.shape[2:] == (n_tokens, n_latent):
            pass
        elif att.shape[2:] == (n_latent, n_tokens):
            att = att.swapaxes(2, 3)  # (layers, timesteps, T, L)
        else:
            raise ValueError(f"attention {tuple(np.asarray(attention).shape)} does not match {n_tokens} tokens and "
                             f"a {h}x{w} latent grid")
        if timesteps is not None and len(timesteps) != att.shape[1]:
            raise ValueError(f"{len(timesteps)} timestep labels for {att.shape[1]} attention timesteps")
        if patch_rgb is not None and (patch_rgb.ndim != 3 or patch_rgb.shape[2] != 3):
            raise ValueError(f"patch_rgb must be (p, p, 3); got {patch_rgb.shape}")
        self._attention = att
        self._words = word_tokens(tokens)
        self._latent_hw = (h, w)
        self._patch_rgb = patch_rgb
        # no labels: the slices are steps in sampling order, or (one slice) the mean over all steps, as synthesize gives
        self._timesteps = list(timesteps) if timesteps is not None else (
            [] if att.shape[1] == 1 else list(range(att.shape[1])))

        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItem("Mean of layers", ALL_LAYERS)
        for i in range(att.shape[0]):
            self.layer_box.addItem(f"Layer {i + 1}", i)
        self.layer_box.blockSignals(False)
        self.timestep_slider.blockSignals(True)
        self.timestep_slider.setMaximum(att.shape[1] - 1)
        self.timestep_slider.setValue(att.shape[1] - 1)
        self.timestep_slider.blockSignals(False)
        self._set_controls_enabled(True)
        self.timestep_slider.setEnabled(att.shape[1] > 1)
        self.overlay_box.setEnabled(patch_rgb is not None)
        self._render()

    def set_layer(self, layer: int) -> None:
        """Show one layer (0-based) or :data:`ALL_LAYERS` for the mean."""
        self.layer_box.setCurrentIndex(self.layer_box.findData(layer))

    def set_timestep_index(self, index: int) -> None:
        self.timestep_slider.setValue(index)

    def word_maps(self) -> list[tuple[str, np.ndarray]]:
        """The ``(word, (h, w) map)`` pairs for the current layer and timestep."""
        if self._attention is None:
            return []
        layer = self.layer_box.currentData()
        step = self.timestep_slider.value()
        att = self._attention[:, step]  # (layers, T, L)
        att = att.mean(axis=0) if layer in (None, ALL_LAYERS) else att[int(layer)]  # (T, L)
        return [(word, att[index].reshape(self._latent_hw)) for index, word in self._words]

    def _render(self) -> None:
        self.figure.clear()
        self.images = []
        maps = self.word_maps()
        if not maps:
            if self._attention is not None:  # a prompt of punctuation or special tokens only: say so
                self.timestep_label.setText("–")
                self.status.setText((f"{self._source}: " if self._source else "")
                                    + "the prompt has no words to show attention for (only punctuation or special "
                                      "tokens).")
            self.canvas.draw_idle()
            return
        step = self.timestep_slider.value()
        self.timestep_label.setText(f"t = {self._timesteps[step]}" if self._timesteps else "mean of steps")
        size = self._patch_rgb.shape[0] if self._patch_rgb is not None else max(self._latent_hw) * 8
        heats = [zoom(m, (size / m.shape[0], size / m.shape[1]), order=1) for _, m in maps]  # (p, p) each
        # one scale for all words, from the least to the most attended place: the words' shares are close (each
        # position's attention sums to 1 over the prompt), so a scale from 0 would paint every map the same
        vmin = min(float(hm.min()) for hm in heats)
        vmax = max(max(float(hm.max()) for hm in heats), vmin + 1e-6)
        overlay = self._patch_rgb is not None and self.overlay_box.isChecked()
        panels = len(maps) + (1 if self._patch_rgb is not None else 0)
        cols = min(panels, PANELS_PER_ROW)
        axes = list(self.figure.subplots(-(-panels // cols), cols, squeeze=False).ravel())
        for spare in axes[panels:]:  # the last row's empty places
            spare.set_axis_off()
        axes = axes[:panels]
        if self._patch_rgb is not None:
            patch_ax = axes.pop(0)
            patch_ax.imshow(self._patch_rgb, interpolation="nearest")
            patch_ax.set_title("patch", fontsize=9, style="italic")
            patch_ax.set_xticks([])
            patch_ax.set_yticks([])
        for ax, (word, _), heat in zip(axes, maps, heats):
            if overlay:
                ax.imshow(self._patch_rgb, interpolation="nearest")
            image = ax.imshow(heat, cmap="magma", vmin=vmin, vmax=vmax, alpha=0.65 if overlay else 1.0,
                              interpolation="bilinear")
            self.images.append(image)
            ax.set_title(word, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        self.figure.colorbar(self.images[-1], ax=axes, shrink=0.8, label="attention")
        self.status.setText((f"{self._source}: " if self._source else "")
                            + f"{len(maps)} prompt words; brighter = the word attends there more.")
        self.canvas.draw_idle()
