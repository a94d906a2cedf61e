"""Cross-attention dock: where in a synthesised patch each prompt word looked, per layer and timestep."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
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

from ..core.attention import MIN_SPAN, scale_ticks, times_label  # one scale rule for the dock and attention.png
from ..core.tokens import hidden_function_words, is_function_word, panel_words, word_tokens

ALL_LAYERS = -1  # layer selector value: the mean over layers
PANELS_PER_ROW = 8  # a long prompt's words wrap onto a second row rather than shrink to slivers
EMPTY_STATUS = "Preview a prompt to see where each word attends."  # before any preview or run
# What the dock's callers draw under the maps (plugin.rendering.composite_rgb's "false colour": R, G, B = the bands
# nearest 860, 650 and 550 nm, each stretched 2-98 % over the patches shown together): a caller drawing another
# composite passes its own caption.
PATCH_CAPTION = "synthetic patch\nfrom noise\nNIR · red · green"
PATCH_NOTE = ("Patch: from noise with the prompt (a run's start from labelled ones unless its anchor strength is "
              "1); R, G, B = NIR, red, green (vegetation red); the maps lie over its brightness in grey.")
ANCHORED_CAPTION = "synthetic patch\nfrom labels\nNIR · red · green"  # started as a run's (a longer line was cut)
ANCHORED_NOTE = ("Patch: from a labelled patch kept with the model, noised to the anchor strength (run dialog ▸ "
                 "Advanced) and denoised with the prompt, as a run makes them; R, G, B = NIR, red, green (vegetation "
                 "red); the maps lie over its brightness in grey.")
EVEN_WITHIN = 0.1  # every word's map within this share of its own mean: said to single out no part of the patch
TALL_ENOUGH_FOR_TICKS = 220  # px of the maps' canvas below which the colour bar gets 3 ticks, not up to 7 (overlapped)
# Said under the maps when the model's text encoder had no CLIP weights (its bundle's text_source "random-init …")
NO_CLIP_MAPS = ("No CLIP weights in this model: its text encoder learnt from your prompts and labels alone, so its "
                "words' maps say little (Raster ▸ HyperSynth ▸ Settings… sets the weights).")
RUN, PREVIEW = "run", "preview"  # the source selector's values


class AttentionDock(QgsDockWidget):
    """Heatmaps of cross-attention from latent positions to prompt words, one panel per word.

    Each map is shown against the even share (every token of the prompt attended alike, ``1/n`` of a position's
    attention): red where the word takes more, blue where less, pale or clear near even, on a scale of at least
    half to twice the even share, so the small differences of a word that attends everywhere alike do not pass for
    structure. A run's maps (one patch per class) and the last prompt preview's are both kept, picked by source.
    """

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("HyperSynth cross-attention", parent)
        self.setObjectName("HyperSynthAttentionDock")
        self._attention: Optional[np.ndarray] = None  # (layers, timesteps, T, L) after normalising
        self._tokens: list[str] = []  # the prompt's tokens, start/end included
        self._even = 1.0  # the even share of a position's attention: its total over the prompt's n tokens, / n
        self._n_tokens = 1  # n: the tokens attention is spread over (start/end included, masked padding not)
        self._latent_hw = (1, 1)
        self._patch_rgb: Optional[np.ndarray] = None
        self._patch_caption = PATCH_CAPTION
        self._timesteps: list[int] = []
        self.images: list = []  # the AxesImage of each word panel shown (for tests and export)
        self._choices: list[tuple[str, dict]] = []  # (class name, set_attention keywords) of a run's patches
        self._run_source = ""  # the run's title
        self._preview: Optional[dict[str, Any]] = None  # the last preview's set_attention keywords
        self._preview_source = ""
        self._source = ""  # what the maps shown come from, said in the status line
        self._text_source = ""  # the model's text encoder (its bundle's text_source): without CLIP, said
        self.closed_by_analyst = False  # closed with its X: a run fills it without opening it again (a preview does)

        body = QWidget()
        layout = QVBoxLayout(body)
        self.pick_row = QWidget()  # what to show: a run's class or the last preview; hidden while there is no choice
        pick = QHBoxLayout(self.pick_row)
        pick.setContentsMargins(0, 0, 0, 0)
        self.source_label = QLabel("Show")
        pick.addWidget(self.source_label)
        self.source_box = QComboBox()
        self.source_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.source_box.setMinimumContentsLength(24)  # a long run title is cut; its tooltip has it whole
        self.source_box.setToolTip("The run's patches (one per class) or the last prompt preview's patch")
        self.source_box.currentIndexChanged.connect(self._show_source)
        pick.addWidget(self.source_box)
        self.class_label = QLabel("Class")
        pick.addWidget(self.class_label)
        self.class_box = QComboBox()
        self.class_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.class_box.setToolTip("Whose synthetic patch and prompt to show")
        self.class_box.currentIndexChanged.connect(self._show_choice)
        pick.addWidget(self.class_box)
        pick.addStretch(1)
        layout.addWidget(self.pick_row)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        self.layer_box = QComboBox()
        self.layer_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.layer_box.currentIndexChanged.connect(self._render)
        controls.addWidget(self.layer_box)
        self.timestep_caption = QLabel("Timestep")
        controls.addWidget(self.timestep_caption)
        self.timestep_slider = QSlider(Qt.Horizontal)
        self.timestep_slider.setMinimum(0)
        self.timestep_slider.valueChanged.connect(self._render)
        controls.addWidget(self.timestep_slider, 1)
        self.timestep_label = QLabel("–")
        controls.addWidget(self.timestep_label)
        controls.addStretch(0)  # takes the slider's room while the slider is hidden
        self.overlay_box = QCheckBox("Over patch", checked=True)
        self.overlay_box.setToolTip("Draw the heatmaps over the patch's brightness (in grey, so its colours do not "
                                    "read as attention); where a word gets its even share the patch shows through")
        self.overlay_box.toggled.connect(self._render)
        controls.addWidget(self.overlay_box)
        self.function_box = QCheckBox("Function words")
        self.function_box.toggled.connect(self._render)
        controls.addWidget(self.function_box)
        layout.addLayout(controls)
        self.figure = Figure(figsize=(6, 2.4), dpi=90, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.mpl_connect("resize_event", self._resized)
        self._ticks_most = 0  # the colour bar's most ticks when last drawn: its height decides it
        layout.addWidget(self.canvas, 1)
        self.status = QLabel(EMPTY_STATUS)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.setWidget(body)
        self._set_controls_enabled(False)
        self._show_class_box(False)
        self._fill_source_box()
        self._show_timesteps(1)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.closed_by_analyst = True
        super().closeEvent(event)

    def setVisible(self, visible: bool) -> None:  # noqa: N802 (Qt's name; View ▸ Panels calls it too)
        if visible:
            self.closed_by_analyst = False  # opened again (View ▸ Panels, a preview): runs show it again
        super().setVisible(visible)

    def clear(self) -> None:
        """Back to the empty dock (the maps shown came from a project that was closed)."""
        self._attention, self._tokens, self._patch_rgb, self._timesteps = None, [], None, []
        self._choices, self._run_source, self._preview, self._preview_source = [], "", None, ""
        self._source = ""
        for box in (self.class_box, self.layer_box):
            box.blockSignals(True)
            box.clear()
            box.blockSignals(False)
        self._fill_source_box()
        self._show_class_box(False)
        self._set_controls_enabled(False)
        self._show_timesteps(1)
        self.timestep_label.setText("–")
        self.status.setText(EMPTY_STATUS)
        self._render()

    def _set_controls_enabled(self, on: bool) -> None:
        for w in (self.layer_box, self.timestep_slider, self.overlay_box, self.function_box):
            w.setEnabled(on)

    def _show_class_box(self, on: bool) -> None:
        self.class_label.setVisible(on)
        self.class_box.setVisible(on)
        self._show_pick_row()

    def _show_pick_row(self) -> None:
        self.pick_row.setVisible(not self.source_box.isHidden() or not self.class_box.isHidden())

    def _show_timesteps(self, count: int) -> None:
        """The slider only where there are timesteps to pick; one slice (the mean over the sampling steps, as a run
        records) is said in words instead."""
        several = count > 1
        self.timestep_caption.setVisible(several)
        self.timestep_slider.setVisible(several)
        self.timestep_slider.setEnabled(several)
        self.timestep_label.setToolTip("" if several else
                                       "One map per word was recorded: the attention averaged over all diffusion "
                                       "sampling steps, so there is no timestep to pick")

    # --- sources: a run's patches and the last preview ------------------------------------------------------------
    def _fill_source_box(self, select: Optional[str] = None) -> None:
        """List the sources held (the selector shows when there are two); select ``select`` (shows it)."""
        items = []
        if self._choices:
            items.append((f"run: {self._run_source}" if self._run_source else "run", RUN))
        if self._preview is not None:
            items.append((self._preview_source or "preview", PREVIEW))
        self.source_box.blockSignals(True)
        self.source_box.clear()
        for text, data in items:
            self.source_box.addItem(text, data)
            self.source_box.setItemData(self.source_box.count() - 1, text, Qt.ToolTipRole)
        index = self.source_box.findData(select)
        self.source_box.setCurrentIndex(max(index, 0))
        self.source_box.blockSignals(False)
        self.source_label.setVisible(len(items) > 1)
        self.source_box.setVisible(len(items) > 1)
        self._show_pick_row()
        if index >= 0:
            self._show_source(index)

    def source(self) -> Optional[str]:
        """Which source is shown: :data:`RUN`, :data:`PREVIEW` or None (nothing)."""
        return self.source_box.currentData()

    def set_source(self, source: str) -> None:
        """Show the run's maps (:data:`RUN`) or the last preview's (:data:`PREVIEW`)."""
        index = self.source_box.findData(source)
        if index < 0:
            raise ValueError(f"the dock holds no {source} attention")
        self.source_box.setCurrentIndex(index)

    def _show_source(self, index: int) -> None:
        source = self.source_box.itemData(index)
        layer = self.layer_box.currentData()
        if source == RUN:
            self._source = self._run_source
            self._show_class_box(True)
            self._show_choice(max(self.class_box.currentIndex(), 0))
        elif source == PREVIEW and self._preview is not None:
            self._source = self._preview_source
            self._show_class_box(False)
            self._set_attention(**self._preview)
        if layer is not None and self.layer_box.findData(layer) >= 0:  # keep the layer the user was looking at
            self.set_layer(layer)

    def set_class_choices(self, choices: Sequence[tuple[str, dict]], source: str = "") -> None:
        """Show one of several patches' attention, picked by class: a run's one synthetic patch per class.

        The last preview stays, a pick away in the source selector.

        Args:
            choices: ``(class name, set_attention keywords)`` per class, in the order the selector lists them.
            source: what they come from (the run's title), said in the selector and the status line.
        """
        if not choices:
            raise ValueError("no class attention to show")
        self._choices = [(str(name), dict(kwargs)) for name, kwargs in choices]
        self._run_source = source
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems([name for name, _ in self._choices])
        self.class_box.setCurrentIndex(0)
        self.class_box.blockSignals(False)
        self._fill_source_box(select=RUN)

    def set_class(self, name: str) -> None:
        """Show the patch of the class called ``name`` (one of :meth:`set_class_choices`')."""
        index = self.class_box.findText(name)
        if index < 0:
            raise ValueError(f"no attention for class {name!r}; the dock has "
                             + ", ".join(n for n, _ in self._choices))
        if self.source() != RUN:
            self.set_source(RUN)
        self.class_box.setCurrentIndex(index)

    def _show_choice(self, index: int) -> None:
        if 0 <= index < len(self._choices) and self.source() == RUN:
            layer = self.layer_box.currentData()
            self._set_attention(**self._choices[index][1])
            if self.layer_box.findData(layer) >= 0:  # keep the layer the user was looking at
                self.set_layer(layer)

    def set_text_source(self, source: str) -> None:
        """Where the maps' model got its text encoder (its bundle's ``text_source``; "" unknown): without CLIP weights
        (``random-init …``) the status line says its words' maps say little."""
        self._text_source = source
        if self._attention is not None:
            self._render()

    def set_attention(self, attention: np.ndarray, tokens: Sequence[str], latent_hw: tuple[int, int],
                      patch_rgb: Optional[np.ndarray] = None, timesteps: Optional[Sequence[int]] = None,
                      source: str = "", patch_caption: str = PATCH_CAPTION) -> None:
        """Show one patch's cross-attention maps (a prompt preview; see :meth:`_set_attention`); ``source`` is said
        in the source selector and the status line. A run's maps stay, a pick away in the source selector."""
        preview = {"attention": attention, "tokens": tokens, "latent_hw": latent_hw, "patch_rgb": patch_rgb,
                   "timesteps": timesteps, "patch_caption": patch_caption}
        self._normalised(attention, tokens, latent_hw, timesteps, patch_rgb)  # a refused preview changes nothing
        self._preview, self._preview_source = preview, source
        self._fill_source_box(select=PREVIEW)

    @staticmethod
    def _normalised(attention: np.ndarray, tokens: Sequence[str], latent_hw: tuple[int, int],
                    timesteps: Optional[Sequence[int]], patch_rgb: Optional[np.ndarray]) -> np.ndarray:
        """``attention`` as ``(layers, timesteps, T, L)``; ValueError when it does not fit the other arguments."""
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
        return att

    def _set_attention(self, attention: np.ndarray, tokens: Sequence[str], latent_hw: tuple[int, int],
                       patch_rgb: Optional[np.ndarray] = None, timesteps: Optional[Sequence[int]] = None,
                       patch_caption: str = PATCH_CAPTION) -> None:
        """Show cross-attention maps.

        Args:
            attention: ``(layers, T, L)`` or ``(layers, timesteps, T, L)``: weights from the ``L = h*w``
                latent positions to the ``T`` text tokens (``(.., L, T)`` is accepted too and recognised
                by its sizes).
            tokens: the ``T`` decoded tokens of the prompt (start/end/padding are skipped).
            latent_hw: ``(h, w)`` of the latent grid.
            patch_rgb: ``(p, p, 3)`` uint8 picture of the synthesised patch, shown under the heatmaps.
            timesteps: the diffusion timestep of each attention slice (labels for the slider).
            patch_caption: the patch panel's title: what the picture is (default: the false-colour composite the
                plugin draws).
        """
        att = self._normalised(attention, tokens, latent_hw, timesteps, patch_rgb)
        self._attention = att
        self._tokens = list(tokens)
        # the even share: a position's attention (1 after the softmax) spread alike over the tokens it can reach;
        # padding the model masked out gets none and is no such token
        reached = int((att > 0).any(axis=(0, 1, 3)).sum()) or att.shape[2]
        self._n_tokens = reached
        self._even = float(att.sum(axis=2).mean()) / reached or 1.0 / reached
        self._latent_hw = (int(latent_hw[0]), int(latent_hw[1]))
        self._patch_rgb = patch_rgb
        self._patch_caption = patch_caption
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
        self._show_timesteps(att.shape[1])
        self.overlay_box.setEnabled(patch_rgb is not None)
        function_words = self._function_words()
        self.function_box.setEnabled(bool(function_words) and len(function_words) < len(self._all_words()))
        self.function_box.setToolTip(
            f"Also show the maps of {', '.join(repr(w) for w in function_words)}, after the other words"
            if function_words else "The prompt has no function words ('of', 'a', 'the', 'in'…)")
        self._render()

    def set_layer(self, layer: int) -> None:
        """Show one layer (0-based) or :data:`ALL_LAYERS` for the mean."""
        self.layer_box.setCurrentIndex(self.layer_box.findData(layer))

    def set_timestep_index(self, index: int) -> None:
        self.timestep_slider.setValue(index)

    def _all_words(self) -> list[tuple[int, str]]:
        """Every word piece of the prompt, ``(index, word)`` in order."""
        return word_tokens(self._tokens, limit=None)

    def _function_words(self) -> list[str]:
        return [word for _, word in self._all_words() if is_function_word(word)]

    def _shown_words(self) -> list[tuple[int, str]]:
        """The words with a panel, content words first in prompt order, then the function words when ticked (or when
        the prompt has nothing else), as the report's figure has them (:func:`.core.tokens.panel_words`)."""
        return panel_words(self._tokens, function_words=self.function_box.isChecked())

    def word_maps(self) -> list[tuple[str, np.ndarray]]:
        """The ``(word, (h, w) map)`` pairs shown, in panel order, for the current layer and timestep."""
        if self._attention is None:
            return []
        layer = self.layer_box.currentData()
        step = self.timestep_slider.value()
        att = self._attention[:, step]  # (layers, T, L)
        att = att.mean(axis=0) if layer in (None, ALL_LAYERS) else att[int(layer)]  # (T, L)
        return [(word, att[index].reshape(self._latent_hw)) for index, word in self._shown_words()]

    def even_share(self) -> float:
        """The attention a word gets where the position attends to all ``n`` prompt tokens alike (about ``1/n``)."""
        return self._even

    def scale(self) -> tuple[float, float]:
        """The colour scale's ends, as multiples of :meth:`even_share` (``1/k``, ``k``; ``k`` at least
        :data:`MIN_SPAN`)."""
        images = self.images
        return (images[0].norm.vmin, images[0].norm.vmax) if images else (1 / MIN_SPAN, MIN_SPAN)

    def _most_ticks(self) -> int:
        return 7 if self.canvas.height() >= TALL_ENOUGH_FOR_TICKS else 3

    def _resized(self, _event: Any) -> None:
        """Drawn again when the dock's height takes the colour bar across :data:`TALL_ENOUGH_FOR_TICKS`."""
        if self._attention is not None and self._ticks_most and self._most_ticks() != self._ticks_most:
            self._render()

    def _render(self) -> None:
        self.figure.clear()
        self.images = []
        maps = self.word_maps()
        prefix = f"{self._source}: " if self._source else ""
        if not maps:
            if self._attention is not None:  # a prompt of punctuation or special tokens only: say so
                self.timestep_label.setText("–")
                self.status.setText(prefix + "the prompt has no words to show attention for (only punctuation or "
                                             "special tokens).")
            self.canvas.draw_idle()
            return
        step = self.timestep_slider.value()
        self.timestep_label.setText(f"t = {self._timesteps[step]}" if self._timesteps else "mean of all steps")
        size = self._patch_rgb.shape[0] if self._patch_rgb is not None else max(self._latent_hw) * 8
        heats = [zoom(m, (size / m.shape[0], size / m.shape[1]), order=1) for _, m in maps]  # (p, p) each
        # one scale for all words, in multiples of the even share, from 1/k to k on a log scale (twice and half as
        # strong as far from the middle); k at least MIN_SPAN, so maps within a few % of even stay pale
        ratios = [np.clip(hm / self._even, 1e-6, None) for hm in heats]  # (p, p) each
        low = min(float(r.min()) for r in ratios)
        high = max(float(r.max()) for r in ratios)
        span = max(MIN_SPAN, high, 1.0 / low)
        norm = LogNorm(vmin=1.0 / span, vmax=span)
        cmap = colormaps["RdBu_r"]
        overlay = self._patch_rgb is not None and self.overlay_box.isChecked()
        underlay = patch_underlay(self._patch_rgb) if overlay else None  # (p, p) grey under the maps
        panels = len(maps) + (1 if self._patch_rgb is not None else 0)
        cols = min(panels, PANELS_PER_ROW)
        axes = list(self.figure.subplots(-(-panels // cols), cols, squeeze=False).ravel())
        for spare in axes[panels:]:  # the last row's empty places
            spare.set_axis_off()
        axes = axes[:panels]
        if self._patch_rgb is not None:
            patch_ax = axes.pop(0)
            patch_ax.imshow(self._patch_rgb, interpolation="nearest")
            patch_ax.set_title(self._patch_caption, fontsize=7, style="italic")
            patch_ax.set_xticks([])
            patch_ax.set_yticks([])
        for ax, (word, _), ratio in zip(axes, maps, ratios):
            if overlay:  # the patch shows through where the word gets its even share; colour grows with the gap
                ax.imshow(underlay, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                alpha = np.clip(np.abs(np.log(ratio)) / np.log(span), 0.0, 1.0) * 0.8 + 0.1
            else:
                alpha = None
            image = ax.imshow(ratio, cmap=cmap, norm=norm, alpha=alpha, interpolation="bilinear")
            self.images.append(image)
            ax.set_title(word, fontsize=9, color="0.35" if is_function_word(word) else "black",
                         style="italic" if is_function_word(word) else "normal")
            ax.set_xticks([])
            ax.set_yticks([])
        self._ticks_most = self._most_ticks()
        ticks = scale_ticks(span, self._ticks_most)
        bar = self.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8, ticks=ticks,
                                   extend="min" if low < 1.0 / span else "neither")
        bar.ax.set_yticklabels([times_label(t) for t in ticks])
        bar.ax.minorticks_off()
        bar.set_label(f"× even share (1/{self._n_tokens})", fontsize=8)
        hidden = hidden_function_words(self._tokens, self._shown_words())
        share_low = min(float(r.min()) for r in ratios)
        words = f"{len(maps)} word piece{'s' if len(maps) != 1 else ''} (the prompt as the text encoder splits it"
        words += f"; function words not shown: {', '.join(hidden)})" if hidden else ")"
        text = (prefix + f"{words}. Red: more attention than the even share 1/{self._n_tokens} = {self._even:.3f} "
                "(n counts the prompt's start and end markers too), "
                f"blue: less; here {share_low:.2f}–{high:.2f}×.")
        flat = [(1 - EVEN_WITHIN) * float(r.mean()) <= float(r.min()) and float(r.max()) <= (1 + EVEN_WITHIN)
                * float(r.mean()) for r in ratios]  # whatever its level: a word at half its share everywhere too
        if all(flat):
            text += (f" No word singles out a part of the patch: each word's map stays within {EVEN_WITHIN:.0%} of "
                     "its own mean across it.")
        notes = {PATCH_CAPTION: PATCH_NOTE, ANCHORED_CAPTION: ANCHORED_NOTE}  # a caller's own caption: its own words
        if self._patch_rgb is not None and self._patch_caption in notes:
            text += " " + notes[self._patch_caption]
        if self._text_source.startswith("random-init"):
            text += " " + NO_CLIP_MAPS
        self.status.setText(text)
        self.canvas.draw_idle()


def patch_underlay(rgb: np.ndarray) -> np.ndarray:
    """``(p, p)`` grey in 0.45..0.95 from a ``(p, p, 3)`` uint8 patch picture: its brightness under the attention
    maps. The false colours themselves (vegetation red in NIR · red · green) read as the maps' red, and a dark water
    patch made them dark squares (review)."""
    luminance = np.asarray(rgb, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0  # (p, p)
    return 0.45 + 0.5 * luminance
