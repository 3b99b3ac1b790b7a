# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Auxiliary vision encoders fused into Qwen3-VL's image tokens (stage i of the MedMO paper).

A MedMO whose config sets `aux_vision` runs each auxiliary encoder (any transformers ViT-style
vision model: a radiology DINOv2 such as RAD-DINO, a SigLIP-family medical encoder, ...) on the
same images as Qwen3-VL's vision tower and adds its projected features to the merged image tokens:

    image_tokens = merger(ViT(x)) + sum_k P_k(resample(E_k(x)))

Fusing by addition after the merger keeps everything Qwen3-VL-shaped: the number of image tokens,
their M-RoPE positions, `mm_token_type_ids`, the chat template and the processor are unchanged.
An MLP over the concatenated channels `[q; a]` is `W_q q + W_a a`; keeping Qwen's merger as `W_q`
makes this channel concatenation (which Eagle, arXiv 2408.15998, found as good as richer mixes).
`P_k`'s last layer starts at zero (as ControlNet's and Flamingo's added paths), so attaching an
encoder leaves every output unchanged until training moves it.

Pixels come from the processor's own `pixel_values` + `image_grid_thw` (Qwen's patchify is
exactly invertible), so neither the processor nor TRL's trainers need to know the encoder exists.
"""

import inspect

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel


class ZeroInitLinear(nn.Linear):
    """A linear layer that starts at zero: the projector's output layer.

    Its own class, because the MedMO model's `_init_weights` keys the zero init on it: transformers
    5.x marks a module without parameters of its own (the projector) as initialised without calling
    `_init_weights` on it, so only the leaf layer is reliably visited.
    """

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class AuxProjector(nn.Module):
    """LayerNorm -> Linear -> GELU -> Linear (zero-initialised): encoder width -> language-model width.
    The norm puts encoders of different scales on one footing before the MLP."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_features, eps=1e-6)
        self.linear_fc1 = nn.Linear(in_features, out_features)
        self.act_fn = nn.GELU()
        self.linear_fc2 = ZeroInitLinear(out_features, out_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_fc2(self.act_fn(self.linear_fc1(self.norm(features))))


def build_encoder(encoder_settings: dict) -> nn.Module:
    """The transformers model of one `aux_vision` encoder entry, with random weights (the MedMO
    checkpoint holds the trained ones)."""
    config = dict(encoder_settings["config"])
    return AutoModel.from_config(AutoConfig.for_model(config.pop("model_type"), **config))


def unpatchify(pixel_values: torch.Tensor, grid_thw: torch.Tensor, vision_config) -> list[torch.Tensor]:
    """Images back from Qwen's flattened patches: one `(t, channels, height, width)` tensor per image,
    still normalised by the processor. `t` is the number of temporal patches (1 for an image); of the
    `temporal_patch_size` frames in each, the first is kept (an image's copies are identical)."""
    channels, temporal, patch, merge = (vision_config.in_channels, vision_config.temporal_patch_size,
                                        vision_config.patch_size, vision_config.spatial_merge_size)  # fmt: skip
    frames, offset = [], 0
    for t, h, w in grid_thw.tolist():
        rows = pixel_values[offset : offset + t * h * w]
        offset += t * h * w
        # rows are (t, h/merge, w/merge, merge, merge) patches; each row (channels, temporal, patch, patch)
        grid = rows.reshape(t, h // merge, w // merge, merge, merge, channels, temporal, patch, patch)[:, :, :, :, :, :, 0]
        # -> (t, channels, h/merge, merge, patch, w/merge, merge, patch) -> (t, channels, h*patch, w*patch)
        frames.append(grid.permute(0, 5, 1, 3, 6, 2, 4, 7).reshape(t, channels, h * patch, w * patch))
    return frames


class MedMOAuxVision(nn.Module):
    """The auxiliary encoders and their projectors. Called with the inputs of Qwen3-VL's vision tower,
    it returns what to add to each image's merged tokens (one `(tokens, hidden)` tensor per image, in
    the merger's row-major token order)."""

    def __init__(self, settings: dict, vision_config) -> None:
        super().__init__()
        self.settings = settings
        self.vision_config = vision_config
        self.encoders = nn.ModuleList(build_encoder(encoder) for encoder in settings["encoders"])
        self.projectors = nn.ModuleList(
            AuxProjector(encoder.config.hidden_size, vision_config.out_hidden_size) for encoder in self.encoders
        )

    def forward(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> tuple[torch.Tensor, ...]:
        merge = self.vision_config.spatial_merge_size
        token_grids = [(t, h // merge, w // merge) for t, h, w in grid_thw.tolist()]
        frames = unpatchify(pixel_values.float(), grid_thw, self.vision_config)
        mean = torch.tensor(self.settings["processor_image_mean"], device=pixel_values.device)[:, None, None]
        std = torch.tensor(self.settings["processor_image_std"], device=pixel_values.device)[:, None, None]
        frames = [frame * std + mean for frame in frames]  # the processor's pixels, before its normalisation
        total = None
        for encoder, projector, settings in zip(self.encoders, self.projectors, self.settings["encoders"]):
            features = self._encode(encoder, frames, settings)  # (frames, d, g, g)
            per_image, start = [], 0
            for t, h, w in token_grids:
                # the encoder's patch grid resampled onto this image's token grid (same field of view)
                grid = F.interpolate(features[start : start + t], size=(h, w), mode="bilinear", align_corners=False, antialias=True)
                per_image.append(grid.permute(0, 2, 3, 1).reshape(t * h * w, -1))  # row-major, as the merger's tokens
                start += t
            projected = projector(torch.cat(per_image).to(projector.linear_fc1.weight.dtype))
            total = projected if total is None else total + projected
        return torch.split(total, [t * h * w for t, h, w in token_grids])

    @staticmethod
    def _encode(encoder: nn.Module, frames: list[torch.Tensor], settings: dict) -> torch.Tensor:
        """Patch features `(frames, dim, grid, grid)` of the encoder on every frame, resized to its square input."""
        size = settings["image_size"]
        device = frames[0].device
        mean = torch.tensor(settings["image_mean"], device=device)[:, None, None]
        std = torch.tensor(settings["image_std"], device=device)[:, None, None]
        batch = torch.cat([F.interpolate(frame, size=(size, size), mode="bilinear", align_corners=False, antialias=True) for frame in frames])
        batch = ((batch - mean) / std).to(next(encoder.parameters()).dtype)
        layer = settings["feature_layer"]
        options = {"output_hidden_states": layer is not None, "return_dict": True}
        if size != getattr(encoder.config, "image_size", size) and "interpolate_pos_encoding" in inspect.signature(encoder.forward).parameters:
            options["interpolate_pos_encoding"] = True  # SigLIP / CLIP / ViT at another size than they were trained at
        output = encoder(pixel_values=batch, **options)
        hidden = output.last_hidden_state if layer is None else output.hidden_states[layer]
        grid = size // encoder.config.patch_size
        patches = hidden[:, -grid * grid :]  # class and register tokens, where the encoder has them, come first
        return patches.reshape(len(batch), grid, grid, -1).permute(0, 3, 1, 2).float()


__all__ = ["AuxProjector", "MedMOAuxVision", "ZeroInitLinear", "build_encoder", "unpatchify"]
