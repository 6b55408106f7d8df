"""VLAModel: images + instruction + state -> discrete action tokens (one file, nanoGPT-readable).

    instruction  (B, L, 384) MiniLM states --Linear--> (B, L, d)   [or word ids --Embedding-->]
    scene, wrist (B, N_cam, 3, H, W) --VisionEncoder--> (B, N_cam*T_cam, d)   e.g. 2*64 tokens
                 [vision_film: every CNN stage FiLM-modulated by the masked mean of the text
                  tokens, so the instruction shapes the vision tokens, not only the fusion]
    state        (B, S) normalised          --Linear--> (B, 1, d)   [absent if not use_state;
                 replaced by a learned "no state" token where ``state_drop`` is True]
    prefix = [vision | text | state]                                   (B, P, d)

    parallel (OFT):   [prefix | q_1 .. q_T]  (T = H*D learned queries)  -> logits at q_i
    autoregressive:   [prefix | BOS a_1 .. a_{T-1}]  (teacher forcing)   -> logits predict a_1..a_T

    attention (prefix-LM): prefix tokens see every valid prefix token; action positions see the
    whole prefix plus (parallel) every query / (autoregressive) the earlier action tokens.
    Fusion: a transformers ``LlamaModel`` fed with ``inputs_embeds`` and a 4-D boolean mask.

Action ids here are tokenizer ids minus the tokenizer's ``offset`` (0 .. vocab-1); BOS and EOS
follow the vocabulary (``config.bos_id`` / ``config.eos_id``).
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import DynamicCache, LlamaConfig, LlamaModel, PreTrainedModel

from vla.model.config import VLAConfig
from vla.model.vision import VisionEncoder

IGNORE = -100


def hl_gauss_targets(target: torch.Tensor, n_bins: int, width: int, sigma: float) -> torch.Tensor:
    """Soft labels over ordinal bins (HL-Gauss, Imani & White 2018; Farebrother et al. 2024):
    the mass a Normal(target + 0.5, sigma) puts in each bin [i, i + 1), renormalised to the
    ``n_bins`` bins. A bin one off then costs less than one far off, which a one-hot
    cross-entropy cannot tell apart. ``target`` (K,) ids; ids >= n_bins (EOS) stay one-hot.
    Returns (K, width) probabilities."""
    edges = torch.arange(n_bins + 1, device=target.device, dtype=torch.float32)
    mu = target.float().clamp(max=n_bins - 1)[:, None] + 0.5
    cdf = torch.special.ndtr((edges[None, :] - mu) / sigma)  # (K, n_bins + 1)
    mass = cdf[:, 1:] - cdf[:, :-1]
    mass = mass / mass.sum(-1, keepdim=True).clamp(min=1e-12)
    out = torch.zeros(len(target), width, device=target.device)
    out[:, :n_bins] = mass
    special = target >= n_bins
    if special.any():
        out[special] = F.one_hot(target[special], width).float()
    return out


@functools.cache
def _cache_kwarg(backbone: type) -> str:
    """The KV-cache argument of ``backbone.forward``: ``cache`` (transformers >= 5.25) or
    ``past_key_values`` (older, and deprecated from 5.25 on)."""
    return (
        "cache" if "cache" in inspect.signature(backbone.forward).parameters else "past_key_values"
    )


def llama_config_from(config: VLAConfig) -> LlamaConfig:
    """The fusion decoder's LlamaConfig (copied from a loaded backbone when there is one)."""
    saved = getattr(config, "backbone_config", None)
    if saved:
        cfg = LlamaConfig(**{k: v for k, v in saved.items() if k not in ("architectures",)})
    else:
        cfg = LlamaConfig(
            vocab_size=1,  # the decoder's own token table is unused: we feed inputs_embeds
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=config.num_kv_heads,
            max_position_embeddings=1024,
            rope_theta=config.rope_theta,
            bos_token_id=None,
            eos_token_id=None,
            pad_token_id=None,
        )
    cfg._attn_implementation = "sdpa"  # the boolean 4-D prefix-LM mask goes straight to SDPA
    return cfg


