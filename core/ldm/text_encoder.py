"""The CLIP text tower (open_clip) that turns class prompts into per-token embeddings, loaded without network."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import open_clip
import torch
from open_clip.transformer import QuickGELU, TextTransformer
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from ..tokens import END, START
from .config import TextConfig

LOG = logging.getLogger("hypersynth")

PRETRAINED_TAG = "openai"  # the weights the paper starts from
CHECKPOINT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")  # open_clip hf-hub names
MISSING_WEIGHTS = "No CLIP "  # how the warning that no pretrained text tower was found begins (the CLI says it early)
# what to do about it, wherever the run was started
GIVE_WEIGHTS = ("Give the CLIP weights file (the plugin's HyperSynth settings, --clip-weights on the command line) or "
                "put the open_clip checkpoint in the Hugging Face cache to use the pretrained tower.")


def takes_clip_weights(cfg: TextConfig) -> bool:
    """Whether a tower of ``cfg`` is one CLIP's pretrained weights fit and are meant for (not the small test tower)."""
    return cfg.model != "tiny" and cfg.use_pretrained


class TextEncoder(nn.Module):
    """Per-token prompt embeddings from the open_clip text transformer (before pooling and projection).

    Weights: ``cfg.weights_path`` when given (it must exist), else the pretrained 'openai' checkpoint if
    it is already in the Hugging Face cache; never downloaded. Without them, one warning is logged and a
    randomly initialised tower of the same shape is used and marked :attr:`trainable` (so it learns jointly
    with the denoiser) unless ``cfg.train_random_tower`` is off; likewise, without a warning, when
    ``cfg.use_pretrained`` is off. A pretrained tower is trainable only with ``cfg.finetune``.
    ``cfg.model == "tiny"`` builds a small random tower for tests (or loads ``cfg.weights_path``). Only the
    text tower is built and only its tensors are read from a checkpoint (the vision tower is never loaded).

    While the tower is frozen (not :attr:`trainable`), embeddings of each prompt are cached.
    """

    def __init__(self, cfg: TextConfig, *, load_weights: bool = True, seed: Optional[int] = None) -> None:
        """
        Args:
            cfg: which tower and where its weights are.
            load_weights: False builds the architecture only (random init, no look-up, no warning), for a
                caller that loads a state dict next, e.g. a saved model bundle.
            seed: seeds the random initialisation (None: torch's global generator).
        """
        super().__init__()
        self.cfg = cfg
        self.tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=cfg.context_length)
        found, looked = (None, "")
        if load_weights and not cfg.weights_path and takes_clip_weights(cfg):
            found, looked = self.find_cached_weights(cfg.model)
            if found is None and cfg.fallback == "compact":
                # A random 63M-parameter ViT-B-32 tower brings no language knowledge, costs CPU time and
                # 250 MB per bundle; a small tower trained jointly is the honest, cheap fallback.
                LOG.warning(
                    "No CLIP %s text-tower weights found (looked for %s; nothing is downloaded). Using a small "
                    "randomly initialised text tower (width %d, %d layers) trained jointly with the diffusion "
                    "model; prompts carry no prior language knowledge. " + GIVE_WEIGHTS,
                    cfg.model, looked, cfg.compact_width, cfg.compact_layers)
                # Recorded in the config itself, so a saved bundle rebuilds the same architecture.
                cfg.model, cfg.use_pretrained, cfg.train_random_tower = "tiny", False, True
                cfg.tiny_width, cfg.tiny_layers, cfg.tiny_heads = cfg.compact_width, cfg.compact_layers, cfg.compact_heads
                self._fallback_note = f"random-init compact tower trained jointly (no CLIP weights found: looked for {looked})"
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.tower = self._build_tower(cfg)
        self._cache: dict[str, torch.Tensor] = {}
        self._cut: set[str] = set()  # prompts already said to be longer than the encoder reads
        if getattr(self, "_fallback_note", None):
            self._source, trainable = self._fallback_note, True
        elif not load_weights:
            self._source, trainable = "architecture only (weights to be loaded by the caller)", cfg.finetune
        elif cfg.weights_path:
            path = self._given_weights(cfg.weights_path)
            self.load_weights_file(path)
            self._source, trainable = f"pretrained:{path}", cfg.finetune
        elif cfg.model == "tiny":
            self._source, trainable = "random-init (tiny test tower)", cfg.train_random_tower
        elif not cfg.use_pretrained:
            self._source, trainable = "random-init (use_pretrained is off)", cfg.train_random_tower
        else:
            path = found
            if path is None:
                how = ("trained jointly with the diffusion model" if cfg.train_random_tower
                       else "kept frozen (fixed random prompt codes)")
                LOG.warning(
                    "No CLIP %s text-tower weights found (looked for %s; nothing is downloaded). Using a "
                    "randomly initialised text tower %s; prompts carry no prior language knowledge. "
                    + GIVE_WEIGHTS, cfg.model, looked, how)
                self._source = f"random-init (no CLIP weights found: looked for {looked})"
                trainable = cfg.train_random_tower
            else:
                self.load_weights_file(path)
                self._source, trainable = f"{PRETRAINED_TAG}-pretrained:{path}", cfg.finetune
        self.trainable = False
        self.set_trainable(trainable)

    @staticmethod
    def _build_tower(cfg: TextConfig) -> TextTransformer:
        """The open_clip text transformer with the shapes of ``cfg.model`` (no projection head)."""
        if cfg.model == "tiny":
            return TextTransformer(context_length=cfg.context_length, width=cfg.tiny_width, heads=cfg.tiny_heads,
                                   layers=cfg.tiny_layers, output_dim=None, proj_type="none")
        model_cfg = open_clip.get_model_config(cfg.model)
        if model_cfg is None or "text_cfg" not in model_cfg:
            raise ValueError(f"unknown open_clip model {cfg.model!r}; use 'ViT-B-32' or 'tiny'")
        text_cfg = model_cfg["text_cfg"]
        if text_cfg.get("hf_model_name"):
            raise ValueError(f"open_clip model {cfg.model!r} uses a Hugging Face text tower; use 'ViT-B-32'")
        quick_gelu = bool(open_clip.get_pretrained_cfg(cfg.model, PRETRAINED_TAG).get("quick_gelu", False))
        return TextTransformer(
            context_length=text_cfg.get("context_length", 77), vocab_size=text_cfg.get("vocab_size", 49408),
            width=text_cfg.get("width", 512), heads=text_cfg.get("heads", 8), layers=text_cfg.get("layers", 12),
            mlp_ratio=text_cfg.get("mlp_ratio", 4.0), output_dim=None, proj_type="none",
            act_layer=QuickGELU if quick_gelu else nn.GELU)

    @staticmethod
    def _given_weights(weights_path: str) -> Path:
        """The checked path of a user-given checkpoint."""
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise ValueError(f"text weights_path {str(path)!r} does not exist; fix the path or leave it empty "
                             "to look in the Hugging Face cache")
        return path

    @staticmethod
    def find_cached_weights(model: str) -> tuple[Optional[Path], str]:
        """``(pretrained checkpoint in the Hugging Face cache or None, what was looked for)``; never downloads."""
        hub = open_clip.get_pretrained_cfg(model, PRETRAINED_TAG).get("hf_hub", "").strip("/")
        if not hub:
            return None, f"a {PRETRAINED_TAG} checkpoint of {model} (open_clip lists none)"
        from huggingface_hub import try_to_load_from_cache  # a cache look-up only

        for filename in CHECKPOINT_FILES:
            found = try_to_load_from_cache(hub, filename)
            if isinstance(found, str) and Path(found).is_file():
                return Path(found), f"{hub}/{filename}"
        return None, f"{' or '.join(CHECKPOINT_FILES)} of {hub} in the Hugging Face cache"

    def load_weights_file(self, path: str | Path) -> None:
        """Load the text-tower tensors of a CLIP checkpoint (.safetensors, or .bin read with weights_only).

        The file may hold a whole open_clip CLIP model (``visual.*`` keys are skipped, not read) or only
        the text tower's keys. Raises ValueError naming missing keys or shape mismatches.
        """
        path = Path(path)
        wanted = self.tower.state_dict()
        tensors = _text_tensors(path, set(wanted), shapes_only=False)
        _check_text_tensors(path, self.cfg.model, {k: tuple(v.shape) for k, v in tensors.items()},
                            {k: tuple(v.shape) for k, v in wanted.items()})
        self.tower.load_state_dict(tensors, strict=True)
        self.clear_cache()

    @property
    def source(self) -> str:
        """Where the weights came from, e.g. ``"openai-pretrained:/path"`` or ``"random-init (…)"``."""
        return self._source

    @source.setter
    def source(self, value: str) -> None:
        self._source = value

    @property
    def width(self) -> int:
        """D, the size of each token embedding."""
        return int(self.tower.width)

    def set_trainable(self, trainable: bool) -> None:
        """Freeze (cached embeddings) or unfreeze (no cache) the tower."""
        self.trainable = bool(trainable)
        self.tower.requires_grad_(self.trainable)
        self.clear_cache()

    def clear_cache(self) -> None:
        """Forget cached prompt embeddings (after the weights changed)."""
        self._cache.clear()

    def _token_ids(self, prompt: str) -> list[int]:
        """Token ids of one prompt, start and end included, truncated to ``cfg.context_length``."""
        ids = self.tokenizer([prompt])[0].tolist()  # (context_length,) zero-padded, end token last if cut
        return ids[:ids.index(self.tokenizer.eot_token_id) + 1]

    def say_if_cut(self, prompt: str) -> None:
        """Warn, once a prompt, when ``prompt`` (one the analyst wrote) is longer than the tower reads: the words past
        its context change nothing, which the prompt's files and the report, keeping the whole text, do not show."""
        whole = len(self.tokenizer.encode(prompt)) + 2  # start and end included, uncut
        ids = self._token_ids(prompt)
        if whole > len(ids) and prompt not in self._cut:
            self._cut.add(prompt)
            kept = self.tokenizer.decode(ids[1:-1]).strip()  # what the tower reads, as text
            LOG.warning("the prompt '%s' is %d word pieces, more than the %d this text encoder reads (start and end "
                        "included): it reads '%s' and not the rest; shorten the prompt to what tells the class apart",
                        prompt, whole, self.cfg.context_length, kept)

    def tokens(self, prompt: str) -> list[str]:
        """The word pieces of ``prompt``, one per unmasked position of :meth:`encode` (``<start>`` … ``<end>``)."""
        pieces = []
        for i in self._token_ids(prompt):
            if i == self.tokenizer.sot_token_id:
                pieces.append(START)
            elif i == self.tokenizer.eot_token_id:
                pieces.append(END)
            else:
                raw = self.tokenizer.decoder[i]
                text = bytearray([self.tokenizer.byte_decoder[ch] for ch in raw]).decode("utf-8", errors="replace")
                pieces.append(text.replace("</w>", ""))
        return pieces

    def _run_tower(self, prompts: list[str]) -> list[torch.Tensor]:
        """Per-prompt ``(L_i, D)`` embeddings after the final LayerNorm."""
        device = self.tower.token_embedding.weight.device
        ids = [self._token_ids(p) for p in prompts]
        length = max(len(i) for i in ids)
        batch = torch.zeros(len(ids), length, dtype=torch.long, device=device)  # (n, L) zero = padding
        for row, i in enumerate(ids):
            batch[row, :len(i)] = torch.tensor(i, device=device)
        # The causal mask lets a token see only earlier ones, so cutting the padding changes nothing.
        x = self.tower.token_embedding(batch) + self.tower.positional_embedding[:length]  # (n, L, D)
        attn_mask = self.tower.attn_mask[:length, :length] if self.tower.attn_mask is not None else None
        x = self.tower.transformer(x, attn_mask=attn_mask)  # (n, L, D)
        x = self.tower.ln_final(x)  # (n, L, D)
        return [x[row, :len(i)] for row, i in enumerate(ids)]

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed prompts.

        Args:
            prompts: N strings ("" is the null prompt: just start and end tokens).

        Returns:
            ``(tokens (N, L, D) float, mask (N, L) bool)`` where L is the longest prompt's token count;
            positions past a prompt's end token are zeros with mask False. Each distinct prompt runs
            through the tower once per call.
        """
        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise ValueError("encode expects a list of prompt strings")
        if len(prompts) == 0:
            raise ValueError("encode needs at least one prompt")
        device = self.tower.token_embedding.weight.device
        unique = list(dict.fromkeys(prompts))
        if self.trainable:
            found = dict(zip(unique, self._run_tower(unique)))
        else:
            todo = [p for p in unique if p not in self._cache]
            with torch.no_grad():  # one prompt a pass: its embedding never depends on which prompts shared its batch
                for p in todo:  # (float rounding does), so a run is bit-identical whichever step encoded it first
                    self._cache[p] = self._run_tower([p])[0].detach()
            found = {p: self._cache[p].to(device) for p in unique}
        # Pad the U distinct prompts once, then index them per prompt: a batch repeats a few prompts many times,
        # and padding each of its N rows on its own cost N small kernel launches a step on a GPU.
        table = pad_sequence([found[p] for p in unique], batch_first=True)  # (U, L, D), zeros past each end
        lengths = torch.tensor([found[p].shape[0] for p in unique], device=device)  # (U,)
        position = {p: i for i, p in enumerate(unique)}
        index = torch.tensor([position[p] for p in prompts], device=device)  # (N,)
        mask = torch.arange(table.shape[1], device=device)[None, :] < lengths[index][:, None]  # (N, L)
        return table[index], mask  # (N, L, D), (N, L)

    def forward(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Same as :meth:`encode`."""
        return self.encode(prompts)


