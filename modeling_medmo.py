# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO models: Qwen3-VL's modules under the MedMO configuration.

Nothing of Qwen3-VL is re-implemented here: these classes only bind the Qwen3-VL modules to
`MedMOConfig`, so published MedMO (Qwen3-VL-format) weights load with identical tensor names
and give bit-identical logits, and every transformers release that improves Qwen3-VL improves
MedMO with it.
"""

from transformers import Qwen3VLForConditionalGeneration, Qwen3VLModel
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLPreTrainedModel

from .configuration_medmo import MedMOConfig


class MedMOPreTrainedModel(Qwen3VLPreTrainedModel):
    config_class = MedMOConfig


class MedMOModel(MedMOPreTrainedModel, Qwen3VLModel):
    """The MedMO backbone (vision tower, merger and language model) without the language-modeling head."""

    config_class = MedMOConfig


class MedMOForConditionalGeneration(MedMOPreTrainedModel, Qwen3VLForConditionalGeneration):
    """MedMO for image(s) + text -> text: VQA, reports and grounding with boxes.

    Example:

    ```python
    >>> from transformers import AutoModelForImageTextToText, AutoProcessor
    >>> model = AutoModelForImageTextToText.from_pretrained("genmilab/MedMO-8B", trust_remote_code=True)
    >>> processor = AutoProcessor.from_pretrained("genmilab/MedMO-8B", trust_remote_code=True)
    ```
    """

    config_class = MedMOConfig


# `save_pretrained` then writes this file and its `auto_map` entry next to the weights.
MedMOModel.register_for_auto_class("AutoModel")
MedMOForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")

__all__ = ["MedMOPreTrainedModel", "MedMOModel", "MedMOForConditionalGeneration"]