class VLAModel(PreTrainedModel):
    """Vision-language-action model predicting discrete action tokens (see module docstring)."""

    config_class = VLAConfig
    base_model_prefix = "vla"
    _supports_sdpa = True
    # checkpoints from before state_dropout lack the "no state" embedding (used only in training)
    _keys_to_ignore_on_load_missing = [r"^no_state\.weight$"]

    def __init__(self, config: VLAConfig):
        super().__init__(config)
        d = config.hidden_size
        self.vision = VisionEncoder(config)
        if config.text_encoder == "minilm":
            self.text_proj = nn.Linear(config.text_dim, d)  # frozen MiniLM states -> d
        else:
            self.text_embed = nn.Embedding(config.text_vocab_size, d, padding_idx=0)
        if config.use_state:
            self.state_proj = nn.Linear(config.state_dim, d)
            self.no_state = nn.Embedding(1, d)  # stands in for a dropped state (state_dropout)
        self.backbone = LlamaModel(llama_config_from(config))
        # we always feed inputs_embeds: the decoder's token table is dead weight (frozen, 1 row)
        self.backbone.embed_tokens.weight.requires_grad_(False)
        t = config.max_action_tokens
        if config.decode_mode == "parallel":
            self.action_queries = nn.Parameter(torch.randn(t, d) * 0.02)  # (T, d)
        else:
            self.action_embed = nn.Embedding(config.output_vocab_size, d)  # bins + BOS + EOS
        self.action_head = nn.Linear(d, config.output_vocab_size)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if getattr(module, "_zero_init", False):  # the FiLM output layer (vision.FiLM)
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        else:
            super()._init_weights(module)

    @classmethod
    def from_backbone(cls, config: VLAConfig, backbone_path: str | Path) -> VLAModel:
        """Build a model whose fusion decoder is the ``LlamaModel`` saved in ``backbone_path``.

        The backbone's architecture replaces the decoder fields of ``config`` (stored in
        ``config.backbone_config`` so the checkpoint reloads without the folder).
        """
        path = Path(backbone_path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"backbone_path {path} has no config.json: point it at a local Hugging Face "
                "folder holding a LlamaModel (save_pretrained output)"
            )
        pretrained = LlamaModel.from_pretrained(str(path))
        lcfg = pretrained.config.to_dict()
        config.backbone_config = {k: v for k, v in lcfg.items() if not k.startswith("_")}
        config.backbone_config["vocab_size"] = 1  # its token table is unused (inputs_embeds)
        config.hidden_size = pretrained.config.hidden_size
        config.num_layers = pretrained.config.num_hidden_layers
        config.num_heads = pretrained.config.num_attention_heads
        config.backbone_path = str(path)
        model = cls(config)
        weights = {k: v for k, v in pretrained.state_dict().items() if "embed_tokens" not in k}
        missing, unexpected = model.backbone.load_state_dict(weights, strict=False)
        missing = [k for k in missing if "embed_tokens" not in k]
        if missing or unexpected:
            raise ValueError(
                f"backbone weights mismatch: missing={missing} unexpected={unexpected}"
            )
        return model

    # ---- prefix -----------------------------------------------------------------------------
    def embed_prefix(
        self,
        images: torch.Tensor,
        state: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        state_drop: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prefix tokens (B, P, d) and their validity mask (B, P) bool.

        ``text`` is MiniLM states (B, L, 384) or word ids (B, L), per ``config.text_encoder``.
        ``state_drop`` (B,) bool replaces the state token of those samples by the learned
        "no state" embedding (training's ``state_dropout``). Without ``config.use_state`` there
        is no state token and ``state`` may be None.
        """
        txt, cond = self.embed_text(text, text_mask, images.dtype)
        vis = self.vision(images, cond)  # (B, N_cam*T_cam, d)
        b = vis.shape[0]
        parts = [vis, txt.to(vis.dtype)]
        ones_v = torch.ones(b, vis.shape[1], dtype=torch.bool, device=vis.device)
        masks = [ones_v, text_mask.bool()]
        if self.config.use_state:
            st = self.state_proj(state.to(vis.dtype)).unsqueeze(1)  # (B, 1, d)
            if state_drop is not None:
                blank = self.no_state.weight.to(st.dtype)[None]  # (1, 1, d)
                st = torch.where(state_drop.bool().view(b, 1, 1), blank, st)
            parts.append(st.to(vis.dtype))
            masks.append(torch.ones(b, 1, dtype=torch.bool, device=vis.device))
        elif state_drop is not None and bool(state_drop.any()):
            raise ValueError("state_drop needs a model with use_state=True (it has no state)")
        prefix = torch.cat(parts, dim=1)  # (B, P, d)
        return prefix, torch.cat(masks, dim=1)  # (B, P, d), (B, P)

    def embed_text(
        self, text: torch.Tensor, text_mask: torch.Tensor, dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Text tokens (B, L, d) and, with ``vision_film``, the vision tower's conditioning
        vector, the mean of the valid tokens (B, d); else None."""
        if self.config.text_encoder == "minilm":
            txt = self.text_proj(text.to(dtype))  # (B, L, d)
        else:
            txt = self.text_embed(text)  # (B, L, d)
        if not self.config.vision_film:
            return txt, None
        w = text_mask.to(txt.dtype).unsqueeze(-1)  # (B, L, 1)
        return txt, (txt * w).sum(1) / w.sum(1).clamp(min=1.0)  # (B, d) mean of valid tokens

    @staticmethod
    def prefix_lm_mask(valid: torch.Tensor, prefix_len: int, causal_suffix: bool) -> torch.Tensor:
        """Boolean attention mask (B, 1, Q, K): True where query q may attend to key k."""
        n = valid.shape[1]
        q = torch.arange(n, device=valid.device)[:, None]  # (Q, 1)
        k = torch.arange(n, device=valid.device)[None, :]  # (1, K)
        in_prefix = k < prefix_len
        suffix_q = q >= prefix_len
        allowed = in_prefix | (suffix_q & ((k <= q) if causal_suffix else True))  # (Q, K)
        return (allowed[None] & valid[:, None, :]).unsqueeze(1)  # (B, 1, Q, K)

    @staticmethod
    def positions(valid: torch.Tensor) -> torch.Tensor:
        """Position ids (B, N) counting valid tokens only, so text padding never shifts the
        RoPE positions of later tokens (a batch padded to a longer instruction gives the same
        result as the instruction alone)."""
        return (valid.long().cumsum(1) - 1).clamp(min=0)

    # ---- training forward -------------------------------------------------------------------
    def forward(
        self,
        images: torch.Tensor,
        state: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        action_tokens: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
        state_drop: torch.Tensor | None = None,
        label_sigma: float = 0.0,
    ) -> dict[str, torch.Tensor]:
        """Logits over the action vocabulary at every action position (+ loss with targets).

        Args:
            action_tokens: (B, T) target ids in [0, vocab) (+ EOS); needed for autoregressive.
            action_mask: (B, T) bool, False where the loss must ignore a target (padding).
            state_drop: (B,) bool, samples whose state token is the learned "no state" one.
            label_sigma: > 0: the loss is against HL-Gauss soft labels of that width in bins
                (:func:`hl_gauss_targets`; ordinal bin tokens only); accuracy stays exact-match.
        Returns:
            ``{"logits": (B, T, V), "loss": scalar, "accuracy": scalar}`` (loss/accuracy only
            with targets).
        """
        prefix, valid = self.embed_prefix(images, state, text, text_mask, state_drop)
        b, p, _ = prefix.shape  # (B, P, d), valid (B, P)
        t = self.config.max_action_tokens
        if self.config.decode_mode == "parallel":
            suffix = self.action_queries.to(prefix.dtype).expand(b, -1, -1)  # (B, T, d)
        else:
            if action_tokens is None:
                raise ValueError("autoregressive training needs action_tokens (teacher forcing)")
            bos = torch.full((b, 1), self.config.bos_id, device=prefix.device)
            shifted = torch.cat([bos, action_tokens[:, :-1].clamp(min=0)], dim=1)  # (B, T)
            suffix = self.action_embed(shifted).to(prefix.dtype)  # (B, T, d)
        x = torch.cat([prefix, suffix], dim=1)  # (B, P+T, d)
        valid = torch.cat([valid, torch.ones(b, t, dtype=torch.bool, device=x.device)], dim=1)
        mask = self.prefix_lm_mask(valid, p, self.config.decode_mode == "autoregressive")
        h = self.backbone(
            inputs_embeds=x, attention_mask=mask, position_ids=self.positions(valid),
            use_cache=False,
        ).last_hidden_state  # fmt: skip
        logits = self.action_head(h[:, p:])  # (B, T, V+2)
        if self.config.decode_mode == "parallel":
            logits = logits[..., : self.config.action_vocab_size]  # bins only
        out = {"logits": logits}
        if action_tokens is not None:
            target = action_tokens.clone()
            if action_mask is not None:
                target[~action_mask.bool()] = IGNORE
            flat, flat_t = logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1)
            kept = flat_t != IGNORE
            if label_sigma > 0:
                soft = hl_gauss_targets(flat_t[kept], self.config.action_vocab_size,
                                        flat.shape[-1], label_sigma)  # fmt: skip
                per_token = -(soft * F.log_softmax(flat[kept], dim=-1)).sum(-1)
            else:
                per_token = F.cross_entropy(flat[kept], flat_t[kept], reduction="none")
            out["loss"] = per_token.mean()
            keep = kept.view(target.shape)
            correct = (logits.argmax(-1) == target) & keep
            out["accuracy"] = correct.sum() / keep.sum().clamp(min=1)
        return out

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def predict_tokens(
        self,
        images: torch.Tensor,
        state: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        decode: str | None = None,
        allow_eos: bool = False,
    ) -> torch.Tensor:
        """Greedy action ids (B, T); autoregressive fills positions after EOS with EOS."""
        decode = decode or self.config.decode_mode
        if decode != self.config.decode_mode:
            raise ValueError(
                f"this model was trained with decode_mode={self.config.decode_mode!r}; it cannot "
                f"decode {decode!r} (load the policy with decode={self.config.decode_mode!r})"
            )
        if decode == "parallel":
            return self.forward(images, state, text, text_mask)["logits"].argmax(-1)
        return self._decode_autoregressive(images, state, text, text_mask, allow_eos)

    def _decode_autoregressive(self, images, state, text, text_mask, allow_eos: bool):
        cfg = self.config
        prefix, valid = self.embed_prefix(images, state, text, text_mask)  # (B, P, d)
        b, p, _ = prefix.shape
        bos = self.action_embed(torch.full((b, 1), cfg.bos_id, device=prefix.device))
        x = torch.cat([prefix, bos.to(prefix.dtype)], dim=1)  # (B, P+1, d)
        valid = torch.cat([valid, torch.ones(b, 1, dtype=torch.bool, device=x.device)], dim=1)
        mask = self.prefix_lm_mask(valid, p, causal_suffix=True)
        cache = DynamicCache(config=self.backbone.config)
        pos = self.positions(valid)  # (B, P+1)
        # transformers 5.25 renamed the forward's past_key_values to cache (the old name goes in
        # 5.40); the DynamicCache fills in place, so every step passes the same object
        kv = {_cache_kwarg(type(self.backbone)): cache, "use_cache": True}
        out = self.backbone(inputs_embeds=x, attention_mask=mask, position_ids=pos, **kv)
        next_pos = pos[:, -1:]  # (B, 1)
        # constrain decoding to the action vocabulary (+ EOS for variable-length tokenizers)
        allowed = torch.zeros(cfg.output_vocab_size, dtype=torch.bool, device=x.device)
        allowed[: cfg.action_vocab_size] = True
        allowed[cfg.eos_id] = allow_eos
        ids = torch.full((b, cfg.max_action_tokens), cfg.eos_id, device=x.device)
        done = torch.zeros(b, dtype=torch.bool, device=x.device)
        h = out.last_hidden_state[:, -1]  # (B, d)
        for i in range(cfg.max_action_tokens):
            logits = self.action_head(h).float().masked_fill(~allowed, float("-inf"))  # (B, V+2)
            nxt = torch.where(done, cfg.eos_id, logits.argmax(-1))  # (B,)
            ids[:, i] = nxt
            done |= nxt == cfg.eos_id
            if bool(done.all()) or i == cfg.max_action_tokens - 1:
                break
            valid = torch.cat([valid, torch.ones(b, 1, dtype=torch.bool, device=x.device)], 1)
            step_mask = valid[:, None, None, :]  # (B, 1, 1, K): the new token sees everything
            emb = self.action_embed(nxt[:, None]).to(prefix.dtype)  # (B, 1, d)
            next_pos = next_pos + 1
            out = self.backbone(inputs_embeds=emb, attention_mask=step_mask, position_ids=next_pos,
                                **kv)  # fmt: skip
            h = out.last_hidden_state[:, -1]
        return ids

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