def check_clip_weights(path: str | Path, model: str = "ViT-B-32") -> None:
    """Refuse, before any training, a file that is no ``model`` CLIP checkpoint: a wrong file would otherwise be found
    only when the synthesis model's text encoder is built, after the VAE has trained. Reads the tensors' names and
    shapes (a .safetensors header; a .bin memory-mapped), builds the tower on the meta device (no memory).

    Raises:
        ValueError: the file is missing, unreadable as a checkpoint, lacks a text-tower tensor or has one of another
            shape (as :meth:`TextEncoder.load_weights_file` says).
    """
    path = Path(path).expanduser()
    give = f"give the open_clip {model} checkpoint ({' or '.join(CHECKPOINT_FILES)})"
    if path.is_dir():
        raise ValueError(f"the CLIP weights file {path} is a folder; {give} in it")
    if not path.is_file():
        raise ValueError(f"the CLIP weights file {path} does not exist; {give}")
    with torch.device("meta"):
        tower = TextEncoder._build_tower(TextConfig(model=model))
    wanted = {k: tuple(v.shape) for k, v in tower.state_dict().items()}
    try:
        found = _text_tensors(path, set(wanted), shapes_only=True)
    except ValueError:
        raise
    except Exception as exc:  # safetensors' or torch's own errors for a file of another kind: their kind is enough
        kind = "no safetensors header" if path.suffix == ".safetensors" else "not a PyTorch state-dict archive"
        raise ValueError(f"{path} is not a CLIP checkpoint HyperSynth can read ({kind}: {type(exc).__name__}); "
                         f"{give}") from None
    _check_text_tensors(path, model, found, wanted)


