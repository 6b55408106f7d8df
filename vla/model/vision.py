"""Vision towers: camera images -> a grid of tokens per camera, trained from scratch.

    images (B, N_cam, 3, H, W) float in [0, 1]
      -> shared backbone over B*N_cam images -> (B*N_cam, T_cam, d)
      -> + 2-D position embedding (CNN) / ViT position embedding (SigLIP) + camera embedding
      -> (B, N_cam * T_cam, d)

Backbones (explicit registry ``VISION_TOWERS``):

- ``cnn``: strided conv stages (GroupNorm + GELU), each halving the resolution; 128x128 with 4
  stages -> an 8x8 map -> 64 tokens per camera. With ``vision_film`` every stage's output is
  modulated by the instruction: ``x * (1 + gamma(text)) + beta(text)`` per channel (FiLM,
  Perez et al. 2018; RT-1 conditions its EfficientNet the same way), from one MLP of the
  pooled text tokens whose last layer starts at zero (the tower starts text-agnostic).
- ``siglip``: a tiny ``SiglipVisionModel`` (transformers) built from a small config.
"""

from __future__ import annotations

import torch
from torch import nn

from vla.model.config import VLAConfig


def _groups(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class ConvStage(nn.Module):
    """conv3x3 stride 2 -> GN -> GELU -> conv3x3 -> GN -> GELU (+ residual on the second)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.down = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
            nn.GroupNorm(_groups(c_out), c_out),
            nn.GELU(),
        )
        self.refine = nn.Sequential(
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.GroupNorm(_groups(c_out), c_out),
            nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)  # (B, c_out, H/2, W/2)
        return x + self.refine(x)


class FiLM(nn.Module):
    """Text vector (B, d_in) -> per-stage (gamma, beta) pairs for channel counts ``channels``."""

    def __init__(self, d_in: int, channels: list[int]):
        super().__init__()
        self.channels = list(channels)
        d = min(d_in, 512)
        self.mlp = nn.Sequential(nn.Linear(d_in, d), nn.GELU(), nn.Linear(d, 2 * sum(channels)))
        # the model's weight init zeroes this layer (gamma = beta = 0: FiLM starts as the
        # identity), also when a checkpoint without FiLM weights is loaded into a FiLM config
        self.mlp[-1]._zero_init = True

    def forward(self, cond: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out = self.mlp(cond)  # (B, 2 * sum(C))
        pairs, start = [], 0
        for c in self.channels:
            gamma, beta = out[:, start : start + c], out[:, start + c : start + 2 * c]
            pairs.append((gamma[:, :, None, None], beta[:, :, None, None]))  # (B, C, 1, 1)
            start += 2 * c
        return pairs


class CNNTower(nn.Module):
    """Small strided CNN: (B, 3, H, W) [+ text vector (B, d)] -> (B, (H/2^k) * (W/2^k), d)."""

    def __init__(self, config: VLAConfig):
        super().__init__()
        chans = [3, *config.cnn_channels]
        pairs = zip(chans[:-1], chans[1:], strict=True)
        self.stages = nn.ModuleList([ConvStage(a, b) for a, b in pairs])
        self.film = None
        if config.vision_film:
            self.film = FiLM(config.hidden_size, config.cnn_channels)
        self.proj = nn.Conv2d(chans[-1], config.hidden_size, 1)
        div = 2 ** len(config.cnn_channels)
        self.grid = (config.image_size[0] // div, config.image_size[1] // div)
        # separable learned 2-D position embedding: row + column
        self.row_emb = nn.Parameter(torch.randn(self.grid[0], 1, config.hidden_size) * 0.02)
        self.col_emb = nn.Parameter(torch.randn(1, self.grid[1], config.hidden_size) * 0.02)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if (self.film is None) != (cond is None):
            raise ValueError("a FiLM tower needs the text vector (cond) and a plain one takes none")
        mods = self.film(cond) if self.film is not None else [None] * len(self.stages)
        for stage, mod in zip(self.stages, mods, strict=True):
            x = stage(x)  # (B, C, h, w)
            if mod is not None:
                x = x * (1 + mod[0].to(x.dtype)) + mod[1].to(x.dtype)
        x = self.proj(x)  # (B, d, h, w)
        x = x.flatten(2).transpose(1, 2)  # (B, h*w, d)
        pos = (self.row_emb + self.col_emb).reshape(-1, x.shape[-1])  # (h*w, d)
        return x + pos


class SiglipTower(nn.Module):
    """A tiny SigLIP ViT from transformers, trained from scratch: (B, 3, H, W) -> (B, P, d)."""

    def __init__(self, config: VLAConfig):
        super().__init__()
        from transformers import SiglipVisionConfig, SiglipVisionModel

        h, w = config.image_size
        if h != w:
            raise ValueError(
                f"vision_backbone='siglip' needs square images, got image_size={config.image_size}"
            )
        width = max(64, config.hidden_size // 2)
        vcfg = SiglipVisionConfig(
            hidden_size=width,
            intermediate_size=width * 4,
            num_hidden_layers=config.siglip_layers,
            num_attention_heads=max(1, width // 64),
            image_size=h,
            patch_size=config.siglip_patch_size,
            vision_use_head=False,
        )
        self.vit = SiglipVisionModel(vcfg)
        self.proj = nn.Linear(width, config.hidden_size)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            raise ValueError(
                "the SigLIP tower takes no text conditioning (vision_film is CNN-only)"
            )
        out = self.vit(pixel_values=x).last_hidden_state  # (B, P, width)
        return self.proj(out)  # (B, P, d)


VISION_TOWERS: dict[str, type[nn.Module]] = {"cnn": CNNTower, "siglip": SiglipTower}


class VisionEncoder(nn.Module):
    """All cameras through one shared tower, tagged with a learned camera embedding."""

    def __init__(self, config: VLAConfig):
        super().__init__()
        self.tower = VISION_TOWERS[config.vision_backbone](config)
        self.camera_emb = nn.Parameter(
            torch.randn(config.num_cameras, 1, config.hidden_size) * 0.02
        )
        self.num_cameras = config.num_cameras

    def forward(self, images: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``cond`` (B, d): the pooled instruction, for a FiLM tower (``vision_film``)."""
        b, n, c, h, w = images.shape  # (B, N_cam, 3, H, W) in [0, 1]
        if n != self.num_cameras:
            raise ValueError(f"expected {self.num_cameras} cameras, got {n}")
        x = (images.reshape(b * n, c, h, w) - 0.5) / 0.5  # (B*N, 3, H, W) in [-1, 1]
        if cond is not None:
            cond = cond.repeat_interleave(n, dim=0)  # (B*N, d): each camera of a sample
        tokens = self.tower(x, cond)  # (B*N, T, d)
        tokens = tokens.reshape(b, n, tokens.shape[1], -1) + self.camera_emb  # (B, N, T, d)
        return tokens.reshape(b, n * tokens.shape[2], -1)  # (B, N*T, d)
