# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO's recipe fields beside TRL's configs: data, image resolution, freezing, LoRA, the card
(`MedMOArguments`, every script), and the GRPO rewards (`RewardArguments`, `grpo.py` only).

A recipe YAML mixes these keys with `SFTConfig` / `GRPOConfig` and `ModelConfig` keys; `TrlParser`
splits them. See `training/README.md` for every key with its meaning.
"""

import json
from dataclasses import dataclass, field


@dataclass
class MedMOArguments:
    """Fields of a MedMO recipe that TRL's configs do not have."""

    # Lists and mappings are typed `str` for the command line, where they are given as JSON
    # (`--datasets '[{"path": "train.jsonl"}]'`); in a YAML recipe they are plain YAML.
    datasets: str | None = field(
        default=None,
        metadata={"help": "Training data sets: a list of {path: file.jsonl | name: registry name, split, weight}."},
    )
    eval_datasets: str | None = field(default=None, metadata={"help": "Evaluation data sets, same form."})
    data_dir: str | None = field(default=None, metadata={"help": "Where `medmo data convert` wrote registry data sets."})
    allow_test_splits: bool = field(default=False, metadata={"help": "Allow training on a test split (leakage!)."})
    skip_bad_rows: bool = field(
        default=False, metadata={"help": "Skip and count malformed rows instead of stopping at the first one."}
    )
    min_pixels: int | None = field(default=None, metadata={"help": "Processor's minimum pixels per image."})
    max_pixels: int | None = field(default=None, metadata={"help": "Processor's maximum pixels per image (768*768 in stage 1)."})
    freeze_vision_tower: bool = field(default=False, metadata={"help": "Freeze the ViT blocks and patch embedding."})
    freeze_merger: bool = field(default=False, metadata={"help": "Freeze the merger and DeepStack mergers (projector)."})
    freeze_language_model: bool = field(default=False, metadata={"help": "Freeze the language model and lm_head."})
    freeze_aux_encoder: bool = field(default=False, metadata={"help": "Freeze the auxiliary vision encoders (models made by `medmo attach-aux`)."})
    freeze_aux_projector: bool = field(default=False, metadata={"help": "Freeze the auxiliary encoders' projectors."})
    lora_preset: str | None = field(
        default=None, metadata={"help": "LoRA targets: 'language' or 'language_vision' (sets use_peft)."}
    )
    lora_aux_projector: bool = field(
        default=False,
        metadata={"help": "With LoRA, also train the auxiliary projectors in full (PEFT modules_to_save, saved with the adapter)."},
    )
    merge_adapter: bool = field(default=False, metadata={"help": "After LoRA training, also save the merged model in <output_dir>/merged."})
    base_model_id: str | None = field(default=None, metadata={"help": "Hub id of the base model, for the card."})
    card_notes: str | None = field(default=None, metadata={"help": "Extra text for the model card."})

    def __post_init__(self):
        _parse_json(self, "datasets", "eval_datasets")
        if self.lora_preset is not None and self.lora_preset not in ("language", "language_vision"):
            raise ValueError(f"lora_preset must be 'language' or 'language_vision', got {self.lora_preset!r}.")


@dataclass
class RewardArguments:
    """The GRPO recipe's rewards (TRL's `GRPOConfig` holds their `reward_weights`)."""

    reward_funcs: list[str] | None = field(default=None, metadata={"help": "GRPO rewards by registry name or import path."})
    reward_kwargs: str | None = field(default=None, metadata={"help": "Parameters of parameterised rewards, by name."})

    def __post_init__(self):
        _parse_json(self, "reward_kwargs")


def _parse_json(arguments, *names: str) -> None:
    """Fields typed `str` for the command line, where lists and mappings are given as JSON."""
    for name in names:
        value = getattr(arguments, name)
        if isinstance(value, str):
            try:
                setattr(arguments, name, json.loads(value))
            except json.JSONDecodeError as error:
                raise ValueError(f"--{name} must be JSON on the command line ({error}): {value!r}") from None


__all__ = ["MedMOArguments", "RewardArguments"]
