"""``VLAConfig``: every size and switch of ``VLAModel``, saved as ``config.json``.

The config is a ``transformers.PretrainedConfig`` so a checkpoint folder loads with
``VLAModel.from_pretrained(dir)``. Values are validated in ``__post_init__``-style checks inside
``__init__`` (PretrainedConfig is not a dataclass) with errors that name the fix.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

VISION_BACKBONES: tuple[str, ...] = ("cnn", "siglip")
TEXT_ENCODERS: tuple[str, ...] = ("minilm", "trainable")
DECODE_MODES: tuple[str, ...] = ("parallel", "autoregressive")
MINILM_DIM = 384  # hidden size of all-MiniLM-L6-v2 token states


class VLAConfig(PretrainedConfig):
    """Configuration of ``VLAModel`` (see ``vla/model/vla_model.py`` for the data flow).

    Args:
        image_size: (height, width) the vision tower expects.
        num_cameras: cameras fed per sample (scene, wrist).
        state_dim: proprioceptive state size S.
        action_dim: D; ``chunk_size``: H future actions per prediction.
        action_vocab_size: number of action token ids (bins for the binning tokenizer).
        max_action_tokens: longest action token sequence (H*D for binning; FAST: its max + EOS).
        decode_mode: the action head the model is trained for: ``parallel`` (learned queries,
            one pass, OFT style) or ``autoregressive`` (teacher forcing, KV-cache decoding).
        vision_backbone: ``cnn`` (from scratch) or ``siglip`` (a tiny SigLIP ViT, from scratch).
        cnn_channels: output channels of the strided conv stages (image / 2**len -> grid).
        text_encoder: ``minilm`` (frozen MiniLM token states fed in, projected) or ``trainable``
            (word ids from ``text_vocab_size``-word vocabulary + trainable embeddings).
        max_text_tokens: instruction length limit in tokens (longer -> clear error).
        hidden_size, num_layers, num_heads, intermediate_size: the Llama-style fusion decoder.
        backbone_path: optional local HF folder holding a ``LlamaModel`` config + weights that
            replaces the freshly initialised decoder (its hidden size wins).
        use_state: feed the proprioceptive state as one prefix token (default). ``False``
            removes the state token (and its projection) entirely: the policy must localise
            everything from the cameras; the state passed at inference is ignored. With
            ``True`` the model also holds a learned "no state" embedding that replaces the state
            token for samples dropped by training's ``state_dropout``.
        vision_film: condition the CNN on the instruction (FiLM, as in RT-1): after every conv
            stage, features are scaled and shifted per channel by an MLP of the pooled text
            tokens, so the vision tokens already single out the named objects. ``False`` (the
            default, and every checkpoint saved before it existed) keeps the vision tower
            text-agnostic. CNN only.
            FiLM's input is the mean of the valid text tokens.
    """

    model_type = "vla"

    def __init__(
        self,
        image_size: tuple[int, int] | list[int] = (128, 128),
        num_cameras: int = 2,
        state_dim: int = 15,
        action_dim: int = 7,
        chunk_size: int = 8,
        action_vocab_size: int = 256,
        max_action_tokens: int | None = None,
        decode_mode: str = "parallel",
        vision_backbone: str = "cnn",
        cnn_channels: tuple[int, ...] | list[int] = (32, 64, 128, 256),
        siglip_patch_size: int = 16,
        siglip_layers: int = 4,
        text_encoder: str = "minilm",
        text_dim: int = MINILM_DIM,
        text_vocab_size: int = 0,
        max_text_tokens: int = 32,
        hidden_size: int = 384,
        num_layers: int = 6,
        num_heads: int = 6,
        num_kv_heads: int | None = None,
        intermediate_size: int = 1024,
        rope_theta: float = 10000.0,
        backbone_path: str | None = None,
        backbone_config: dict | None = None,
        use_state: bool = True,
        vision_film: bool = False,
        **kwargs: Any,
    ):
        self.image_size = [int(v) for v in image_size]
        self.num_cameras = int(num_cameras)
        self.state_dim = int(state_dim)
        self.action_dim = int(action_dim)
        self.chunk_size = int(chunk_size)
        self.action_vocab_size = int(action_vocab_size)
        self.max_action_tokens = int(max_action_tokens or chunk_size * action_dim)
        self.decode_mode = decode_mode
        self.vision_backbone = vision_backbone
        self.cnn_channels = [int(c) for c in cnn_channels]
        self.siglip_patch_size = int(siglip_patch_size)
        self.siglip_layers = int(siglip_layers)
        self.text_encoder = text_encoder
        self.text_dim = int(text_dim)
        self.text_vocab_size = int(text_vocab_size)
        self.max_text_tokens = int(max_text_tokens)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.num_kv_heads = int(num_kv_heads or num_heads)
        self.intermediate_size = int(intermediate_size)
        self.rope_theta = float(rope_theta)
        self.backbone_path = backbone_path
        self.backbone_config = backbone_config
        if not isinstance(use_state, bool):
            raise ValueError(f"use_state must be true or false, got {use_state!r}")
        self.use_state = use_state
        if not isinstance(vision_film, bool):
            raise ValueError(f"vision_film must be true or false, got {vision_film!r}")
        self.vision_film = vision_film
        # older config.json files name the FiLM pooling; only the mean is left (the query-pooled
        # variant did not win: benchmarks/RESULTS.md)
        if kwargs.pop("film_pool", "mean") != "mean":
            raise ValueError("film_pool: only 'mean' pooling is supported; retrain without it")
        kwargs.pop("film_queries", None)
        super().__init__(**kwargs)
        self.validate()

    # special ids after the action vocabulary (autoregressive mode): BOS starts, EOS ends
    @property
    def bos_id(self) -> int:
        return self.action_vocab_size

    @property
    def eos_id(self) -> int:
        return self.action_vocab_size + 1

    @property
    def output_vocab_size(self) -> int:
        """Logits per action position: the action bins plus EOS (unused by the binning head)."""
        return self.action_vocab_size + 2

    def validate(self) -> None:
        """Raise ValueError naming the field and the fix."""
        if self.vision_backbone not in VISION_BACKBONES:
            raise ValueError(
                f"vision_backbone={self.vision_backbone!r}: choose one of {VISION_BACKBONES}"
            )
        if self.text_encoder not in TEXT_ENCODERS:
            raise ValueError(f"text_encoder={self.text_encoder!r}: choose one of {TEXT_ENCODERS}")
        if self.decode_mode not in DECODE_MODES:
            raise ValueError(f"decode_mode={self.decode_mode!r}: choose one of {DECODE_MODES}")
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise ValueError(f"image_size must be (height, width) >= 16, got {self.image_size}")
        if self.vision_backbone == "cnn":
            div = 2 ** len(self.cnn_channels)
            if any(s % div for s in self.image_size):
                raise ValueError(
                    f"image_size {self.image_size} must be divisible by 2**len(cnn_channels)="
                    f"{div}: change image_size or the number of cnn_channels"
                )
        else:
            if self.vision_film:
                raise ValueError(
                    "vision_film conditions the CNN's conv stages: use vision_backbone='cnn' "
                    "or set vision_film=false"
                )
            if any(s % self.siglip_patch_size for s in self.image_size):
                raise ValueError(
                    f"image_size {self.image_size} must be divisible by siglip_patch_size="
                    f"{self.siglip_patch_size}"
                )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} must be divisible by num_heads={self.num_heads}"
            )
        if self.text_encoder == "trainable" and self.text_vocab_size < 2:
            raise ValueError(
                "text_encoder='trainable' needs text_vocab_size >= 2: build the vocabulary with "
                "vla.model.text.WordVocab.build(instructions) and pass len(vocab)"
            )
        for name in ("num_cameras", "state_dim", "action_dim", "chunk_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.action_vocab_size < 2:
            raise ValueError(f"action_vocab_size must be >= 2, got {self.action_vocab_size}")

    @property
    def tokens_per_camera(self) -> int:
        """Vision tokens per camera: the CNN grid cells or the ViT patches."""
        h, w = self.image_size
        if self.vision_backbone == "cnn":
            div = 2 ** len(self.cnn_channels)
        else:
            div = self.siglip_patch_size
        return (h // div) * (w // div)
