# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Model set-up for a run: frozen parts, LoRA presets, merging adapters. (Loading a model and
its processor, with the stage's pixel limits, is `medmo.loading`.)"""

import logging

import torch


logger = logging.getLogger(__name__)

# Parts of a Qwen3-VL / MedMO model, by parameter-name prefix.
VISION_TOWER = ("model.visual.patch_embed.", "model.visual.pos_embed.", "model.visual.blocks.")
MERGER = ("model.visual.merger.", "model.visual.deepstack_merger_list.")
LANGUAGE_MODEL = ("model.language_model.", "lm_head.")
# The optional auxiliary vision encoders and their projectors (`MedMOConfig.aux_vision`).
AUX_ENCODER = ("model.aux_vision.encoders.",)
AUX_PROJECTOR = ("model.aux_vision.projectors.",)

# LoRA targets as full-match regexes over module names. A bare "proj" would also hit the Conv3d
# patch embedding, hence the anchored vision pattern.
_LANGUAGE_LINEARS = r"model\.language_model\.layers\.\d+\.(?:self_attn\.(?:q_proj|k_proj|v_proj|o_proj)|mlp\.(?:gate_proj|up_proj|down_proj))"
_VISION_LINEARS = (
    r"model\.visual\.(?:blocks\.\d+\.(?:attn\.(?:qkv|proj)|mlp\.(?:linear_fc1|linear_fc2))"
    r"|merger\.(?:linear_fc1|linear_fc2)|deepstack_merger_list\.\d+\.(?:linear_fc1|linear_fc2))"
)
LORA_PRESETS = {
    "language": _LANGUAGE_LINEARS,
    "language_vision": f"(?:{_LANGUAGE_LINEARS})|(?:{_VISION_LINEARS})",
}


def freeze(model, vision_tower: bool = False, merger: bool = False, language_model: bool = False,
           aux_encoder: bool = False, aux_projector: bool = False) -> dict[str, int]:  # fmt: skip
    """Freeze the chosen parts; returns trainable and frozen parameter counts. `aux_encoder` /
    `aux_projector` need a model with an auxiliary vision encoder (`medmo attach-aux`)."""
    if (aux_encoder or aux_projector) and aux_projector_names(model) == []:
        flag = "freeze_aux_encoder" if aux_encoder else "freeze_aux_projector"
        raise ValueError(f"{flag} is set but the model has no auxiliary vision encoder: attach one with "
                         f"`medmo attach-aux`, or drop {flag} from the recipe.")  # fmt: skip
    prefixes = (VISION_TOWER if vision_tower else ()) + (MERGER if merger else ()) + (LANGUAGE_MODEL if language_model else ())
    prefixes += (AUX_ENCODER if aux_encoder else ()) + (AUX_PROJECTOR if aux_projector else ())
    for name, parameter in model.named_parameters():
        if name.startswith(prefixes):
            parameter.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    if trainable == 0:
        raise ValueError("Every parameter is frozen: unfreeze at least one of vision tower, merger, language model.")
    logger.info("trainable parameters: %s, frozen: %s", f"{trainable:,}", f"{frozen:,}")
    return {"trainable": trainable, "frozen": frozen}


def aux_projector_names(model) -> list[str]:
    """Module names of the auxiliary projectors (`model.aux_vision.projectors.<i>`); empty without an
    auxiliary vision encoder."""
    aux = getattr(getattr(model, "model", None), "aux_vision", None)
    return [f"model.aux_vision.projectors.{index}" for index in range(len(aux.projectors))] if aux is not None else []


def lora_config(preset: str | None, model_args, modules_to_save: list[str] | None = None):
    """A PEFT LoraConfig from a preset name (or from TRL's ModelConfig when `use_peft` is set).

    The presets adapt only the language model and Qwen's vision tower, never auxiliary encoders;
    `modules_to_save` (e.g. `aux_projector_names(model)`) trains those modules in full beside the
    adapters and saves them with it."""
    if preset is None and not getattr(model_args, "use_peft", False):
        return None
    from peft import LoraConfig

    if preset is not None and preset not in LORA_PRESETS:
        raise ValueError(f"Unknown lora_preset {preset!r}; use one of {sorted(LORA_PRESETS)}.")
    if getattr(model_args, "load_in_4bit", False) or getattr(model_args, "load_in_8bit", False):
        if not torch.cuda.is_available():
            raise RuntimeError("QLoRA (load_in_4bit / load_in_8bit) needs a CUDA GPU and bitsandbytes; use plain LoRA on CPU.")
    targets = LORA_PRESETS[preset] if preset else (model_args.lora_target_modules or LORA_PRESETS["language"])
    return LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=targets,
        modules_to_save=modules_to_save or None,
        task_type="CAUSAL_LM",
    )


def merge_adapter(model):
    """The base model with the LoRA weights folded in (a plain MedMO model again)."""
    return model.merge_and_unload()


__all__ = ["LORA_PRESETS", "aux_projector_names", "freeze", "lora_config", "merge_adapter"]