def _text_tensors(path: Path, wanted: set[str], shapes_only: bool) -> dict[str, Any]:
    """The text-tower tensors of a CLIP checkpoint (.safetensors, or .bin read with weights_only) whose names are in
    ``wanted`` ("module." prefixes dropped; the vision tower's are never read), or with ``shapes_only`` their shapes
    (a .safetensors header only)."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        found: dict[str, Any] = {}
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for key in f.keys():
                name = key.removeprefix("module.")
                if name in wanted:
                    found[name] = tuple(f.get_slice(key).get_shape()) if shapes_only else f.get_tensor(key)
        return found
    # mmap: tensors of the vision tower are mapped, never copied into memory
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # legacy (non-zip) files cannot be memory-mapped
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a state-dict checkpoint")
    return {k.removeprefix("module."): (tuple(v.shape) if shapes_only else v) for k, v in state.items()
            if k.removeprefix("module.") in wanted}


def _check_text_tensors(path: Path, model: str, found: dict[str, tuple], wanted: dict[str, tuple]) -> None:
    """Refuse a checkpoint that lacks a text-tower tensor of ``model`` or holds one of another shape."""
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise ValueError(f"{path} is not a {model} CLIP checkpoint: missing text-tower tensors "
                         f"{missing[:5]}{' …' if len(missing) > 5 else ''}")
    wrong = [f"{k} {shape} ≠ {wanted[k]}" for k, shape in found.items() if shape != wanted[k]]
    if wrong:
        raise ValueError(f"{path} does not match the {model} text tower: {'; '.join(wrong[:5])}")
